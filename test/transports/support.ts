import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { openChannel } from '../../src/application/channel-opener.js'
import { ChannelTypeRegistry } from '../../src/domain/channel.js'
import type { Redactor } from '../../src/domain/redaction.js'
import { type Channel, type OutboxMessage, TenantScope } from '../../src/index.js'
import { type ChannelSecrets, plaintextSecrets } from '../../src/ports/channel-secrets.js'
import type {
  DeliveryChannel,
  DeliveryContext,
  DeliveryOutcome,
  Transport,
} from '../../src/ports/transport.js'
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

export function ctx(
  msg: OutboxMessage,
  signal: AbortSignal = new AbortController().signal,
  redact: Redactor = (t) => t,
): DeliveryContext {
  return {
    idempotencyKey: msg.id,
    attempt: 1,
    signal,
    scope: TenantScope.of({
      userId: uuid(),
      role: 'service',
      grants: [{ infrastructureId: msg.infrastructureId, businessId: null }],
    }),
    redact,
  }
}

/**
 * A channel as the worker hands it to a transport: opened and parsed by the module's one
 * opener (secrets through `secrets`, plaintext by default), with its redactor. Throws when
 * the channel would not be delivered at all (its config does not parse, its secrets do not open).
 */
export function opened(
  transport: Transport<never>,
  ch: Channel,
  secrets: ChannelSecrets = plaintextSecrets,
): { channel: Channel; redact: Redactor } {
  const channelTypes = new ChannelTypeRegistry([transport.channelType])
  const lookup = openChannel({ channelTypes, secrets }, ch)
  if (lookup.status !== 'ready') throw new Error(`channel not deliverable: ${JSON.stringify(lookup)}`)
  return { channel: lookup.channel, redact: lookup.redact }
}

/** Sends one message through `transport` as the worker would (see `opened`). */
export function deliverVia<C>(
  transport: Transport<C>,
  msg: OutboxMessage,
  ch: Channel,
  options: { signal?: AbortSignal; secrets?: ChannelSecrets; context?: Partial<DeliveryContext> } = {},
): Promise<DeliveryOutcome> {
  const { channel: config, redact } = opened(transport as Transport<never>, ch, options.secrets)
  return transport.send(msg, config as unknown as DeliveryChannel<C>, {
    ...ctx(msg, options.signal, redact),
    ...options.context,
  })
}

/** Loopback, allowed explicitly: without this the guard refuses every test server. */
export const LOOPBACK = { allowedRanges: ['127.0.0.0/8', '::1/128'] }
