import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'
import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEmailTransport } from '../../src/adapters/transports/email/index.js'
import { createWebhookTransport, type HostResolver } from '../../src/adapters/transports/webhook/index.js'
import { parseMail } from './smtp-support.js'
import { deliverVia, LOOPBACK, testChannel, testMessage } from './support.js'
import { selfSignedLocalhost } from './tls-support.js'

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
const { key, cert } = selfSignedLocalhost()
// The table pins localhost to 127.0.0.1 without asking any resolver.
const resolve: HostResolver = async (h) => (h === 'localhost' ? [{ address: '127.0.0.1', family: 4 }] : [])

describe('https webhook: dialled by the checked IP, verified by the host name', () => {
  let server: Server
  let port: number
  const bodies: { body: Buffer; headers: Record<string, string | string[] | undefined> }[] = []
  beforeAll(async () => {
    server = createServer({ key, cert }, (req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        bodies.push({ body: Buffer.concat(chunks), headers: req.headers })
        res.writeHead(200).end()
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
    port = (server.address() as AddressInfo).port
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise<void>((r) => server.close(() => r()))
  })

  it('delivers over TLS with the certificate checked against the URL host, not the IP', async () => {
    const transport = createWebhookTransport({ ssrf: { ...LOOPBACK, resolve }, tls: { ca: cert } })
    const ch = testChannel('webhook', { url: `https://localhost:${port}/tls`, secrets: [SECRET] })
    const msg = testMessage(ch)
    expect(await deliverVia(transport, msg, ch)).toEqual({ status: 'delivered' })
    const got = bodies[bodies.length - 1]!
    expect(
      new Webhook(SECRET).verify(got.body, {
        'webhook-id': String(got.headers['webhook-id']),
        'webhook-timestamp': String(got.headers['webhook-timestamp']),
        'webhook-signature': String(got.headers['webhook-signature']),
      }),
    ).toEqual(msg.payload)
  })

  it('refuses an untrusted certificate, and one that does not name the host, without sending', async () => {
    const before = bodies.length
    const untrusted = createWebhookTransport({ ssrf: { ...LOOPBACK, resolve } })
    const ch = testChannel('webhook', { url: `https://localhost:${port}/tls`, secrets: [SECRET] })
    const msg = testMessage(ch)
    expect(await deliverVia(untrusted, msg, ch)).toMatchObject({ status: 'retryable' })
    // By IP the certificate (for localhost only) does not match.
    const byIp = createWebhookTransport({ ssrf: LOOPBACK, tls: { ca: cert } })
    const ipChannel = testChannel('webhook', { url: `https://127.0.0.1:${port}/tls`, secrets: [SECRET] })
    const outcome = await deliverVia(byIp, msg, ipChannel)
    expect(outcome).toMatchObject({ status: 'retryable', code: 'ERR_TLS_CERT_ALTNAME_INVALID' })
    expect(bodies.length).toBe(before)
  })
})

describe('email over STARTTLS to a channel relay pinned by the guard', () => {
  let smtp: SMTPServer
  let port: number
  const raws: string[] = []
  beforeAll(async () => {
    smtp = new SMTPServer({
      key,
      cert,
      logger: false,
      authOptional: true,
      onData(stream, _session, cb) {
        const chunks: Buffer[] = []
        stream.on('data', (c: Buffer) => chunks.push(c))
        stream.on('end', () => {
          raws.push(Buffer.concat(chunks).toString())
          cb()
        })
      },
    })
    await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', () => r()))
    port = (smtp.server.address() as AddressInfo).port
  })
  afterAll(async () => {
    await new Promise<void>((r) => smtp.close(() => r()))
  })

  it('upgrades with the relay name as TLS server name while dialling the checked address', async () => {
    const transport = createEmailTransport({ ssrf: { ...LOOPBACK, resolve }, tls: { ca: cert } })
    const ch = testChannel('email', {
      from: 'alerts@acme.test',
      smtp: { host: 'localhost', port, requireTls: true },
    })
    const msg = testMessage(ch, {
      recipients: ['ada@example.org'],
      payload: { subject: 'Over TLS', text: 'sealed in transit' },
    })
    expect(await deliverVia(transport, msg, ch)).toMatchObject({ status: 'delivered' })
    expect(parseMail(raws[raws.length - 1]!).text).toBe('sealed in transit')
  })

  it('does not send when the relay certificate is not trusted', async () => {
    const before = raws.length
    const transport = createEmailTransport({ ssrf: { ...LOOPBACK, resolve } })
    const ch = testChannel('email', {
      from: 'alerts@acme.test',
      smtp: { host: 'localhost', port, requireTls: true },
    })
    const msg = testMessage(ch, { recipients: ['ada@example.org'], payload: { subject: 's', text: 't' } })
    expect(await deliverVia(transport, msg, ch)).toMatchObject({ status: 'retryable' })
    expect(raws.length).toBe(before)
  })
})
