import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { verifyStandardWebhook } from './webhook-verify.js'

export { type SmtpSink, startSmtpSink } from './smtp-sink.js'

/**
 * Loopback stand-ins for the outside world the demo delivers to: a webhook receiver that
 * verifies Standard Webhooks signatures, an SMTP server (smtp-sink.ts), and a JSON SMS
 * provider. Each listens on 127.0.0.1 on a free port and counts what it accepts. They use
 * Node alone, so the demo runs from an installed package.
 */

const MAX_BODY = 1024 * 1024

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > MAX_BODY) req.destroy(new Error('body too large'))
      else chunks.push(c)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const closeHttp = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  })

export interface WebhookReceiver {
  readonly url: string
  /** Deliveries whose signature verified, by webhook-id (the outbox message id), per endpoint. */
  readonly accepted: Map<string, string>
  /** Requests whose signature did not verify. */
  forged: number
  /** Verified repeats of an id already accepted (retries after a lost answer). */
  duplicates: number
  /** Verified attempts answered 503 while an endpoint was down. */
  refusedWhileDown: number
  /** Endpoints answering 503 to verified deliveries. */
  readonly down: Set<string>
  close(): Promise<void>
}

/** POST /hooks/<endpoint>: verified against that endpoint's secret, 204; 401 when forged. */
export async function startWebhookReceiver(secrets: ReadonlyMap<string, string>): Promise<WebhookReceiver> {
  const state = {
    accepted: new Map<string, string>(),
    forged: 0,
    duplicates: 0,
    refusedWhileDown: 0,
    down: new Set<string>(),
  }
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const endpoint = /^\/hooks\/([\w-]+)$/.exec(req.url ?? '')?.[1]
    const secret = endpoint ? secrets.get(endpoint) : undefined
    if (req.method !== 'POST' || !endpoint || !secret) {
      res.writeHead(404).end()
      return
    }
    const body = await readBody(req)
    const headers: Record<string, string> = {}
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
      const v = req.headers[name]
      if (typeof v === 'string') headers[name] = v
    }
    if (!verifyStandardWebhook(secret, body, headers)) {
      state.forged++
      res.writeHead(401).end()
      return
    }
    if (state.down.has(endpoint)) {
      state.refusedWhileDown++
      res.writeHead(503, { 'content-type': 'text/plain' }).end('partner maintenance')
      return
    }
    const id = headers['webhook-id']!
    if (state.accepted.has(id)) state.duplicates++
    else state.accepted.set(id, endpoint)
    res.writeHead(204).end()
  })
  const url = await listen(server)
  return Object.assign(state, { url, close: () => closeHttp(server) }) as WebhookReceiver
}

export interface SmsProvider {
  readonly url: string
  /** Accepted texts by idempotency key (`<message id>:<number>`). */
  readonly accepted: Map<string, { to: string; text: string; tenant: string }>
  /** Attempts refused: a wrong key, or a number the carrier cannot reach. */
  unauthorised: number
  unreachable: number
  close(): Promise<void>
}

/**
 * POST /v1/messages `{ from, to, text, reference }` with the tenant's key in `x-api-key`:
 * 201 `{ id }`; 503 for `unreachable` numbers (the carrier never answers), 401 for a bad key.
 */
export async function startSmsProvider(
  keys: ReadonlyMap<string, string>,
  unreachable: ReadonlySet<string>,
): Promise<SmsProvider> {
  const tenantOfKey = new Map([...keys].map(([tenant, key]) => [key, tenant]))
  const state = {
    accepted: new Map<string, { to: string; text: string; tenant: string }>(),
    unauthorised: 0,
    unreachable: 0,
  }
  const server = createServer(async (req, res) => {
    if (req.method !== 'POST' || req.url !== '/v1/messages') {
      res.writeHead(404).end()
      return
    }
    const body = await readBody(req)
    const key = req.headers['x-api-key']
    const tenant = typeof key === 'string' ? tenantOfKey.get(key) : undefined
    if (!tenant) {
      state.unauthorised++
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"bad key"}')
      return
    }
    let sms: { to?: string; text?: string }
    try {
      sms = JSON.parse(body) as { to?: string; text?: string }
    } catch {
      res.writeHead(400).end()
      return
    }
    if (!sms.to || unreachable.has(sms.to)) {
      state.unreachable++
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"carrier timeout"}')
      return
    }
    const idem = String(req.headers['idempotency-key'] ?? `${state.accepted.size}`)
    state.accepted.set(idem, { to: sms.to, text: sms.text ?? '', tenant })
    res
      .writeHead(201, { 'content-type': 'application/json' })
      .end(JSON.stringify({ id: `sms_${state.accepted.size}` }))
  })
  const url = await listen(server)
  return Object.assign(state, { url, close: () => closeHttp(server) }) as SmsProvider
}
