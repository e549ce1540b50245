import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type Channel, type OutboxMessage, TenantScope } from '../../src/index.js'
import type { DeliveryContext } from '../../src/ports/transport.js'
import { channel, message, uuid } from '../support/fixtures.js'

export interface ReceivedRequest {
  readonly method: string
  readonly url: string
  readonly headers: IncomingMessage['headers']
  readonly body: Buffer
  readonly localAddress: string
}

export type Handler = (req: ReceivedRequest, res: ServerResponse) => void

/** A real HTTP server on a loopback address that records every request it gets. */
export interface LoopbackServer {
  readonly port: number
  readonly host: string
  readonly url: string
  readonly received: ReceivedRequest[]
  handle(handler: Handler): void
  close(): Promise<void>
}

export async function startHttpServer(host = '127.0.0.1', handler?: Handler): Promise<LoopbackServer> {
  let current: Handler = handler ?? ((_req, res) => res.writeHead(204).end())
  const received: ReceivedRequest[] = []
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const r: ReceivedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
        localAddress: req.socket.localAddress ?? '',
      }
      received.push(r)
      current(r, res)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, host, resolve))
  const { port } = server.address() as AddressInfo
  return {
    port,
    host,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    received,
    handle(h) {
      current = h
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

export function testChannel(
  type: string,
  config: Record<string, unknown>,
  over: Partial<Channel> = {},
): Channel {
  return channel(uuid(), { type, config, ...over })
}

export function testMessage(ch: Channel, over: Partial<OutboxMessage> = {}): OutboxMessage {
  return message(ch.infrastructureId, ch.id, over)
}

export function ctx(msg: OutboxMessage, signal: AbortSignal = new AbortController().signal): DeliveryContext {
  return {
    idempotencyKey: msg.id,
    attempt: 1,
    signal,
    scope: TenantScope.of({
      userId: uuid(),
      role: 'service',
      grants: [{ infrastructureId: msg.infrastructureId, businessId: null }],
    }),
  }
}

/** Loopback, allowed explicitly: without this the guard refuses every test server. */
export const LOOPBACK = { allowedRanges: ['127.0.0.0/8', '::1/128'] }
