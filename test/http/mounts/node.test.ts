import { createServer, request, type Server } from 'node:http'
import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNodeListener } from '../../../src/http/mounts/node.js'
import { BASE, fixture } from '../support.js'
import { describeMount, originOf } from './mount-cases.js'

describeMount('Node (createNodeListener)', async (_f, handler) => {
  const listener = createNodeListener(handler)
  const server = createServer((req, res) => {
    if (req.url === '/host/ping')
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"pong":true}')
    else listener(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  return {
    origin: originOf(server.address()),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
})

/** One raw HTTP/1.1 exchange: the status line and headers as sent, and the rest (the body as framed). */
function exchange(port: number, head: string, body: string): Promise<{ head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(`${head}\r\n\r\n${body}`))
    let text = ''
    socket.setEncoding('utf8')
    socket.on('data', (d) => {
      text += d
    })
    socket.on('error', reject)
    socket.on('close', () => {
      const at = text.indexOf('\r\n\r\n')
      resolve({ head: text.slice(0, at), body: text.slice(at + 4) })
    })
  })
}

describe('createNodeListener: the body cap and clients that go away', () => {
  const f = fixture({ maxBodyBytes: 1024 })
  const errors: unknown[] = []
  let server: Server
  let port: number
  let channelId: string
  const enqueue = (text: string) =>
    JSON.stringify({ infrastructureId: f.infraA, channelId, payload: { text } })
  const post = (headers: Record<string, string>) =>
    `POST ${BASE}/queue HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer tok-memberA\r\n` +
    `Content-Type: application/json\r\nConnection: close\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}`)
      .join('\r\n')}`

  beforeAll(async () => {
    server = createServer(createNodeListener(f.handler, { onError: (e) => errors.push(e) }))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
    port = (server.address() as { port: number }).port
    channelId = (await f.seed()).channelId
  })
  afterAll(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )

  it('caps a chunked body of unknown length, and one declared over the cap', async () => {
    const big = enqueue('x'.repeat(2000))
    const chunked = `${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`
    const r1 = await exchange(port, post({ 'Transfer-Encoding': 'chunked' }), chunked)
    expect(r1.head).toMatch(/^HTTP\/1.1 413 /)
    const huge = enqueue('y'.repeat(100_000))
    const r2 = await exchange(port, post({ 'Content-Length': String(huge.length) }), huge)
    expect(r2.head).toMatch(/^HTTP\/1.1 413 /)
  })

  it('lets a client that goes away mid-body go, without an error, and serves the next one', async () => {
    const before = await f.snapshot()
    await new Promise<void>((resolve) => {
      const req = request({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: `${BASE}/queue`,
        headers: { 'content-length': '500', authorization: 'Bearer tok-memberA' },
      })
      req.on('error', () => resolve())
      req.write('{"infrastructureId":')
      setImmediate(() => {
        req.destroy()
        resolve()
      })
    })
    const body = enqueue('after')
    const r = await exchange(port, post({ 'Content-Length': String(Buffer.byteLength(body)) }), body)
    expect(r.head).toMatch(/^HTTP\/1.1 201 /)
    expect((await f.snapshot()).messages).toBe(before.messages + 1)
    expect(errors).toEqual([])
  })
})
