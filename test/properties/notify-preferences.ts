import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createMessaging,
  type Messaging,
  type MessagingStorage,
  type NotificationDelivery,
  type Principal,
  type Role,
} from '../../src/index.js'
import { uuid } from '../support/fixtures.js'

/**
 * Model-based property of notify: random sequences of preference changes (users' own
 * choices, tenant defaults per business and infrastructure, channel opt-outs, a category
 * turning critical, a channel switched off) and notifies by callers of every kind, against
 * the real facade over a real store. After each notify, its every recipient x channel type
 * must be exactly what a model that knows the resolution order predicts: so no
 * non-critical notification ever reaches a (user, channel type) that opted out, and every
 * outbox message of a notification belongs to its tenant, its business and a recipient in
 * the caller's scope, with that recipient's address.
 */
export type StorageFactory = () => Promise<MessagingStorage> | MessagingStorage

const TYPES = ['email', 'in_app', 'sms'] as const
type Type = (typeof TYPES)[number]
const CATEGORY_DEFAULT: Record<Type, boolean> = { email: true, in_app: true, sms: false }
/** Per infrastructure: 5 users; their business (index into the two businesses, or null), email and phone. */
const USERS: ReadonlyArray<{ business: 0 | 1 | null; email: boolean; phone: boolean }> = [
  { business: null, email: true, phone: true },
  { business: 0, email: true, phone: false },
  { business: 0, email: false, phone: false },
  { business: 1, email: true, phone: true },
  { business: 1, email: true, phone: false },
]

/** Who notifies: a role and one grant (infra 0 or 1, a business index or the whole infrastructure). */
const CALLERS: ReadonlyArray<{ role: Role; infra: 0 | 1; business: 0 | 1 | null }> = [
  { role: 'service', infra: 0, business: null },
  { role: 'infra_admin', infra: 0, business: null },
  { role: 'infra_admin', infra: 0, business: 0 },
  { role: 'service', infra: 0, business: 1 },
  { role: 'member', infra: 0, business: null },
  { role: 'service', infra: 1, business: null },
]

interface Tenant {
  infra: string
  biz: [string, string]
  admin: Principal
  users: Array<{ userId: string; principal: Principal; email: string | null; phone: string | null }>
  channels: Record<Type, string>
}

interface Model {
  tenants: [Tenant, Tenant]
  choice: Map<string, boolean>
  defaults: Map<string, boolean>
  optedOut: Set<string>
  critical: [boolean, boolean]
  disabled: Set<string>
  callers: Principal[]
}

interface Real {
  messaging: Messaging
}

const k = (...parts: Array<string | number | null>) => parts.join('/')

/** The resolution order, written out again here: the user, the channel opt-out, business, tenant, category. */
function enabled(m: Model, i: 0 | 1, u: number, t: Type, business: 0 | 1 | null): boolean {
  if (!m.critical[i]) {
    const own = m.choice.get(k(i, u, t))
    if (own !== undefined) return own
    if (t === 'in_app' && m.optedOut.has(k(i, u))) return false
  }
  if (business !== null) {
    const b = m.defaults.get(k(i, business, t))
    if (b !== undefined) return b
  }
  const d = m.defaults.get(k(i, null, t))
  if (d !== undefined) return d
  return CATEGORY_DEFAULT[t]
}

type Expected = Array<{
  userId: string
  channelType: string
  state: 'pending' | 'skipped'
  reason: string | null
}>

function expectedDeliveries(
  m: Model,
  caller: (typeof CALLERS)[number],
  i: 0 | 1,
  business: 0 | 1 | null,
  named: ReadonlyArray<{ tenant: 0 | 1; user: number }>,
): Expected {
  const out: Expected = []
  const seen = new Set<string>()
  for (const n of named) {
    const user = m.tenants[n.tenant].users[n.user]!
    if (seen.has(user.userId)) continue
    seen.add(user.userId)
    const spec = USERS[n.user]!
    // In scope: a profile the caller may see (its grant reaches the user's business), in the notification's tenant.
    const visible = n.tenant === i && (caller.business === null || caller.business === spec.business)
    const inTenant = business === null || spec.business === null || spec.business === business
    if (!visible || !inTenant) {
      out.push({ userId: user.userId, channelType: '*', state: 'skipped', reason: 'unknown_recipient' })
      continue
    }
    for (const t of TYPES) {
      const address = t === 'email' ? user.email : t === 'sms' ? user.phone : user.userId
      const reason = m.disabled.has(k(i, t))
        ? 'no_channel'
        : !enabled(m, i, n.user, t, business)
          ? 'opted_out'
          : address === null
            ? 'no_address'
            : null
      out.push({ userId: user.userId, channelType: t, state: reason ? 'skipped' : 'pending', reason })
    }
  }
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
  return out.sort((a, b) => cmp(a.userId, b.userId) || cmp(a.channelType, b.channelType))
}

type Cmd = fc.AsyncCommand<Model, Real>

class SetChoice implements Cmd {
  constructor(
    readonly i: 0 | 1,
    readonly u: number,
    readonly t: Type,
    readonly value: boolean | null,
  ) {}
  check = () => true
  async run(m: Model, r: Real) {
    const tenant = m.tenants[this.i]
    await r.messaging.setPreference(tenant.users[this.u]!.principal, {
      infrastructureId: tenant.infra,
      categoryKey: 'event.x',
      channelType: this.t,
      enabled: this.value,
    })
    if (this.value === null) m.choice.delete(k(this.i, this.u, this.t))
    else m.choice.set(k(this.i, this.u, this.t), this.value)
  }
  toString = () => `choice(${this.i}, u${this.u}, ${this.t}, ${this.value})`
}

class SetDefault implements Cmd {
  constructor(
    readonly i: 0 | 1,
    readonly business: 0 | 1 | null,
    readonly t: Type,
    readonly value: boolean | null,
  ) {}
  check = () => true
  async run(m: Model, r: Real) {
    const tenant = m.tenants[this.i]
    await r.messaging.setTenantDefault(tenant.admin, {
      infrastructureId: tenant.infra,
      businessId: this.business === null ? null : tenant.biz[this.business],
      categoryKey: 'event.x',
      channelType: this.t,
      enabled: this.value,
    })
    if (this.value === null) m.defaults.delete(k(this.i, this.business, this.t))
    else m.defaults.set(k(this.i, this.business, this.t), this.value)
  }
  toString = () => `default(${this.i}, b${this.business}, ${this.t}, ${this.value})`
}

class SetOptIn implements Cmd {
  constructor(
    readonly i: 0 | 1,
    readonly u: number,
    readonly optedIn: boolean,
  ) {}
  check = () => true
  async run(m: Model, r: Real) {
    const tenant = m.tenants[this.i]
    await r.messaging.setOptIn(tenant.users[this.u]!.principal, {
      infrastructureId: tenant.infra,
      channelId: tenant.channels.in_app,
      optedIn: this.optedIn,
    })
    if (this.optedIn) m.optedOut.delete(k(this.i, this.u))
    else m.optedOut.add(k(this.i, this.u))
  }
  toString = () => `optIn(${this.i}, u${this.u}, ${this.optedIn})`
}

class SetCritical implements Cmd {
  constructor(
    readonly i: 0 | 1,
    readonly critical: boolean,
  ) {}
  check = () => true
  async run(m: Model, r: Real) {
    const tenant = m.tenants[this.i]
    await r.messaging.updateCategory(tenant.admin, {
      infrastructureId: tenant.infra,
      categoryKey: 'event.x',
      critical: this.critical,
    })
    m.critical[this.i] = this.critical
  }
  toString = () => `critical(${this.i}, ${this.critical})`
}

class SwitchChannel implements Cmd {
  constructor(
    readonly i: 0 | 1,
    readonly t: Type,
    readonly on: boolean,
  ) {}
  check = () => true
  async run(m: Model, r: Real) {
    const tenant = m.tenants[this.i]
    await r.messaging.configureChannel(tenant.admin, {
      infrastructureId: tenant.infra,
      channelId: tenant.channels[this.t],
      enabled: this.on,
    })
    if (this.on) m.disabled.delete(k(this.i, this.t))
    else m.disabled.add(k(this.i, this.t))
  }
  toString = () => `channel(${this.i}, ${this.t}, ${this.on ? 'on' : 'off'})`
}

class Notify implements Cmd {
  constructor(
    readonly caller: number,
    readonly business: 0 | 1 | null,
    readonly named: ReadonlyArray<{ tenant: 0 | 1; user: number }>,
  ) {}
  check = () => true
  async run(m: Model, r: Real) {
    const spec = CALLERS[this.caller]!
    const i = spec.infra
    const tenant = m.tenants[i]
    const principal = m.callers[this.caller]!
    const users = this.named.map((n) => m.tenants[n.tenant].users[n.user]!.userId)
    const businessId = this.business === null ? null : tenant.biz[this.business]
    const call = r.messaging.notify(principal, {
      infrastructureId: tenant.infra,
      businessId,
      category: 'event.x',
      to: { users },
      data: { n: 1 },
    })
    const refusal =
      spec.role === 'member'
        ? 'FORBIDDEN_ROLE'
        : spec.business !== null && spec.business !== this.business
          ? 'TENANT_SCOPE_VIOLATION'
          : null
    if (refusal) {
      await expect(call).rejects.toMatchObject({ code: refusal })
      return
    }
    const { notification } = await call
    expect(notification).toMatchObject({ infrastructureId: tenant.infra, businessId, categoryKey: 'event.x' })
    const root = tenant.admin
    const deliveries: NotificationDelivery[] = []
    for (let after: string | undefined; ; ) {
      const page = await r.messaging.getNotification(root, {
        infrastructureId: tenant.infra,
        notificationId: notification.id,
        limit: 7,
        ...(after && { after }),
      })
      deliveries.push(...page.deliveries)
      if (page.deliveries.length < 7) break
      const last = page.deliveries.at(-1)!
      after = `${last.userId}/${last.channelType}`
    }
    const expected = expectedDeliveries(m, spec, i, this.business, this.named)
    expect(
      deliveries.map((d) => ({
        userId: d.userId,
        channelType: d.channelType,
        state: d.state,
        reason: d.reason,
      })),
    ).toEqual(expected)
    // Every message of the notification, read from the outbox itself: its tenant, its business,
    // a recipient in scope that did not opt out, over a channel of its tenant, to that recipient's address.
    const messages = (
      await r.messaging.listMessages(root, { infrastructureId: tenant.infra, limit: 1000 })
    ).filter((x) => x.notification?.id === notification.id)
    expect(messages.length).toBe(expected.filter((e) => e.state === 'pending').length)
    for (const msg of messages) {
      const u = tenant.users.findIndex((x) => x.userId === msg.notification!.userId)
      expect(u).toBeGreaterThanOrEqual(0)
      const t = (Object.keys(tenant.channels) as Type[]).find((x) => tenant.channels[x] === msg.channelId)!
      expect(msg.infrastructureId).toBe(tenant.infra)
      expect(msg.businessId).toBe(businessId)
      expect(enabled(m, i, u, t, this.business)).toBe(true)
      const user = tenant.users[u]!
      expect(msg.recipients).toEqual([t === 'email' ? user.email : t === 'sms' ? user.phone : user.userId])
    }
  }
  toString = () =>
    `notify(by ${this.caller}, b${this.business}, [${this.named.map((n) => `${n.tenant}:u${n.user}`).join(' ')}])`
}

const i01 = fc.constantFrom<0 | 1>(0, 1)
const user = fc.integer({ min: 0, max: USERS.length - 1 })
const type = fc.constantFrom(...TYPES)
const choice = fc.constantFrom<boolean | null>(true, false, null)
const business = fc.constantFrom<0 | 1 | null>(0, 1, null)

const notify = fc
  .tuple(
    fc.integer({ min: 0, max: CALLERS.length - 1 }),
    business,
    fc.array(fc.record({ tenant: fc.constantFrom<0 | 1>(0, 0, 0, 1), user }), { minLength: 1, maxLength: 8 }),
  )
  .map(([c, b, named]) => new Notify(c, b, named))

// Notifies are drawn twice as often as each kind of change, so most changes are followed by one.
const commands = fc.commands(
  [
    fc.tuple(i01, user, type, choice).map(([i, u, t, v]) => new SetChoice(i, u, t, v)),
    fc.tuple(i01, business, type, choice).map(([i, b, t, v]) => new SetDefault(i, b, t, v)),
    fc.tuple(i01, user, fc.boolean()).map(([i, u, v]) => new SetOptIn(i, u, v)),
    fc.tuple(i01, fc.boolean()).map(([i, v]) => new SetCritical(i, v)),
    fc.tuple(i01, type, fc.boolean()).map(([i, t, v]) => new SwitchChannel(i, t, v)),
    notify,
    notify,
  ],
  { maxCommands: 30, size: '+1' },
)

export function describeNotifyProperties(
  name: string,
  factory: StorageFactory,
  options: { defaultRuns: number },
): void {
  const runs = Number(process.env.PROPERTY_RUNS ?? options.defaultRuns)
  describe(`notify properties: ${name}`, () => {
    let storage: MessagingStorage
    let messaging: Messaging
    beforeAll(async () => {
      storage = await factory()
      messaging = createMessaging({ storage })
    })
    afterAll(async () => {
      await storage?.close()
    })

    async function tenant(): Promise<Tenant> {
      const infra = uuid()
      const biz: [string, string] = [uuid(), uuid()]
      const admin: Principal = {
        userId: uuid(),
        role: 'infra_admin',
        grants: [{ infrastructureId: infra, businessId: null }],
      }
      const channels = {} as Record<Type, string>
      const configs: Record<Type, Record<string, unknown>> = {
        in_app: {},
        email: { from: 'events@example.com' },
        sms: { from: '+15550001111' },
      }
      for (const t of TYPES) {
        const c = await messaging.createChannel(admin, {
          infrastructureId: infra,
          channelKey: `ch-${t.replace('_', '-')}`,
          type: t,
          config: configs[t],
        })
        channels[t] = c.id
      }
      await messaging.createCategory(admin, {
        infrastructureId: infra,
        key: 'event.x',
        name: 'Event X',
        channels: Object.fromEntries(
          TYPES.map((t) => [t, { channelKey: `ch-${t.replace('_', '-')}`, enabled: CATEGORY_DEFAULT[t] }]),
        ),
      })
      const users = []
      for (const [n, spec] of USERS.entries()) {
        const userId = uuid()
        const businessId = spec.business === null ? null : biz[spec.business]
        const email = spec.email ? `u${n}.${userId.slice(0, 6)}@example.com` : null
        const phone = spec.phone ? `+1555${String(1000000 + n).slice(1)}` : null
        await messaging.upsertProfile(admin, { infrastructureId: infra, userId, businessId, email, phone })
        await messaging.addMember(admin, {
          infrastructureId: infra,
          channelId: channels.in_app,
          userId,
          businessId,
        })
        users.push({
          userId,
          email,
          phone,
          principal: {
            userId,
            role: 'member' as const,
            grants: [{ infrastructureId: infra, businessId: null }],
          },
        })
      }
      return { infra, biz, admin, users, channels }
    }

    it(`reaches exactly the recipients and channel types the resolution allows, within the caller's scope (${runs} runs)`, async () => {
      await fc.assert(
        fc.asyncProperty(commands, async (cmds) => {
          const setup = async () => {
            const tenants: [Tenant, Tenant] = [await tenant(), await tenant()]
            const callers = CALLERS.map((c) => {
              const t = tenants[c.infra]
              return {
                userId: uuid(),
                role: c.role,
                grants: [
                  { infrastructureId: t.infra, businessId: c.business === null ? null : t.biz[c.business] },
                ],
              }
            })
            const model: Model = {
              tenants,
              choice: new Map(),
              defaults: new Map(),
              optedOut: new Set(),
              critical: [false, false],
              disabled: new Set(),
              callers,
            }
            return { model, real: { messaging } }
          }
          await fc.asyncModelRun(setup, cmds)
        }),
        { numRuns: runs },
      )
    })
  })
}
