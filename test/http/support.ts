import { randomUUID } from 'node:crypto'
import type { Server } from 'node:http'
import { afterAll, beforeAll } from 'vitest'
import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { createFetchHandler, type FetchHandler, type FetchHandlerOptions } from '../../src/http/index.js'
import {
  createMessaging,
  type Messaging,
  type MessagingOptions,
  type Principal,
  type Role,
} from '../../src/index.js'

export const BASE = '/functions/v1/messaging'

/** Two tenants, one principal of each kind, and the bearer tokens a host would map to them. */
export function world() {
  const infraA = randomUUID()
  const infraB = randomUUID()
  const bizA = randomUUID()
  const p = (role: Role, infrastructureId: string, businessId: string | null = null): Principal => ({
    userId: randomUUID(),
    role,
    grants: [{ infrastructureId, businessId }],
  })
  const principals = {
    adminA: p('infra_admin', infraA),
    memberA: p('member', infraA),
    bizMemberA: p('member', infraA, bizA),
    serviceA: p('service', infraA),
    adminB: p('infra_admin', infraB),
  }
  const tokens = new Map<string, Principal>(Object.entries(principals).map(([k, v]) => [`tok-${k}`, v]))
  return { infraA, infraB, bizA, principals, tokens }
}
export type World = ReturnType<typeof world>

/**
 * The host's authentication: a bearer token looked up in a map. `tok-throws` makes the hook
 * throw, `tok-malformed` return a principal that breaks the schema.
 */
export function bearerAuth(tokens: ReadonlyMap<string, Principal>): FetchHandlerOptions['authenticate'] {
  return (request) => {
    const h = request.headers.get('authorization') ?? ''
    const token = h.startsWith('Bearer ') ? h.slice(7) : ''
    if (token === 'tok-throws') throw new Error('session store down: postgres://user:hunter2@db')
    if (token === 'tok-malformed') return { userId: 'not-a-uuid', role: 'member', grants: [] } as Principal
    return tokens.get(token) ?? null
  }
}

export interface Fixture extends World {
  messaging: Messaging
  handler: FetchHandler
  errors: unknown[]
  /** A JSON request to the handler with the token of `who` (none when null). */
  call(
    method: string,
    path: string,
    opts?: {
      who?: keyof World['principals'] | null
      body?: unknown
      raw?: BodyInit
      headers?: Record<string, string>
    },
  ): Promise<Response>
  /** Everything tenant A holds, read through the facade as its admin. */
  /** Tenant A's rows, and the refusals counted in the security log (outside their callers' scope). */
  snapshot(): Promise<{
    channels: number
    messages: number
    memberships: number
    audit: number
    refusalsElsewhere: number
  }>
  /** A channel of tenant A (key `ops`, in_app) with the member A as a member. */
  seed(): Promise<{ channelId: string }>
}

export function fixture(
  options: Partial<FetchHandlerOptions> = {},
  messagingOptions: MessagingOptions = {},
): Fixture {
  const w = world()
  const messaging = createMessaging({ storage: createMemoryStorage(), ...messagingOptions })
  const errors: unknown[] = []
  const handler = createFetchHandler({
    messaging,
    authenticate: bearerAuth(w.tokens),
    onError: (e) => errors.push(e),
    ...options,
  })
  const call: Fixture['call'] = (method, path, opts = {}) => {
    const who = opts.who === undefined ? 'adminA' : opts.who
    const headers: Record<string, string> = { ...(who && { authorization: `Bearer tok-${who}` }) }
    let body: BodyInit | undefined = opts.raw
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(opts.body)
    }
    return handler(
      new Request(`http://host.test${BASE}${path}`, {
        method,
        headers: { ...headers, ...opts.headers },
        body,
      }),
    )
  }
  const admin = w.principals.adminA
  const snapshot: Fixture['snapshot'] = async () => ({
    channels: (await messaging.listChannels(admin, { infrastructureId: w.infraA })).length,
    messages: (await messaging.listMessages(admin, { infrastructureId: w.infraA, limit: 1000 })).length,
    memberships: (await messaging.listMemberships(admin, { infrastructureId: w.infraA })).length,
    audit: (await messaging.listAudit(admin, { infrastructureId: w.infraA, limit: 1000 })).length,
    refusalsElsewhere: (await messaging.listSecurityEvents({ limit: 1000 })).reduce(
      (n, e) => n + e.refusals,
      0,
    ),
  })
  const seed: Fixture['seed'] = async () => {
    const c = await messaging.createChannel(admin, {
      infrastructureId: w.infraA,
      channelKey: 'ops',
      type: 'in_app',
    })
    await messaging.addMember(admin, {
      infrastructureId: w.infraA,
      channelId: c.id,
      userId: w.principals.memberA.userId,
    })
    return { channelId: c.id }
  }
  return { ...w, messaging, handler, errors, call, snapshot, seed }
}

/** The problem document of a response, after checking it is one. */
export async function problem(res: Response): Promise<Record<string, unknown>> {
  const ct = res.headers.get('content-type')
  if (ct !== 'application/problem+json') throw new Error(`expected a problem, got ${res.status} ${ct}`)
  return (await res.json()) as Record<string, unknown>
}

/**
 * Serves `handler` on 127.0.0.1 for the enclosing describe block (a real server, a real
 * socket) and returns a getter for its base URL, valid from the first test on.
 */
export function serveOnLoopback(handler: (request: Request) => Promise<Response>): () => string {
  let server: Server | undefined
  let baseUrl = ''
  beforeAll(async () => {
    const { serve } = await import('@hono/node-server')
    server = await new Promise<Server>((resolve) => {
      const s = serve({ fetch: handler, port: 0, hostname: '127.0.0.1' }, () => resolve(s as Server))
    })
    const addr = server.address()
    if (addr === null || typeof addr === 'string') throw new Error('no port')
    baseUrl = `http://127.0.0.1:${addr.port}${BASE}`
  })
  afterAll(
    () =>
      new Promise<void>((resolve) => {
        server?.closeAllConnections()
        server ? server.close(() => resolve()) : resolve()
      }),
  )
  return () => baseUrl
}
