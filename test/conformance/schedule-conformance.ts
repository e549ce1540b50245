import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMessaging, type Messaging, type MessagingStorage } from '../../src/index.js'
import { createSecretBox } from '../../src/secrets/index.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { principal, tenant, uuid } from '../support/fixtures.js'
import { type Behaviour, scriptedTransport, testChannelType, until } from '../support/transports.js'
import type { StorageFactory } from './repository-conformance.js'

const HOUR = 3_600_000

/**
 * Cancel and reschedule on every storage adapter: what a cancel takes (pending and
 * scheduled messages, a notification's fan-out, what an idempotency key produced) and what
 * it leaves to a worker, the fence that refuses a holder come back too late, audit and
 * refusals, stats, filters and retention, and moving a pending message's due time.
 */
export function describeScheduleConformance(name: string, factory: StorageFactory): void {
  describe(`cancel and reschedule conformance: ${name}`, () => {
    let storage: MessagingStorage
    let messaging: Messaging
    beforeAll(async () => {
      storage = await factory()
      messaging = createMessaging({
        storage,
        channelTypes: [testChannelType],
        secrets: createSecretBox({ keys: { k1: randomBytes(32).toString('base64') }, activeKeyId: 'k1' }),
      })
    })
    afterAll(async () => {
      await storage?.close()
    })

    /** A tenant with one `test` channel, its admin, a producer (member) and a worker principal. */
    async function setup() {
      const t = tenant()
      const i = t.infra
      const admin = principal('infra_admin', [[i, null]])
      const producer = principal('member', [[i, null]])
      const service = principal('service', [[i, null]])
      const channel = await messaging.createChannel(admin, {
        infrastructureId: i,
        channelKey: 'test',
        type: 'test',
        maxAttempts: 3,
      })
      const enqueue = (
        behaviour: Behaviour = { do: 'deliver' },
        extra: {
          availableAt?: Date
          idempotencyKey?: string
          businessId?: string
          priority?: 'high' | 'normal' | 'low'
        } = {},
      ) =>
        messaging
          .enqueue(producer, { infrastructureId: i, channelId: channel.id, payload: { behaviour }, ...extra })
          .then((r) => r.message)
      const transport = scriptedTransport()
      const worker = () =>
        createDeliveryWorker({
          messaging,
          principal: service,
          transports: [transport],
          pollIntervalMs: 20,
          retry: { baseMs: 10, maxMs: 40 },
          random: () => 1,
        })
      const get = (id: string) => messaging.getMessage(admin, { infrastructureId: i, messageId: id })
      return { t, i, admin, producer, service, channel, enqueue, transport, worker, get }
    }

    it('cancels a pending and a scheduled message: final, audited, never sent, counted, listed and pruned', async () => {
      const s = await setup()
      const due = await s.enqueue()
      const later = await s.enqueue({ do: 'deliver' }, { availableAt: new Date(Date.now() + HOUR) })
      const other = await s.enqueue()
      for (const m of [due, later]) {
        const r = await messaging.cancel(s.admin, { infrastructureId: s.i, messageId: m.id })
        expect(r.kept).toEqual([])
        expect(r.cancelled).toMatchObject([
          { id: m.id, status: 'cancelled', leaseToken: null, leasedUntil: null, attempts: 0 },
        ])
        expect(r.cancelled[0]!.settledAt).toBeInstanceOf(Date)
      }
      // Final: cancelling again changes nothing and says so; a worker never sends it.
      const again = await messaging.cancel(s.service, { infrastructureId: s.i, messageId: due.id })
      expect(again).toMatchObject({ cancelled: [], kept: [{ id: due.id, status: 'cancelled' }] })
      expect(await s.worker().drain()).toBe(1)
      expect([...s.transport.delivered.keys()]).toEqual([other.id])
      expect(await s.get(due.id)).toMatchObject({ status: 'cancelled', attempts: 0 })
      expect(await s.get(later.id)).toMatchObject({ status: 'cancelled' })

      const audit = await messaging.listAudit(s.admin, { infrastructureId: s.i, action: 'outbox.cancel' })
      expect(audit.map((e) => [e.targetId, e.outcome, e.actorId]).sort()).toEqual(
        [
          [due.id, 'ok', s.admin.userId],
          [later.id, 'ok', s.admin.userId],
        ].sort(),
      )
      expect(await messaging.stats(s.admin, { infrastructureId: s.i })).toEqual([
        {
          infrastructureId: s.i,
          channelId: s.channel.id,
          pending: 0,
          inFlight: 0,
          processed: 1,
          failed: 0,
          dead: 0,
          cancelled: 2,
          confirmed: 0,
          bounced: 0,
          oldestPendingAgeMs: null,
          digested: 0,
        },
      ])
      const listed = await messaging.listMessages(s.admin, { infrastructureId: s.i, status: 'cancelled' })
      expect(listed.map((m) => m.id).sort()).toEqual([due.id, later.id].sort())

      // Retention prunes cancelled rows like other settled ones (by when they were cancelled).
      let removed = 0
      for (let n = -1; n !== 0; removed += n)
        n = await messaging.prune({ olderThan: new Date(Date.now() + 1000), batchSize: 500 })
      expect(removed).toBeGreaterThanOrEqual(3)
      await expect(s.get(due.id)).rejects.toMatchObject({ code: 'NOT_FOUND' })
      await expect(s.get(later.id)).rejects.toMatchObject({ code: 'NOT_FOUND' })
    })

    it('leaves a message a worker holds to the worker: cancelled while its transport is blocked mid-send, the send settles it and the cancel takes nothing', async () => {
      const s = await setup()
      const held = await s.enqueue({ do: 'gate' })
      const w = s.worker()
      const stop = new AbortController()
      const running = w.run(stop.signal)
      // The latch: the transport has the message in hand and waits for the gate.
      await until(() => s.transport.calls.some((c) => c.id === held.id), 10_000)
      const r = await messaging.cancel(s.admin, { infrastructureId: s.i, messageId: held.id })
      expect(r.cancelled).toEqual([])
      expect(r.kept).toMatchObject([{ id: held.id, status: 'processing' }])
      s.transport.openGate()
      await until(async () => (await s.get(held.id)).status === 'processed', 10_000)
      stop.abort()
      await running
      expect(s.transport.delivered.get(held.id)).toBe(1)
      expect(await messaging.listAudit(s.admin, { infrastructureId: s.i, action: 'outbox.cancel' })).toEqual(
        [],
      )
    })

    it('cancels a message whose holder is gone (its lease lapsed): the holder coming back is refused by its fence', async () => {
      const s = await setup()
      const m = await s.enqueue()
      const port = messaging.deliveryPort({ principal: s.service })
      const [old] = await port.claim({ limit: 1, leaseMs: 50 })
      expect(old!.id).toBe(m.id)
      // The lease must lapse by the store's clock; leasedUntil is that clock's time.
      await until(async () => {
        const r = await messaging.cancel(s.admin, { infrastructureId: s.i, messageId: m.id })
        return r.cancelled.length === 1
      }, 10_000)
      const report = {
        outcome: 'delivered' as const,
        errorCode: null,
        error: null,
        providerMessageId: null,
        startedAt: new Date(),
        finishedAt: new Date(),
        workerId: uuid(),
      }
      expect(await port.settle([{ held: old!, report }])).toMatchObject([{ acked: false }])
      expect(await port.renew(old!, 30_000)).toBe(false)
      expect(await port.release(old!, 0)).toBe(false)
      expect(await s.get(m.id)).toMatchObject({ status: 'cancelled', leaseToken: null })
      expect(await messaging.listAttempts(s.admin, { infrastructureId: s.i, messageId: m.id })).toEqual([])
      expect(await port.claim({ limit: 10, leaseMs: 30_000 })).toEqual([])
    })

    it('cancels what an idempotency key produced, in the caller tenant and business only', async () => {
      const s = await setup()
      const o = await setup()
      const key = `order-${uuid()}`
      const mine = await s.enqueue({ do: 'deliver' }, { idempotencyKey: key })
      const inBusiness = await s.enqueue({ do: 'deliver' }, { idempotencyKey: key, businessId: s.t.bizA })
      const theirs = await o.enqueue({ do: 'deliver' }, { idempotencyKey: key })
      const r = await messaging.cancel(s.admin, { infrastructureId: s.i, idempotencyKey: key })
      expect(r.cancelled.map((m) => m.id)).toEqual([mine.id])
      expect(await s.get(inBusiness.id)).toMatchObject({ status: 'pending' })
      expect(await o.get(theirs.id)).toMatchObject({ status: 'pending' })
      const b = await messaging.cancel(s.admin, {
        infrastructureId: s.i,
        idempotencyKey: key,
        businessId: s.t.bizA,
      })
      expect(b.cancelled.map((m) => m.id)).toEqual([inBusiness.id])
      await expect(
        messaging.cancel(s.admin, { infrastructureId: s.i, idempotencyKey: 'never-used' }),
      ).rejects.toMatchObject({ code: 'NOT_FOUND' })
    })

    it("cancels a whole notification, by id or by the notify's idempotency key; its status counts them cancelled", async () => {
      const s = await setup()
      await messaging.createChannel(s.admin, { infrastructureId: s.i, channelKey: 'alerts', type: 'in_app' })
      await messaging.createCategory(s.admin, {
        infrastructureId: s.i,
        key: 'order.shipped',
        name: 'Order shipped',
        channels: { in_app: { channelKey: 'alerts' } },
      })
      const people = [principal('member', [[s.i, null]]), principal('member', [[s.i, null]])]
      for (const p of people)
        await messaging.upsertProfile(s.admin, { infrastructureId: s.i, userId: p.userId, locale: 'en' })
      const notify = (idempotencyKey: string) =>
        messaging.notify(s.service, {
          infrastructureId: s.i,
          category: 'order.shipped',
          to: { users: people.map((p) => p.userId) },
          data: { order: 'A-1' },
          idempotencyKey,
        })
      const { notification: n } = await notify(`n-${uuid()}`)
      const byId = await messaging.cancel(s.admin, { infrastructureId: s.i, notificationId: n.id })
      expect(byId.cancelled).toHaveLength(2)
      expect(byId.cancelled.every((m) => m.notification?.id === n.id)).toBe(true)
      const status = await messaging.getNotification(s.admin, { infrastructureId: s.i, notificationId: n.id })
      expect(status.counts).toMatchObject({ cancelled: 2, pending: 0 })
      expect(status.deliveries.map((d) => d.state)).toEqual(['cancelled', 'cancelled'])

      const key = `n-${uuid()}`
      const { notification: n2 } = await notify(key)
      const byKey = await messaging.cancel(s.service, { infrastructureId: s.i, idempotencyKey: key })
      expect(byKey.cancelled.map((m) => m.notification?.id)).toEqual([n2.id, n2.id])
      await expect(
        messaging.cancel(s.admin, { infrastructureId: s.i, notificationId: uuid() }),
      ).rejects.toMatchObject({ code: 'NOT_FOUND' })
    })

    it("refuses another tenant's cancel and reschedule like any cross-tenant write (security log), a member's by role (audit)", async () => {
      const s = await setup()
      const o = await setup()
      const m = await s.enqueue({ do: 'deliver' }, { availableAt: new Date(Date.now() + HOUR) })
      // Another tenant's admin names this tenant: refused, recorded where it may write.
      await expect(
        messaging.cancel(o.admin, { infrastructureId: s.i, messageId: m.id }),
      ).rejects.toMatchObject({ code: 'TENANT_SCOPE_VIOLATION' })
      await expect(
        messaging.reschedule(o.admin, { infrastructureId: s.i, messageId: m.id, availableAt: new Date() }),
      ).rejects.toMatchObject({ code: 'TENANT_SCOPE_VIOLATION' })
      // ... or its own tenant with this tenant's message id: nothing there to name.
      await expect(
        messaging.cancel(o.admin, { infrastructureId: o.i, messageId: m.id }),
      ).rejects.toMatchObject({ code: 'NOT_FOUND' })
      const events = await messaging.listSecurityEvents({ actorId: o.admin.userId, limit: 100 })
      expect(events.map((e) => [e.action, e.errorCode, e.lastInfrastructureId]).sort()).toEqual([
        ['outbox.cancel', 'TENANT_SCOPE_VIOLATION', s.i],
        ['outbox.reschedule', 'TENANT_SCOPE_VIOLATION', s.i],
      ])
      await expect(
        messaging.cancel(s.producer, { infrastructureId: s.i, messageId: m.id }),
      ).rejects.toMatchObject({ code: 'FORBIDDEN_ROLE' })
      const refused = await messaging.listAudit(s.admin, { infrastructureId: s.i, action: 'outbox.cancel' })
      expect(refused).toMatchObject([
        { actorId: s.producer.userId, outcome: 'refused', errorCode: 'FORBIDDEN_ROLE' },
      ])
      expect(await s.get(m.id)).toMatchObject({ status: 'pending' })
      // Bad input is a typed error naming the field, the same on every store.
      await expect(
        messaging.cancel(s.admin, { infrastructureId: s.i, messageId: m.id, notificationId: uuid() }),
      ).rejects.toMatchObject({ code: 'VALIDATION_FAILED', field: 'messageId' })
      await expect(
        messaging.reschedule(s.admin, {
          infrastructureId: s.i,
          messageId: m.id,
          availableAt: 'soon' as unknown as Date,
        }),
      ).rejects.toMatchObject({ code: 'VALIDATION_FAILED', field: 'availableAt' })
    })

    it('reschedules a pending message (earlier or later) and refuses any other state, naming it', async () => {
      const s = await setup()
      const m = await s.enqueue({ do: 'deliver' }, { availableAt: new Date(Date.now() + HOUR) })
      const port = messaging.deliveryPort({ principal: s.service })
      expect(await port.claim({ limit: 10, leaseMs: 30_000 })).toEqual([])
      const soon = new Date(Date.now() - 1000)
      const moved = await messaging.reschedule(s.admin, {
        infrastructureId: s.i,
        messageId: m.id,
        availableAt: soon,
      })
      expect(moved).toMatchObject({ id: m.id, status: 'pending', availableAt: soon })
      const [audit] = await messaging.listAudit(s.admin, {
        infrastructureId: s.i,
        action: 'outbox.reschedule',
      })
      expect(audit).toMatchObject({ targetId: m.id, outcome: 'ok', details: { to: soon.toISOString() } })
      // Later again, then due: the claim follows the due time the store holds.
      await messaging.reschedule(s.service, {
        infrastructureId: s.i,
        messageId: m.id,
        availableAt: new Date(Date.now() + HOUR),
      })
      expect(await port.claim({ limit: 10, leaseMs: 30_000 })).toEqual([])
      await messaging.reschedule(s.admin, { infrastructureId: s.i, messageId: m.id, availableAt: soon })
      const [held] = await port.claim({ limit: 10, leaseMs: 30_000 })
      expect(held!.id).toBe(m.id)
      const refused = (availableAt: Date) =>
        messaging.reschedule(s.admin, { infrastructureId: s.i, messageId: m.id, availableAt })
      await expect(refused(new Date())).rejects.toMatchObject({
        code: 'ILLEGAL_TRANSITION',
        from: 'processing',
      })
      await port.settle([
        {
          held: held!,
          report: {
            outcome: 'delivered',
            errorCode: null,
            error: null,
            providerMessageId: null,
            startedAt: new Date(),
            finishedAt: new Date(),
            workerId: uuid(),
          },
        },
      ])
      await expect(refused(new Date())).rejects.toMatchObject({
        code: 'ILLEGAL_TRANSITION',
        from: 'processed',
      })
      const c = await s.enqueue()
      await messaging.cancel(s.admin, { infrastructureId: s.i, messageId: c.id })
      await expect(
        messaging.reschedule(s.admin, { infrastructureId: s.i, messageId: c.id, availableAt: new Date() }),
      ).rejects.toMatchObject({ code: 'ILLEGAL_TRANSITION', from: 'cancelled' })
      await expect(
        messaging.reschedule(s.admin, { infrastructureId: s.i, messageId: uuid(), availableAt: new Date() }),
      ).rejects.toMatchObject({ code: 'NOT_FOUND' })
    })
    it("claims a tenant's higher priorities first, then its oldest; enqueue and notify take a priority", async () => {
      const s = await setup()
      const past = (ms: number) => new Date(Date.now() - 60_000 + ms)
      // Enqueued oldest first, in the reverse of the claim order.
      const low = await s.enqueue({ do: 'deliver' }, { priority: 'low', availableAt: past(0) })
      const normalOld = await s.enqueue({ do: 'deliver' }, { availableAt: past(1) })
      const normalNew = await s.enqueue({ do: 'deliver' }, { priority: 'normal', availableAt: past(2) })
      const high = await s.enqueue({ do: 'deliver' }, { priority: 'high', availableAt: past(3) })
      // A scheduled high one is not due: it waits, whatever its priority.
      const later = await s.enqueue(
        { do: 'deliver' },
        { priority: 'high', availableAt: new Date(Date.now() + HOUR) },
      )
      expect([low, normalOld, high, later].map((m) => m.priority)).toEqual(['low', 'normal', 'high', 'high'])
      expect(await s.get(high.id)).toMatchObject({ priority: 'high' })
      const port = messaging.deliveryPort({ principal: s.service })
      const order: string[] = []
      for (let n = 0; n < 5; n++)
        order.push(...(await port.claim({ limit: 1, leaseMs: 30_000 })).map((m) => m.id))
      expect(order).toEqual([high.id, normalOld.id, normalNew.id, low.id])
      // One claim of many hands them out in the same order.
      const t = await setup()
      const a = await t.enqueue({ do: 'deliver' }, { priority: 'low', availableAt: past(0) })
      const b = await t.enqueue({ do: 'deliver' }, { priority: 'high', availableAt: past(1) })
      const c = await t.enqueue({ do: 'deliver' }, { availableAt: past(2) })
      const batch = await messaging
        .deliveryPort({ principal: t.service })
        .claim({ limit: 10, leaseMs: 30_000 })
      expect(batch.map((m) => m.id)).toEqual([b.id, c.id, a.id])
      await expect(
        messaging.enqueue(s.producer, {
          infrastructureId: s.i,
          channelId: s.channel.id,
          payload: {},
          priority: 'urgent' as never,
        }),
      ).rejects.toMatchObject({ code: 'VALIDATION_FAILED', field: 'priority' })
    })

    it("keeps tenants fair whatever their priorities: one tenant's many high messages never hold back another's low one", async () => {
      const a = await setup()
      const b = await setup()
      const both = principal('service', [
        [a.i, null],
        [b.i, null],
      ])
      const past = (ms: number) => new Date(Date.now() - 60_000 + ms)
      const batch = Array.from({ length: 200 }, (_, k) => ({
        infrastructureId: a.i,
        channelId: a.channel.id,
        payload: { k },
        priority: 'high' as const,
        availableAt: past(k),
      }))
      await messaging.enqueueMany(a.admin, batch)
      // B's one message is low and younger than all of A's.
      const lone = await b.enqueue({ do: 'deliver' }, { priority: 'low', availableAt: past(500) })
      const port = messaging.deliveryPort({ principal: both })
      // The first fair round takes one of each tenant: B's low message is in it.
      const first = await port.claim({ limit: 2, leaseMs: 30_000 })
      expect(first.map((m) => m.infrastructureId).sort()).toEqual([a.i, b.i].sort())
      expect(first.find((m) => m.infrastructureId === b.i)!.id).toBe(lone.id)
      expect(first.find((m) => m.infrastructureId === a.i)!.priority).toBe('high')
    })

    it('carries the priority of a notify to every message of its fan-out', async () => {
      const s = await setup()
      await messaging.createChannel(s.admin, { infrastructureId: s.i, channelKey: 'alerts', type: 'in_app' })
      await messaging.createCategory(s.admin, {
        infrastructureId: s.i,
        key: 'security.alert',
        name: 'Security alert',
        channels: { in_app: { channelKey: 'alerts' } },
      })
      const people = [principal('member', [[s.i, null]]), principal('member', [[s.i, null]])]
      for (const p of people)
        await messaging.upsertProfile(s.admin, { infrastructureId: s.i, userId: p.userId, locale: 'en' })
      const plain = await s.enqueue({ do: 'deliver' }, { availableAt: new Date(Date.now() - 60_000) })
      const { notification: n } = await messaging.notify(s.service, {
        infrastructureId: s.i,
        category: 'security.alert',
        to: { users: people.map((p) => p.userId) },
        priority: 'high',
      })
      const msgs = await messaging.listMessages(s.admin, { infrastructureId: s.i })
      const mine = msgs.filter((m) => m.notification?.id === n.id)
      expect(mine.map((m) => m.priority)).toEqual(['high', 'high'])
      // A normal plain message enqueued earlier still goes after them.
      expect(
        (await messaging.deliveryPort({ principal: s.service }).claim({ limit: 2, leaseMs: 30_000 })).map(
          (m) => m.notification?.id,
        ),
      ).toEqual([n.id, n.id])
      expect(await s.get(plain.id)).toMatchObject({ status: 'pending', priority: 'normal' })
    })
  })
}
