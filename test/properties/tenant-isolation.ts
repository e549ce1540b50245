import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  canTransition,
  createMessaging,
  type DeliveryStatus,
  type JsonValue,
  type Messaging,
  type MessagingStorage,
  type Principal,
  type Role,
} from '../../src/index.js'
import { ManualClock, uuid } from '../support/fixtures.js'
import type { StoreClock } from '../support/store-clock.js'

/**
 * Model-based tests of tenant isolation: random sequences of calls by random principals
 * against the real facade over a real store, each checked against a model that knows what
 * every principal may see. Runs come from PROPERTY_RUNS (default per adapter).
 */
export type StorageFactory = () =>
  | Promise<{ storage: MessagingStorage; clock: StoreClock }>
  | { storage: MessagingStorage; clock: StoreClock }

const LEASE_MS = 1000
const MAX_ATTEMPTS = 2

/** Who calls: role plus grants over two infrastructures (0, 1) with two businesses each (0, 1). */
type GrantSpec = [infra: number, business: number | null]
const ARCHETYPES: ReadonlyArray<{ role: Role; grants: GrantSpec[] }> = [
  { role: 'service', grants: [[0, null]] },
  { role: 'service', grants: [[0, 0]] },
  {
    role: 'service',
    grants: [
      [0, null],
      [1, null],
    ],
  },
  { role: 'member', grants: [[1, null]] },
  {
    role: 'member',
    grants: [
      [0, 1],
      [1, 0],
    ],
  },
  { role: 'infra_admin', grants: [[0, null]] },
  { role: 'infra_admin', grants: [[1, 1]] },
  { role: 'member', grants: [] },
  { role: 'service', grants: [[1, 1]] },
]

interface World {
  infra: [string, string]
  biz: [[string, string], [string, string]]
  principals: Principal[]
}

interface ModelMessage {
  id: string
  i: number
  b: number | null
  key: string | null
  payload: JsonValue
  status: DeliveryStatus
  attempts: number
  availableAt: number
  leaseToken: string | null
  leasedUntil: number | null
}

interface Model {
  world: World
  now: number
  channels: [string[], string[]]
  messages: Map<string, ModelMessage>
  idem: Map<string, string>
  /** Every lease token ever handed out, current or stale. */
  tokens: Array<{ messageId: string; token: string }>
}

interface Real {
  messaging: Messaging
  /** The facade's clock (audit times, creation times, the host's due times). */
  clock: ManualClock
  /** The store's clock (leases, due, retries), moved with the facade's. */
  storeClock: StoreClock
}

const canInfra = (a: (typeof ARCHETYPES)[number], i: number) => a.grants.some(([gi]) => gi === i)
const canAccess = (a: (typeof ARCHETYPES)[number], i: number, b: number | null) =>
  a.grants.some(([gi, gb]) => gi === i && (gb === null || gb === b))

const bizId = (m: Model, i: number, b: number | null) =>
  b === null ? null : m.world.biz[i as 0 | 1][b as 0 | 1]

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toMatchObject({ code })
}

function claimable(m: ModelMessage, now: number): boolean {
  if (m.status === 'pending') return m.availableAt <= now
  if (m.status === 'processing') return m.leasedUntil !== null && m.leasedUntil <= now
  return false
}

function transition(m: ModelMessage, to: DeliveryStatus): void {
  if (!canTransition(m.status, to)) throw new Error(`model made an illegal transition ${m.status} -> ${to}`)
  m.status = to
}

// A JSON payload without -0 (JSON has no negative zero) and without U+0000 (refused by the domain).
const payloadArb: fc.Arbitrary<JsonValue> = fc.oneof(
  fc.record({ text: fc.string({ maxLength: 20 }).filter((s) => !s.includes('\u0000')), n: fc.integer() }),
  fc.record({ list: fc.array(fc.oneof(fc.boolean(), fc.integer(), fc.constant(null)), { maxLength: 4 }) }),
  fc.record({ nested: fc.record({ deep: fc.string({ unit: 'grapheme', maxLength: 8 }) }) }),
)

type Cmd = fc.AsyncCommand<Model, Real, true>

class Enqueue implements Cmd {
  constructor(
    readonly p: number,
    readonly i: number,
    readonly b: number | null,
    readonly foreignChannel: boolean,
    readonly key: string | null,
    readonly payload: JsonValue,
    readonly delayMs: number,
  ) {}
  async check() {
    return true
  }
  async run(m: Model, r: Real) {
    const a = ARCHETYPES[this.p]!
    const channelId = m.channels[(this.foreignChannel ? 1 - this.i : this.i) as 0 | 1][0]!
    const call = r.messaging.enqueue(m.world.principals[this.p]!, {
      infrastructureId: m.world.infra[this.i as 0 | 1],
      businessId: bizId(m, this.i, this.b),
      channelId,
      payload: this.payload,
      idempotencyKey: this.key,
      availableAt: new Date(m.now + this.delayMs),
    })
    if (!canAccess(a, this.i, this.b)) return expectCode(call, 'TENANT_SCOPE_VIOLATION')
    if (this.foreignChannel) return expectCode(call, 'NOT_FOUND')
    const result = await call
    const ik = `${this.i}/${this.b}/${this.key}`
    const first = this.key === null ? undefined : m.idem.get(ik)
    if (first !== undefined) {
      expect(result.created).toBe(false)
      expect(result.message.id).toBe(first)
      return
    }
    expect(result.created).toBe(true)
    expect(result.message.payload).toEqual(this.payload)
    m.messages.set(result.message.id, {
      id: result.message.id,
      i: this.i,
      b: this.b,
      key: this.key,
      payload: structuredClone(this.payload),
      status: 'pending',
      attempts: 0,
      availableAt: m.now + this.delayMs,
      leaseToken: null,
      leasedUntil: null,
    })
    if (this.key !== null) m.idem.set(ik, result.message.id)
  }
  toString() {
    return `Enqueue(p${this.p}, i${this.i}, b${this.b}, foreign=${this.foreignChannel}, key=${this.key}, +${this.delayMs})`
  }
}

/** Reads every message of an infrastructure: exactly the ones the principal may see, payloads as enqueued. */
class List implements Cmd {
  constructor(
    readonly p: number,
    readonly i: number,
  ) {}
  async check() {
    return true
  }
  async run(m: Model, r: Real) {
    const a = ARCHETYPES[this.p]!
    const call = r.messaging.listMessages(m.world.principals[this.p]!, {
      infrastructureId: m.world.infra[this.i as 0 | 1],
      limit: 1000,
    })
    if (!canInfra(a, this.i)) return expectCode(call, 'TENANT_SCOPE_VIOLATION')
    const got = await call
    const expected = [...m.messages.values()].filter((x) => x.i === this.i && canAccess(a, x.i, x.b))
    expect(got.map((x) => x.id).sort()).toEqual(expected.map((x) => x.id).sort())
    for (const x of got) {
      const e = m.messages.get(x.id)!
      expect(x.payload).toEqual(e.payload)
      expect(x.status).toBe(e.status)
      expect(x.attempts).toBe(e.attempts)
      expect(x.infrastructureId).toBe(m.world.infra[e.i as 0 | 1])
      expect(x.businessId).toBe(bizId(m, e.i, e.b))
    }
  }
  toString() {
    return `List(p${this.p}, i${this.i})`
  }
}

class Get implements Cmd {
  constructor(
    readonly p: number,
    readonly pick: number,
  ) {}
  async check(m: Model) {
    return m.messages.size > 0
  }
  async run(m: Model, r: Real) {
    const a = ARCHETYPES[this.p]!
    const all = [...m.messages.values()]
    const target = all[this.pick % all.length]!
    const call = r.messaging.getMessage(m.world.principals[this.p]!, {
      infrastructureId: m.world.infra[target.i as 0 | 1],
      messageId: target.id,
    })
    if (!canInfra(a, target.i)) return expectCode(call, 'TENANT_SCOPE_VIOLATION')
    if (!canAccess(a, target.i, target.b)) return expectCode(call, 'NOT_FOUND')
    const got = await call
    expect(got.payload).toEqual(target.payload)
    expect(got.status).toBe(target.status)
  }
  toString() {
    return `Get(p${this.p}, #${this.pick})`
  }
}

/** One or two claimers at once: never the same message twice, never one under a live lease. */
class Claim implements Cmd {
  constructor(
    readonly ps: number[],
    readonly i: number | null,
    readonly limit: number,
  ) {}
  async check() {
    return true
  }
  async run(m: Model, r: Real) {
    const calls = this.ps.map((p) =>
      r.messaging
        .claim(m.world.principals[p]!, {
          limit: this.limit,
          leaseMs: LEASE_MS,
          ...(this.i !== null && { infrastructureId: m.world.infra[this.i as 0 | 1] }),
        })
        .then(
          (v) => ({ ok: true as const, v }),
          (e: unknown) => ({ ok: false as const, e }),
        ),
    )
    const results = await Promise.all(calls)
    const seen = new Set<string>()
    results.forEach((res, k) => {
      const a = ARCHETYPES[this.ps[k]!]!
      if (a.role !== 'service') {
        expect(res.ok ? null : res.e).toMatchObject({ code: 'FORBIDDEN_ROLE' })
        return
      }
      if (this.i !== null && !canInfra(a, this.i)) {
        expect(res.ok ? null : res.e).toMatchObject({ code: 'TENANT_SCOPE_VIOLATION' })
        return
      }
      if (!res.ok) throw res.e
      const eligible = [...m.messages.values()].filter(
        (x) => (this.i === null || x.i === this.i) && canAccess(a, x.i, x.b) && claimable(x, m.now),
      )
      for (const c of res.v) {
        expect(seen.has(c.id), `message ${c.id} handed to two claimers`).toBe(false)
        seen.add(c.id)
        const e = m.messages.get(c.id)
        expect(e, 'claimed a message outside the model').toBeDefined()
        expect(canAccess(a, e!.i, e!.b), 'claimed outside the grants').toBe(true)
        expect(claimable(e!, m.now), `claimed ${c.id} while not claimable (${e!.status})`).toBe(true)
        expect(c.attempts).toBe(e!.attempts + 1)
        expect(c.payload).toEqual(e!.payload)
        transition(e!, 'processing')
        e!.attempts += 1
        e!.leaseToken = c.leaseToken
        e!.leasedUntil = m.now + LEASE_MS
        m.tokens.push({ messageId: c.id, token: c.leaseToken })
      }
      if (this.ps.length === 1) expect(res.v.length).toBe(Math.min(this.limit, eligible.length))
    })
  }
  toString() {
    return `Claim([${this.ps.map((p) => `p${p}`).join(',')}], i${this.i}, limit ${this.limit})`
  }
}

class Ack implements Cmd {
  constructor(
    readonly p: number,
    readonly pick: number,
    readonly outcome: 'processed' | 'failed' | 'retry',
    readonly retryAfterMs: number,
  ) {}
  async check(m: Model) {
    return m.tokens.length > 0
  }
  async run(m: Model, r: Real) {
    const a = ARCHETYPES[this.p]!
    const { messageId, token } = m.tokens[this.pick % m.tokens.length]!
    const e = m.messages.get(messageId)!
    const base = { infrastructureId: m.world.infra[e.i as 0 | 1], messageId, leaseToken: token }
    const call = r.messaging.ack(
      m.world.principals[this.p]!,
      this.outcome === 'processed'
        ? { ...base, outcome: 'processed' }
        : {
            ...base,
            outcome: 'failed',
            reason: 'provider said no',
            ...(this.outcome === 'retry' && { retryAfterMs: this.retryAfterMs }),
          },
    )
    if (!canInfra(a, e.i)) return expectCode(call, 'TENANT_SCOPE_VIOLATION')
    if (a.role !== 'service') return expectCode(call, 'FORBIDDEN_ROLE')
    if (!canAccess(a, e.i, e.b)) return expectCode(call, 'NOT_FOUND')
    const res = await call
    const live = e.status === 'processing' && e.leaseToken === token
    expect(res.acked).toBe(live)
    if (!live) {
      expect(res.status).toBe(e.status)
      return
    }
    let next: DeliveryStatus
    if (this.outcome === 'processed') next = 'processed'
    else if (this.outcome === 'failed') next = 'failed'
    else next = e.attempts >= MAX_ATTEMPTS ? 'dead' : 'pending'
    expect(res.status).toBe(next)
    transition(e, next)
    e.leaseToken = null
    e.leasedUntil = null
    if (next === 'pending') e.availableAt = m.now + this.retryAfterMs
  }
  toString() {
    return `Ack(p${this.p}, token #${this.pick}, ${this.outcome}${this.outcome === 'retry' ? ` +${this.retryAfterMs}` : ''})`
  }
}

class Advance implements Cmd {
  constructor(readonly ms: number) {}
  async check() {
    return true
  }
  async run(m: Model, r: Real) {
    m.now += this.ms
    r.clock.advance(this.ms)
    await r.storeClock.set(r.clock.now())
  }
  toString() {
    return `Advance(${this.ms})`
  }
}

class CreateChannel implements Cmd {
  constructor(
    readonly p: number,
    readonly i: number,
  ) {}
  async check() {
    return true
  }
  async run(m: Model, r: Real) {
    const a = ARCHETYPES[this.p]!
    const call = r.messaging.createChannel(m.world.principals[this.p]!, {
      infrastructureId: m.world.infra[this.i as 0 | 1],
      channelKey: `c-${m.channels[this.i as 0 | 1].length}`,
      type: 'in_app',
    })
    if (!canInfra(a, this.i)) return expectCode(call, 'TENANT_SCOPE_VIOLATION')
    if (a.role !== 'infra_admin') return expectCode(call, 'FORBIDDEN_ROLE')
    const c = await call
    m.channels[this.i as 0 | 1].push(c.id)
  }
  toString() {
    return `CreateChannel(p${this.p}, i${this.i})`
  }
}

class ListChannels implements Cmd {
  constructor(
    readonly p: number,
    readonly i: number,
  ) {}
  async check() {
    return true
  }
  async run(m: Model, r: Real) {
    const a = ARCHETYPES[this.p]!
    const call = r.messaging.listChannels(m.world.principals[this.p]!, {
      infrastructureId: m.world.infra[this.i as 0 | 1],
    })
    if (!canInfra(a, this.i)) return expectCode(call, 'TENANT_SCOPE_VIOLATION')
    const got = await call
    expect(got.map((c) => c.id).sort()).toEqual([...m.channels[this.i as 0 | 1]].sort())
  }
  toString() {
    return `ListChannels(p${this.p}, i${this.i})`
  }
}

/** An all-seeing reader checks the global invariants: one message per idempotency key, statuses as modelled. */
class Omniscient implements Cmd {
  async check() {
    return true
  }
  async run(m: Model, r: Real) {
    const all: Principal = {
      userId: uuid(),
      role: 'service',
      grants: m.world.infra.map((infrastructureId) => ({ infrastructureId, businessId: null })),
    }
    const got = (
      await Promise.all(
        m.world.infra.map((infrastructureId) =>
          r.messaging.listMessages(all, { infrastructureId, limit: 1000 }),
        ),
      )
    ).flat()
    expect(got.length).toBe(m.messages.size)
    const perKey = new Map<string, number>()
    for (const x of got) {
      if (x.idempotencyKey !== null) {
        const k = `${x.infrastructureId}/${x.businessId}/${x.idempotencyKey}`
        perKey.set(k, (perKey.get(k) ?? 0) + 1)
      }
      expect(x.status).toBe(m.messages.get(x.id)?.status)
    }
    for (const n of perKey.values()) expect(n).toBe(1)
  }
  toString() {
    return 'Omniscient()'
  }
}

const p = fc.nat({ max: ARCHETYPES.length - 1 })
const infra = fc.constantFrom(0, 1)
const commands = fc.commands(
  [
    fc
      .tuple(
        p,
        infra,
        fc.constantFrom(null, 0, 1),
        fc.nat({ max: 9 }).map((n) => n < 2),
        fc.constantFrom(null, null, 'k1', 'k2'),
        payloadArb,
        fc.constantFrom(0, 0, 1500),
      )
      .map((a) => new Enqueue(...a)),
    fc.tuple(p, infra).map(([a, b]) => new List(a, b)),
    fc.tuple(p, fc.nat()).map(([a, b]) => new Get(a, b)),
    fc
      .tuple(
        fc.array(p, { minLength: 1, maxLength: 2 }),
        fc.constantFrom(null, 0, 1),
        fc.integer({ min: 1, max: 4 }),
      )
      .map(([a, b, c]) => new Claim(a, b, c)),
    fc
      .tuple(
        p,
        fc.nat(),
        fc.constantFrom('processed', 'failed', 'retry') as fc.Arbitrary<'processed' | 'failed' | 'retry'>,
        fc.constantFrom(0, 700),
      )
      .map(([a, b, c, d]) => new Ack(a, b, c, d)),
    fc.constantFrom(0, 400, 1000, 2000).map((ms) => new Advance(ms)),
    fc.tuple(p, infra).map(([a, b]) => new CreateChannel(a, b)),
    fc.tuple(p, infra).map(([a, b]) => new ListChannels(a, b)),
    fc.constant(new Omniscient()),
  ],
  { maxCommands: 60, size: 'large' },
)

export function describeIsolationProperties(
  name: string,
  factory: StorageFactory,
  options: { defaultRuns: number },
): void {
  const runs = Number(process.env.PROPERTY_RUNS ?? options.defaultRuns)
  describe(`tenant isolation properties: ${name}`, () => {
    let storage: MessagingStorage
    let storeClock: StoreClock
    beforeAll(async () => {
      ;({ storage, clock: storeClock } = await factory())
    })
    afterAll(async () => {
      await storage?.close()
    })

    it(`keeps every principal inside its grants, payloads immutable, transitions legal, keys unique and leases exclusive (${runs} runs)`, async () => {
      await fc.assert(
        fc.asyncProperty(commands, async (cmds) => {
          const setup = async () => {
            const world: World = {
              infra: [uuid(), uuid()],
              biz: [
                [uuid(), uuid()],
                [uuid(), uuid()],
              ],
              principals: [],
            }
            world.principals = ARCHETYPES.map((a) => ({
              userId: uuid(),
              role: a.role,
              grants: a.grants.map(([i, b]) => ({
                infrastructureId: world.infra[i as 0 | 1],
                businessId: b === null ? null : world.biz[i as 0 | 1][b as 0 | 1],
              })),
            }))
            const clock = new ManualClock()
            await storeClock.set(clock.now())
            const messaging = createMessaging({ storage, clock })
            const root: Principal = {
              userId: uuid(),
              role: 'infra_admin',
              grants: world.infra.map((infrastructureId) => ({ infrastructureId, businessId: null })),
            }
            const channels: [string[], string[]] = [[], []]
            for (const k of [0, 1] as const) {
              const c = await messaging.createChannel(root, {
                infrastructureId: world.infra[k],
                channelKey: 'alerts',
                type: 'in_app',
                maxAttempts: MAX_ATTEMPTS,
              })
              channels[k].push(c.id)
            }
            const model: Model = {
              world,
              now: clock.now().getTime(),
              channels,
              messages: new Map(),
              idem: new Map(),
              tokens: [],
            }
            return { model, real: { messaging, clock, storeClock } }
          }
          await fc.asyncModelRun(setup, cmds)
        }),
        { numRuns: runs },
      )
    })
  })
}
