import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DeliveryPort } from '../../src/application/delivery-port.js'
import {
  createMessaging,
  type Messaging,
  type MessagingStorage,
  type Principal,
  TenantScope,
  ValidationError,
} from '../../src/index.js'
import type { Repositories } from '../../src/ports/unit-of-work.js'
import { createSecretBox } from '../../src/secrets/index.js'
import { prometheusText } from '../../src/telemetry/prometheus.js'
import { tenantQueues } from '../../src/telemetry/queue-series.js'
import { at, principal, tenant } from '../support/fixtures.js'
import type { StoreClock } from '../support/store-clock.js'
import type { ClockedStorageFactory } from './repository-conformance.js'

const MIN = 60_000
/** Longer than any test moves the store's clock: a message claimed once is not claimed again. */
const LEASE_MS = 10 * 24 * 60 * MIN

/** The issues of a ValidationError as `path rule` lines, or what else was thrown. */
const issues = (p: Promise<unknown>) =>
  p.then(
    () => ['resolved'],
    (e: unknown) => (e instanceof ValidationError ? e.issues.map((i) => `${i.path} ${i.rule}`) : [String(e)]),
  )

interface DigestData {
  readonly id: string
  readonly items: ReadonlyArray<Record<string, unknown>>
}
/** The `digest` of a delivered payload. */
const digestOf = (payload: unknown): DigestData => (payload as { digest: DigestData }).digest

/** A latch: `wait()` resolves once `open()` is called. */
function latch() {
  let open!: () => void
  const opened = new Promise<void>((r) => {
    open = r
  })
  return { open: () => open(), wait: () => opened }
}

/**
 * Digests of a category on every store: a recipient's notifications of the category (per
 * channel and digest key) collapse into one delivery carrying every item in enqueue order;
 * the window (on the store's clock) or `maxItems` closes it; closing and adding exclude each
 * other, so an item is in exactly one digest; a throttle may fold its excess into the next
 * digest; tenants apart.
 */
export function describeDigestConformance(name: string, factory: ClockedStorageFactory): void {
  describe(`digest conformance: ${name}`, () => {
    let storage: MessagingStorage
    let clock: StoreClock
    let messaging: Messaging
    // Each test starts its own hour of the store's clock, so earlier tests' digests stay closed or out of reach.
    let hour = 0
    const startHour = async () => {
      hour++
      await clock.set(at(hour * 60 * MIN))
      return hour * 60 * MIN
    }
    beforeAll(async () => {
      ;({ storage, clock } = await factory())
      messaging = createMessaging({
        storage,
        secrets: createSecretBox({ keys: { k1: randomBytes(32).toString('base64') }, activeKeyId: 'k1' }),
      })
    })
    afterAll(async () => {
      await storage?.close()
    })

    /** A tenant with in-app and email channels, a digested category over both, and two people. */
    async function seeded(category: { digest?: unknown; throttle?: unknown } = {}) {
      const t = tenant()
      const i = t.infra
      const admin = principal('infra_admin', [[i, null]])
      const service = principal('service', [[i, null]])
      await messaging.createChannel(admin, { infrastructureId: i, channelKey: 'alerts', type: 'in_app' })
      await messaging.createChannel(admin, {
        infrastructureId: i,
        channelKey: 'mail',
        type: 'email',
        config: { from: 'news@example.com' },
      })
      await messaging.createCategory(admin, {
        infrastructureId: i,
        key: 'comment.new',
        name: 'New comment',
        channels: { in_app: { channelKey: 'alerts' }, email: { channelKey: 'mail' } },
        digest: (category.digest ?? { windowSeconds: 600, maxItems: 10 }) as never,
        ...(category.throttle !== undefined && { throttle: category.throttle as never }),
      })
      const person = async () => {
        const p = principal('member', [[i, null]])
        await messaging.upsertProfile(admin, {
          infrastructureId: i,
          userId: p.userId,
          email: `${p.userId.slice(0, 8)}@example.com`,
        })
        return p.userId
      }
      const ada = await person()
      const bob = await person()
      const notify = (users: string[], data: Record<string, unknown>) =>
        messaging.notify(service, {
          infrastructureId: i,
          category: 'comment.new',
          to: { users },
          data: data as never,
        })
      const port = messaging.deliveryPort({ principal: service })
      return { i, admin, service, ada, bob, notify, port }
    }

    /** Claims what is due, renders each over its channel type, and settles it delivered. */
    async function deliverDue(port: DeliveryPort, i: string) {
      const held = await port.claim({ limit: 50, leaseMs: LEASE_MS, infrastructureId: i })
      const out: Array<{ userId: string; type: string; payload: unknown }> = []
      for (const h of held) {
        const lookup = await port.openChannel(h.infrastructureId, h.channelId)
        if (lookup.status === 'missing') throw new Error(`channel ${h.channelId} missing`)
        const step = await port.render(h, lookup.channel.type)
        expect(step.ok).toBe(true)
        out.push({
          userId: h.notification?.userId ?? '',
          type: lookup.channel.type,
          payload: step.ok === true && step.payload,
        })
      }
      return out.sort((a, b) => `${a.userId}/${a.type}`.localeCompare(`${b.userId}/${b.type}`))
    }

    it('validates a digest with typed errors naming the field and the rule, on create and update', async () => {
      const s = await seeded()
      const create = (over: { digest?: unknown; throttle?: unknown }) =>
        messaging.createCategory(s.admin, {
          infrastructureId: s.i,
          key: `c${Math.random().toString(36).slice(2, 8)}`,
          name: 'C',
          ...(over as object),
        } as never)
      expect(await issues(create({ digest: { windowSeconds: 0, maxItems: 5 } }))).toEqual([
        'digest.windowSeconds too_small',
      ])
      expect(await issues(create({ digest: { windowSeconds: 7 * 86_400 + 1, maxItems: 5 } }))).toEqual([
        'digest.windowSeconds too_big',
      ])
      expect(await issues(create({ digest: { windowSeconds: 60, maxItems: 1 } }))).toEqual([
        'digest.maxItems too_small',
      ])
      expect(await issues(create({ digest: { windowSeconds: 60, maxItems: 1001 } }))).toEqual([
        'digest.maxItems too_big',
      ])
      expect(await issues(create({ digest: { windowSeconds: 60, maxItems: 5, key: 'a..b' } }))).toEqual([
        'digest.key format:regex',
      ])
      expect(await issues(create({ digest: { windowSeconds: 60, maxItems: 5, every: 1 } }))).toEqual([
        expect.stringMatching(/^digest /),
      ])
      // A throttle that folds its excess into the next digest needs a digest.
      expect(await issues(create({ throttle: { limit: 1, windowSeconds: 60, onExceed: 'digest' } }))).toEqual(
        ['throttle.onExceed requires_digest'],
      )
      const made = await create({
        digest: { windowSeconds: 60, maxItems: 5, key: 'thread.id' },
        throttle: { limit: 1, windowSeconds: 60, onExceed: 'digest' },
      })
      expect(made).toMatchObject({
        digest: { windowSeconds: 60, maxItems: 5, key: 'thread.id' },
        throttle: { limit: 1, windowSeconds: 60, onExceed: 'digest' },
      })
      const update = (patch: object) =>
        messaging.updateCategory(s.admin, { infrastructureId: s.i, categoryKey: made.key, ...patch } as never)
      // Removing the digest under such a throttle is refused, and nothing changes.
      expect(await issues(update({ digest: null }))).toEqual(['throttle.onExceed requires_digest'])
      expect(await issues(update({ digest: { windowSeconds: 60, maxItems: 0 } }))).toEqual([
        'digest.maxItems too_small',
      ])
      expect(
        (await messaging.getCategory(s.admin, { infrastructureId: s.i, categoryKey: made.key })).digest,
      ).toEqual({ windowSeconds: 60, maxItems: 5, key: 'thread.id' })
      const freed = await update({ digest: null, throttle: null })
      expect(freed).toMatchObject({ digest: null, throttle: null })
      expect((await update({ digest: { windowSeconds: 30, maxItems: 2 } })).digest).toEqual({
        windowSeconds: 30,
        maxItems: 2,
        key: null,
      })
      await expect(
        messaging.updateCategory(s.service, { infrastructureId: s.i, categoryKey: made.key, digest: null }),
      ).rejects.toMatchObject({ code: 'FORBIDDEN_ROLE' })
    })

    it("collapses a recipient's notifications into one delivery per channel, every item in order, when the window ends", async () => {
      const start = await startHour()
      const s = await seeded({ digest: { windowSeconds: 600, maxItems: 10 } })
      const first = await s.notify([s.ada], { n: 1 })
      expect(first.notification).toMatchObject({ messageCount: 0, skippedCount: 0 })
      await clock.set(at(start + MIN))
      await s.notify([s.ada, s.bob], { n: 2 })
      await clock.set(at(start + 2 * MIN))
      await s.notify([s.ada], { n: 3 })
      // Nothing is due before the window (opened by ada's first item) ends, by the store's clock.
      await clock.set(at(start + 9 * MIN))
      expect(await deliverDue(s.port, s.i)).toEqual([])
      await clock.set(at(start + 10 * MIN))
      const out = await deliverDue(s.port, s.i)
      // bob's window opened a minute later: only ada's two digests (in-app, email) are due.
      expect(out.map((o) => [o.userId === s.ada ? 'ada' : 'bob', o.type])).toEqual([
        ['ada', 'email'],
        ['ada', 'in_app'],
      ])
      for (const o of out) {
        expect(o.payload).toEqual({
          digest: {
            id: expect.any(String),
            count: 3,
            items: [{ n: 1 }, { n: 2 }, { n: 3 }],
            notificationIds: [first.notification.id, expect.any(String), expect.any(String)],
            firstAt: at(start).toISOString(),
            lastAt: at(start + 2 * MIN).toISOString(),
          },
        })
      }
      // An item after the window went out opens the next digest.
      await s.notify([s.ada], { n: 4 })
      await clock.set(at(start + 11 * MIN))
      const bob = await deliverDue(s.port, s.i)
      expect(bob.map((o) => [o.userId === s.bob ? 'bob' : 'ada', digestOf(o.payload).items])).toEqual([
        ['bob', [{ n: 2 }]],
        ['bob', [{ n: 2 }]],
      ])
      await clock.set(at(start + 21 * MIN))
      const next = await deliverDue(s.port, s.i)
      expect(next.map((o) => digestOf(o.payload).items)).toEqual([[{ n: 4 }], [{ n: 4 }]])
    })

    it('closes a digest as soon as it holds maxItems items, and keeps digest keys apart', async () => {
      const start = await startHour()
      const s = await seeded({ digest: { windowSeconds: 3600, maxItems: 3, key: 'thread.id' } })
      for (const n of [1, 2, 3, 4]) await s.notify([s.ada], { n, thread: { id: 'a' } })
      await s.notify([s.ada], { n: 5, thread: { id: 'b' } })
      await s.notify([s.ada], { n: 6, thread: { id: 7 } })
      // Thread a's first three filled their digest: due at once, an hour early.
      const full = await deliverDue(s.port, s.i)
      expect(full.map((o) => [o.type, digestOf(o.payload).items.map((x) => x.n)])).toEqual([
        ['email', [1, 2, 3]],
        ['in_app', [1, 2, 3]],
      ])
      await clock.set(at(start + 60 * MIN))
      const rest = await deliverDue(s.port, s.i)
      expect(rest.map((o) => digestOf(o.payload).items.map((x) => x.n)).sort()).toEqual([
        [4],
        [4],
        [5],
        [5],
        [6],
        [6],
      ])
    })

    it('folds what a throttle refuses into the next digest instead of skipping it', async () => {
      const start = await startHour()
      const s = await seeded({
        digest: { windowSeconds: 600, maxItems: 50 },
        throttle: { limit: 1, windowSeconds: 3600, onExceed: 'digest' },
      })
      const first = await s.notify([s.ada], { n: 1 })
      const second = await s.notify([s.ada], { n: 2 })
      await s.notify([s.ada], { n: 3 })
      // The first is within the limit and goes on its own; the rest is folded, nothing throttled.
      expect(first.notification).toMatchObject({ messageCount: 2, skippedCount: 0 })
      expect(second.notification).toMatchObject({ messageCount: 0, skippedCount: 0 })
      expect((await deliverDue(s.port, s.i)).map((o) => o.payload)).toEqual([{ n: 1 }, { n: 1 }])
      await clock.set(at(start + 10 * MIN))
      const folded = await deliverDue(s.port, s.i)
      expect(folded.map((o) => digestOf(o.payload).items)).toEqual([
        [{ n: 2 }, { n: 3 }],
        [{ n: 2 }, { n: 3 }],
      ])
      expect(await messaging.throttledCounts(s.service, { infrastructureId: s.i, since: at(0) })).toEqual([])
    })

    it('opens one digest per channel when notifies for one recipient race, every item in it once', async () => {
      const start = await startHour()
      const s = await seeded({ digest: { windowSeconds: 600, maxItems: 100 } })
      const ids = (await Promise.all(Array.from({ length: 12 }, (_, n) => s.notify([s.ada], { n })))).map(
        (r) => r.notification.id,
      )
      await clock.set(at(start + 10 * MIN))
      const out = await deliverDue(s.port, s.i)
      expect(out.map((o) => o.type)).toEqual(['email', 'in_app'])
      for (const o of out) {
        const d = digestOf(o.payload) as DigestData & { notificationIds: string[] }
        expect(d.items).toHaveLength(12)
        expect([...d.notificationIds].sort()).toEqual([...ids].sort())
        // Enqueue order: the order the racing units of work took the digest's row.
        expect(d.items.map((x) => x.n).sort((a, b) => Number(a) - Number(b))).toEqual(
          Array.from({ length: 12 }, (_, n) => n),
        )
      }
    })

    it('renders the items as a list with the Liquid template of the category', async () => {
      const start = await startHour()
      const s = await seeded({ digest: { windowSeconds: 60, maxItems: 10 } })
      await messaging.setTemplateSettings(s.admin, { infrastructureId: s.i, defaultLocale: 'en' })
      await messaging.createTemplate(s.admin, {
        infrastructureId: s.i,
        categoryKey: 'comment.new',
        channelType: 'in_app',
        locale: 'en',
        content: {
          title: '{{ data.digest.count }} new comments',
          body: '{% for item in data.digest.items %}{{ item.author }}: {{ item.text }}\n{% endfor %}',
        },
      } as never)
      await s.notify([s.ada], { author: 'Bob', text: 'Looks good' })
      await s.notify([s.ada], { author: 'Cyd', text: 'Ship it' })
      await clock.set(at(start + MIN))
      const out = await deliverDue(s.port, s.i)
      const inApp = out.find((o) => o.type === 'in_app')?.payload as { title: string; body: string }
      expect(inApp).toMatchObject({ title: '2 new comments', body: 'Bob: Looks good\nCyd: Ship it\n' })
    })

    it('puts an item racing the close in exactly one digest: the close fixes the items, the racer opens the next', async () => {
      const start = await startHour()
      const s = await seeded({ digest: { windowSeconds: 600, maxItems: 10 } })
      await s.notify([s.ada], { n: 1 })
      await s.notify([s.ada], { n: 2 })
      await clock.set(at(start + 10 * MIN))
      const [held] = (await s.port.claim({ limit: 50, leaseMs: LEASE_MS, infrastructureId: s.i })).filter(
        (h) => h.channelId !== undefined,
      )
      expect(held).toBeDefined()
      const digestId = held!.id
      // Closer A takes the digest and stops inside its unit of work (the latch), uncommitted.
      const scope = TenantScope.of(s.service)
      const inside = latch()
      const release = latch()
      const closerA = storage.unitOfWork.run(scope, async (r) => {
        const d = await r.digests.close(scope, s.i, digestId)
        inside.open()
        await release.wait()
        return d
      })
      await inside.wait()
      // A second closer and a notify race it; neither can finish before A does.
      const closerB = storage.unitOfWork.run(scope, (r) => r.digests.close(scope, s.i, digestId))
      await clock.set(at(start + 10 * MIN - 1))
      const racer = s.notify([s.ada], { n: 3 })
      release.open()
      const [a, b] = await Promise.all([closerA, closerB])
      await racer
      expect(a?.items.map((x) => x.data)).toEqual([{ n: 1 }, { n: 2 }])
      // Both closers see one digest with the same items and the first close time: one delivery.
      expect(b).toEqual(a)
      // The racer's item is in the next digest of its channel, not in the closed one.
      await clock.set(at(start + 30 * MIN))
      const later = await deliverDue(s.port, s.i)
      expect(later.map((o) => digestOf(o.payload).items)).toContainEqual([{ n: 3 }])
      for (const o of later) expect(digestOf(o.payload).id).not.toBe(digestId)
    })

    it('shows which digest carries each recipient, and a cancel takes items out of digests not yet closed', async () => {
      const start = await startHour()
      const s = await seeded({ digest: { windowSeconds: 600, maxItems: 10 } })
      await s.notify([s.ada], { n: 1 })
      const [n2, n3] = [
        (await s.notify([s.ada], { n: 2 })).notification.id,
        (await s.notify([s.ada], { n: 3 })).notification.id,
      ]
      const status = (notificationId: string) =>
        messaging.getNotification(s.admin, { infrastructureId: s.i, notificationId })
      const before = await status(n2)
      expect(before.deliveries).toEqual([])
      expect(before.digested).toHaveLength(2)
      for (const d of before.digested) {
        expect(d).toMatchObject({
          userId: s.ada,
          closedAt: null,
          cancelled: false,
          closesAt: at(start + 10 * MIN),
        })
        // The digest's id is its delivery's: the message names the digest as what it delivers.
        const m = await messaging.getMessage(s.admin, { infrastructureId: s.i, messageId: d.digestId })
        expect(m).toMatchObject({ status: 'pending', notification: { id: d.digestId, userId: s.ada } })
      }
      // Cancelling one notification takes its items out; the digests still carry the others.
      expect(await messaging.cancel(s.admin, { infrastructureId: s.i, notificationId: n2 })).toEqual({
        cancelled: [],
        kept: [],
      })
      expect((await status(n2)).digested.map((d) => d.cancelled)).toEqual([true, true])
      await clock.set(at(start + 10 * MIN))
      const out = await deliverDue(s.port, s.i)
      expect(out.map((o) => digestOf(o.payload).items)).toEqual([
        [{ n: 1 }, { n: 3 }],
        [{ n: 1 }, { n: 3 }],
      ])
      // Closed: its items are fixed, and a cancel no longer changes them.
      expect((await status(n3)).digested.every((d) => d.closedAt !== null && !d.cancelled)).toBe(true)
      await messaging.cancel(s.admin, { infrastructureId: s.i, notificationId: n3 })
      expect((await status(n3)).digested.map((d) => d.cancelled)).toEqual([false, false])
      // A digest whose every item is cancelled is closed, and its delivery cancelled.
      const lone = (await s.notify([s.bob], { n: 4 })).notification.id
      const gone = await messaging.cancel(s.admin, { infrastructureId: s.i, notificationId: lone })
      expect(gone.cancelled.map((m) => m.status)).toEqual(['cancelled', 'cancelled'])
      const after = await status(lone)
      expect(after.digested.map((d) => [d.cancelled, d.closedAt !== null])).toEqual([
        [true, true],
        [true, true],
      ])
      expect(gone.cancelled.map((m) => m.id).sort()).toEqual(after.digested.map((d) => d.digestId).sort())
    })

    it('cancels, rather than sends empty, a digest whose every item was cancelled while a worker held its delivery', async () => {
      const start = await startHour()
      const s = await seeded({ digest: { windowSeconds: 600, maxItems: 10 } })
      const gone = (await s.notify([s.ada], { n: 1 })).notification.id
      await s.notify([s.bob], { n: 2 })
      await clock.set(at(start + 10 * MIN))
      const held = await s.port.claim({ limit: 10, leaseMs: LEASE_MS, infrastructureId: s.i })
      expect(held).toHaveLength(4)
      // The worker stops before it renders (closes) each delivery (the latch) while ada's notification is cancelled.
      const gate = latch()
      const rendering = Promise.all(
        held.map(async (h) => {
          await gate.wait()
          const lookup = await s.port.openChannel(h.infrastructureId, h.channelId)
          if (lookup.status === 'missing') throw new Error(`channel ${h.channelId} missing`)
          return { h, step: await s.port.render(h, lookup.channel.type) }
        }),
      )
      const cancel = await messaging.cancel(s.admin, { infrastructureId: s.i, notificationId: gone })
      // Held under live leases: kept, the holder decides; the emptied digests are closed.
      expect(cancel.cancelled).toEqual([])
      expect(cancel.kept.map((m) => m.status)).toEqual(['processing', 'processing'])
      gate.open()
      const steps = await rendering
      const ada = new Set(cancel.kept.map((m) => m.id))
      for (const { h, step } of steps) {
        if (ada.has(h.id)) {
          expect(step).toEqual({ ok: 'cancelled' })
          expect(
            await messaging.getMessage(s.admin, { infrastructureId: s.i, messageId: h.id }),
          ).toMatchObject({
            status: 'cancelled',
            leaseToken: null,
          })
          // The holder's lease is gone: a late ack changes nothing.
          await messaging
            .ack(s.service, {
              infrastructureId: s.i,
              messageId: h.id,
              leaseToken: h.leaseToken,
              outcome: 'processed',
            })
            .catch(() => undefined)
          expect(
            (await messaging.getMessage(s.admin, { infrastructureId: s.i, messageId: h.id })).status,
          ).toBe('cancelled')
        } else {
          // bob's digests go out whole.
          expect(step.ok === true && digestOf(step.payload).items).toEqual([{ n: 2 }])
        }
      }
      expect(steps.filter(({ step }) => step.ok === 'cancelled')).toHaveLength(2)
      const status = await messaging.getNotification(s.admin, { infrastructureId: s.i, notificationId: gone })
      expect(status.digested.map((d) => [d.cancelled, d.closedAt !== null])).toEqual([
        [true, true],
        [true, true],
      ])
    })

    it('removes a digest with its delivery message when retention prunes it', async () => {
      const start = await startHour()
      const s = await seeded({ digest: { windowSeconds: 60, maxItems: 10 } })
      const n = (await s.notify([s.ada], { n: 1 })).notification.id
      const scope = TenantScope.of(s.service)
      await clock.set(at(start + MIN))
      const held = await s.port.claim({ limit: 10, leaseMs: LEASE_MS, infrastructureId: s.i })
      expect(held).toHaveLength(2)
      // Delivered: closed by its render, acked processed.
      for (const h of held) {
        const lookup = await s.port.openChannel(h.infrastructureId, h.channelId)
        if (lookup.status === 'missing') throw new Error(`channel ${h.channelId} missing`)
        expect((await s.port.render(h, lookup.channel.type)).ok).toBe(true)
        await messaging.ack(s.service, {
          infrastructureId: s.i,
          messageId: h.id,
          leaseToken: h.leaseToken,
          outcome: 'processed',
        })
      }
      // Still there while its message is: a digest outlives nothing it is needed for.
      await storage.prune({ olderThan: { ageMs: 10 * 24 * 60 * MIN } })
      expect(
        (await messaging.getNotification(s.admin, { infrastructureId: s.i, notificationId: n })).digested,
      ).toHaveLength(2)
      await clock.set(at(start + 2 * MIN))
      while ((await storage.prune({ olderThan: { ageMs: 0 } })) > 0) {}
      for (const h of held) {
        await expect(
          storage.unitOfWork.run(scope, (r) => r.digests.find(scope, s.i, h.id)),
        ).resolves.toBeNull()
      }
      expect(
        (await messaging.getNotification(s.admin, { infrastructureId: s.i, notificationId: n })).digested,
      ).toEqual([])
    })

    /** Claims what is due and renders each: a plain message's recipients and what it goes out with. */
    async function deliverPlain(port: DeliveryPort, i: string) {
      const held = await port.claim({ limit: 50, leaseMs: LEASE_MS, infrastructureId: i })
      const out: Array<{ to: string; payload: unknown }> = []
      for (const h of held) {
        const lookup = await port.openChannel(h.infrastructureId, h.channelId)
        if (lookup.status === 'missing') throw new Error(`channel ${h.channelId} missing`)
        const step = await port.render(h, lookup.channel.type)
        expect(step.ok).toBe(true)
        out.push({ to: (h.recipients ?? []).join(','), payload: step.ok === true && step.payload })
      }
      return out.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))
    }

    it('collapses plain enqueues on a channel with a digest into one delivery per destination and key', async () => {
      const start = await startHour()
      const s = await seeded()
      const made = await messaging.createChannel(s.admin, {
        infrastructureId: s.i,
        channelKey: 'batched',
        type: 'email',
        config: { from: 'news@example.com', digest: { windowSeconds: 600, maxItems: 3, key: 'thread' } },
      })
      expect(made.config.digest).toEqual({ windowSeconds: 600, maxItems: 3, key: 'thread' })
      const enqueue = (to: string[], payload: Record<string, unknown>, extra: object = {}) =>
        messaging.enqueue(s.service, {
          infrastructureId: s.i,
          channelKey: 'batched',
          recipients: to,
          payload: payload as never,
          ...extra,
        })
      const first = await enqueue(['ada@example.com'], { n: 1, thread: 'x' })
      // The answer is the digest's delivery: due when the window ends, naming the digest.
      expect(first).toMatchObject({
        created: true,
        message: {
          status: 'pending',
          payload: { digestId: first.message.id },
          availableAt: at(start + 10 * MIN),
        },
      })
      await clock.set(at(start + MIN))
      const second = await enqueue(['ada@example.com'], { n: 2, thread: 'x' })
      expect(second.message.id).toBe(first.message.id)
      await enqueue(['bob@example.com'], { n: 3, thread: 'x' })
      await enqueue(['ada@example.com'], { n: 4, thread: 'y' })
      // A batch folds too, beside a message of a channel without a digest, written on its own.
      const batch = await messaging.enqueueMany(s.service, [
        {
          infrastructureId: s.i,
          channelKey: 'mail',
          recipients: ['ada@example.com'],
          payload: { alone: true },
        },
        {
          infrastructureId: s.i,
          channelKey: 'batched',
          recipients: ['ada@example.com'],
          payload: { n: 5, thread: 'x' },
        },
      ])
      expect(batch[0]!.message.payload).toEqual({ alone: true })
      expect(batch[1]!.message.id).toBe(first.message.id)
      // The item that fills a digest (maxItems 3) makes its delivery due at once.
      expect(await deliverPlain(s.port, s.i)).toEqual([
        { to: 'ada@example.com', payload: { alone: true } },
        {
          to: 'ada@example.com',
          payload: {
            digest: {
              id: first.message.id,
              count: 3,
              items: [
                { n: 1, thread: 'x' },
                { n: 2, thread: 'x' },
                { n: 5, thread: 'x' },
              ],
              firstAt: at(start).toISOString(),
              lastAt: at(start + MIN).toISOString(),
            },
          },
        },
      ])
      await clock.set(at(start + 10 * MIN))
      expect(await deliverPlain(s.port, s.i)).toEqual([])
      await clock.set(at(start + 11 * MIN))
      const rest = await deliverPlain(s.port, s.i)
      expect(rest.map((o) => [o.to, digestOf(o.payload).items.map((x) => x.n)])).toEqual([
        ['ada@example.com', [4]],
        ['bob@example.com', [3]],
      ])
      // A notify over the channel is a category's business: it goes on its own.
      await messaging.createCategory(s.admin, {
        infrastructureId: s.i,
        key: 'plain.mail',
        name: 'Plain',
        channels: { email: { channelKey: 'batched' } },
      })
      const n = await messaging.notify(s.service, {
        infrastructureId: s.i,
        category: 'plain.mail',
        to: { users: [s.ada] },
        data: { hello: 1 },
      })
      expect(n.notification.messageCount).toBe(1)
      expect((await deliverPlain(s.port, s.i)).map((o) => o.payload)).toEqual([{ hello: 1 }])
    })

    it('counts the messages held in open digests in the queue health, per tenant and channel', async () => {
      const start = await startHour()
      const s = await seeded({ digest: { windowSeconds: 600, maxItems: 10 } })
      const other = await seeded()
      const batched = await messaging.createChannel(s.admin, {
        infrastructureId: s.i,
        channelKey: 'batched',
        type: 'in_app',
        config: { digest: { windowSeconds: 600, maxItems: 10 } },
      })
      await s.notify([s.ada], { n: 1 })
      await s.notify([s.ada, s.bob], { n: 2 })
      for (const n of [1, 2, 3]) {
        await messaging.enqueue(s.service, { infrastructureId: s.i, channelId: batched.id, payload: { n } })
      }
      await other.notify([other.ada], { n: 1 })
      const held = async (p: Principal, i: string) =>
        Object.fromEntries(
          (await messaging.stats(p, { infrastructureId: i })).map((c) => [
            c.channelId,
            [c.pending, c.digested],
          ]),
        )
      const channels = await messaging.listChannels(s.admin, { infrastructureId: s.i })
      const id = (key: string) => channels.find((c) => c.channelKey === key)!.id
      // ada's and bob's digests on each channel of the category, one digest of the channel: one pending delivery each.
      expect(await held(s.admin, s.i)).toEqual({
        [id('alerts')]: [2, 3],
        [id('mail')]: [2, 3],
        [id('batched')]: [1, 3],
      })
      expect(await held(s.service, s.i)).toEqual(await held(s.admin, s.i))
      // The other tenant's own digests only.
      expect(Object.values(await held(other.admin, other.i))).toEqual([
        [1, 1],
        [1, 1],
      ])
      // A member reads the queue, not the digests (they hold others' data).
      const member = principal('member', [[s.i, null]], s.ada)
      expect(Object.values(await held(member, s.i)).map(([, d]) => d)).toEqual([0, 0, 0])
      // Metrics sum them per tenant.
      const text = prometheusText(tenantQueues(await messaging.stats(s.admin, { infrastructureId: s.i })))
      expect(text).toContain(`messaging_digested_messages{infrastructure_id="${s.i}"} 9\n`)
      // Closed by their deliveries: nothing is held any more.
      await clock.set(at(start + 10 * MIN))
      expect(await deliverDue(s.port, s.i)).toHaveLength(5)
      expect(Object.values(await held(s.admin, s.i)).map(([, d]) => d)).toEqual([0, 0, 0])
    })

    it('closes a digest whose delivery is cancelled: the next item opens a new digest rather than joining one that never goes out', async () => {
      const start = await startHour()
      const s = await seeded()
      const c = await messaging.createChannel(s.admin, {
        infrastructureId: s.i,
        channelKey: 'batched',
        type: 'in_app',
        config: { digest: { windowSeconds: 600, maxItems: 10 } },
      })
      const first = await messaging.enqueue(s.service, {
        infrastructureId: s.i,
        channelId: c.id,
        payload: { n: 1 },
      })
      const cancelled = await messaging.cancel(s.admin, {
        infrastructureId: s.i,
        messageId: first.message.id,
      })
      expect(cancelled.cancelled.map((m) => m.id)).toEqual([first.message.id])
      const scope = TenantScope.of(s.service)
      const closed = await storage.unitOfWork.run(scope, (r) => r.digests.find(scope, s.i, first.message.id))
      expect(closed?.closedAt).not.toBeNull()
      const next = await messaging.enqueue(s.service, {
        infrastructureId: s.i,
        channelId: c.id,
        payload: { n: 2 },
      })
      expect(next.message.id).not.toBe(first.message.id)
      await clock.set(at(start + 10 * MIN))
      expect((await deliverPlain(s.port, s.i)).map((o) => digestOf(o.payload).items)).toEqual([[{ n: 2 }]])
    })

    it('validates a channel digest like a category digest, and refuses what one delivery cannot carry', async () => {
      await startHour()
      const s = await seeded()
      const create = (digest: unknown) =>
        messaging.createChannel(s.admin, {
          infrastructureId: s.i,
          channelKey: `c${Math.random().toString(36).slice(2, 8)}`,
          type: 'in_app',
          config: { digest } as never,
        })
      expect(await issues(create({ windowSeconds: 0, maxItems: 5 }))).toEqual([
        'config.digest.windowSeconds too_small',
      ])
      expect(await issues(create({ windowSeconds: 60, maxItems: 1001 }))).toEqual([
        'config.digest.maxItems too_big',
      ])
      expect(await issues(create({ windowSeconds: 60, maxItems: 5, key: 'a..b' }))).toEqual([
        'config.digest.key format:regex',
      ])
      const c = await create({ windowSeconds: 60, maxItems: 5 })
      expect(c.config.digest).toEqual({ windowSeconds: 60, maxItems: 5, key: null })
      expect(
        await issues(
          messaging.configureChannel(s.admin, {
            infrastructureId: s.i,
            channelId: c.id,
            config: { digest: { windowSeconds: 60, maxItems: 1 } },
          }),
        ),
      ).toEqual(['config.digest.maxItems too_small'])
      const before = await messaging.listMessages(s.admin, { infrastructureId: s.i })
      expect(
        await issues(
          messaging.enqueue(s.service, {
            infrastructureId: s.i,
            channelId: c.id,
            payload: { n: 1 },
            idempotencyKey: 'k1',
          }),
        ),
      ).toEqual(['idempotencyKey channel_digest'])
      expect(
        await issues(
          messaging.enqueueMany(s.service, [
            { infrastructureId: s.i, channelId: c.id, payload: { n: 1 } },
            { infrastructureId: s.i, channelId: c.id, payload: { n: 2 }, orderingKey: 'o1' },
          ]),
        ),
      ).toEqual(['items.1.orderingKey channel_digest'])
      // All or nothing: the batch's first item opened no digest.
      expect(await messaging.listMessages(s.admin, { infrastructureId: s.i })).toEqual(before)
      // Without its digest the channel takes each message alone again.
      await messaging.configureChannel(s.admin, { infrastructureId: s.i, channelId: c.id, config: {} })
      const alone = await messaging.enqueue(s.service, {
        infrastructureId: s.i,
        channelId: c.id,
        payload: { n: 3 },
      })
      expect(alone.message.payload).toEqual({ n: 3 })
    })

    it("keeps each tenant's digests to itself", async () => {
      await startHour()
      const s = await seeded()
      const other = await seeded()
      await s.notify([s.ada], { secret: 'ours' })
      const [held] = await s.port.claim({ limit: 1, leaseMs: 1, infrastructureId: s.i }).then(async (h) => {
        if (h.length > 0) return h
        await clock.set(at(hour * 60 * MIN + 11 * MIN))
        return s.port.claim({ limit: 1, leaseMs: LEASE_MS, infrastructureId: s.i })
      })
      const id = held!.id
      const stranger = TenantScope.of(other.service)
      const run = <T>(p: Principal, work: (scope: TenantScope) => (r: Repositories) => Promise<T>) => {
        const scope = TenantScope.of(p)
        return storage.unitOfWork.run(scope, work(scope))
      }
      await expect(run(other.service, (sc) => (r) => r.digests.find(sc, s.i, id))).resolves.toBeNull()
      const member = principal('member', [[s.i, null]], s.ada)
      await expect(run(member, (sc) => (r) => r.digests.find(sc, s.i, id))).resolves.toBeNull()
      // A close outside the scope changes nothing: the digest stays open for its own tenant.
      await run(other.service, (sc) => (r) => r.digests.close(sc, s.i, id).catch(() => null))
      expect(stranger.canAccessInfrastructure(s.i)).toBe(false)
      const mine = await run(s.service, (sc) => (r) => r.digests.find(sc, s.i, id))
      expect(mine).toMatchObject({ id, closedAt: null, items: [{ data: { secret: 'ours' } }] })
    })
  })
}
