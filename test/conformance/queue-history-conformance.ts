import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DeliveryAttempt } from '../../src/domain/delivery.js'
import type { TenantScope } from '../../src/domain/tenant-scope.js'
import {
  createMessaging,
  ForbiddenRoleError,
  type Messaging,
  type MessagingStorage,
  type QueueMinute,
  type Repositories,
  TenantScopeViolationError,
} from '../../src/index.js'
import {
  at,
  channel,
  enqueueCommand,
  message,
  principal,
  scopeOf,
  tenant,
  uuid,
} from '../support/fixtures.js'
import type { StoreClock } from '../support/store-clock.js'

/** A store and the clock it resolves its times against (the suite moves it). */
export type QueueHistoryFactory = () => Promise<{ storage: MessagingStorage; clock: StoreClock }>

const MIN = 60_000
/** The figures of a minute, without its date (checked on its own). */
const figures = (m: QueueMinute) => ({
  enqueued: m.enqueued,
  delivered: m.delivered,
  failedAttempts: m.failedAttempts,
  dead: m.dead,
  backlog: m.backlog,
})
const zero = { enqueued: 0, delivered: 0, failedAttempts: 0, dead: 0 }

/**
 * The queue's per-minute rollup (issue 19 item 6), the same on every store: fixed activity
 * over minutes of the store's clock yields exactly these figures per minute, another
 * tenant's activity none of them, members and business-scoped admins none at all, and
 * retention drops minutes older than three hours.
 */
export function describeQueueHistoryConformance(name: string, factory: QueueHistoryFactory): void {
  describe(`queue history conformance: ${name}`, () => {
    let storage: MessagingStorage
    let clock: StoreClock
    let messaging: Messaging
    beforeAll(async () => {
      ;({ storage, clock } = await factory())
      messaging = createMessaging({ storage })
    })
    afterAll(async () => {
      await storage?.close()
    })
    const run = <T>(scope: TenantScope, work: (r: Repositories) => Promise<T>) =>
      storage.unitOfWork.run(scope, work)

    async function seeded() {
      const t = tenant()
      const admin = scopeOf('infra_admin', [[t.infra, null]])
      const worker = scopeOf('service', [[t.infra, null]])
      const ch = channel(t.infra, { createdBy: admin.userId })
      await clock.set(at(0))
      await run(admin, (r) => r.channels.insert(admin, ch))
      return { t, admin, worker, ch }
    }

    const attempt = (infrastructureId: string, messageId: string, outcome: DeliveryAttempt['outcome']) => ({
      id: uuid(),
      infrastructureId,
      messageId,
      attempt: 1,
      workerId: uuid(),
      workerHost: null,
      startedAt: at(0),
      finishedAt: at(0),
      durationMs: 0,
      outcome,
      errorCode: outcome === 'delivered' ? null : 'http_500',
      error: outcome === 'delivered' ? null : 'boom',
      providerMessageId: null,
    })

    it('counts fixed activity minute by minute: enqueued, delivered, failed attempts, dead and the backlog at each end', async () => {
      const { t, admin, worker, ch } = await seeded()
      // Minute 0: five messages in a batch of four and one alone; a repeated idempotency key adds none.
      await clock.set(at(10_000))
      const ms = Array.from({ length: 5 }, (_, i) =>
        message(t.infra, ch.id, { maxAttempts: 1, idempotencyKey: `k${i}`, availableAt: at(0) }),
      )
      await run(admin, (r) =>
        r.outbox.enqueueMany(
          admin,
          ms.slice(0, 4).map((m) => enqueueCommand(admin, m)),
        ),
      )
      await run(admin, (r) => r.outbox.enqueueMany(admin, [enqueueCommand(admin, ms[4]!)]))
      const again = message(t.infra, ch.id, { idempotencyKey: 'k0' })
      const [repeat] = await run(admin, (r) => r.outbox.enqueueMany(admin, [enqueueCommand(admin, again)]))
      expect(repeat!.created).toBe(false)

      // Minute 1: four claimed in one batch and settled in one: two delivered, one retried, one dead.
      await clock.set(at(MIN + 5_000))
      const held = await run(worker, (r) => r.outbox.claim(worker, { limit: 4, leaseMs: 600_000 }))
      expect(held).toHaveLength(4)
      const settled = await run(worker, (r) =>
        r.outbox.completeMany(worker, [
          ...held.slice(0, 2).map((h) => ({
            settle: {
              infrastructureId: t.infra,
              id: h.id,
              leaseToken: h.leaseToken,
              settlement: { status: 'processed' as const, lastError: null },
            },
            attempt: attempt(t.infra, h.id, 'delivered'),
          })),
          {
            settle: {
              infrastructureId: t.infra,
              id: held[2]!.id,
              leaseToken: held[2]!.leaseToken,
              settlement: { status: 'pending' as const, lastError: 'busy', retryAfterMs: 600_000 },
            },
            attempt: attempt(t.infra, held[2]!.id, 'retryable'),
          },
          {
            settle: {
              infrastructureId: t.infra,
              id: held[3]!.id,
              leaseToken: held[3]!.leaseToken,
              settlement: { status: 'dead' as const, lastError: 'gone' },
            },
            attempt: attempt(t.infra, held[3]!.id, 'permanent'),
          },
        ]),
      )
      expect(settled).toEqual([true, true, true, true])

      // Minute 3: the dead one redriven (back in the backlog), a pending one cancelled (out of it).
      await clock.set(at(3 * MIN + 1_000))
      expect(
        await run(admin, (r) => r.outbox.redrive(admin, { infrastructureId: t.infra, id: held[3]!.id })),
      ).not.toBeNull()
      const unclaimed = ms.find((m) => !held.some((h) => h.id === m.id))!
      const cancel = await run(admin, (r) =>
        r.outbox.cancel(admin, { infrastructureId: t.infra, target: { messageId: unclaimed.id } }),
      )
      expect(cancel.cancelled).toHaveLength(1)

      // Another tenant's activity in the same minutes counts for it alone.
      const other = await seeded()
      await clock.set(at(3 * MIN + 2_000))
      await run(other.admin, (r) =>
        r.outbox.enqueueMany(other.admin, [enqueueCommand(other.admin, message(other.t.infra, other.ch.id))]),
      )

      await clock.set(at(3 * MIN + 30_000))
      const history = await messaging.queueHistory(admin.principal, { infrastructureId: t.infra, minutes: 5 })
      expect(history.map((m) => m.minute.toISOString())).toEqual(
        [-1, 0, 1, 2, 3].map((i) => at(i * MIN).toISOString()),
      )
      expect(history.map(figures)).toEqual([
        { ...zero, backlog: 0 },
        { ...zero, enqueued: 5, backlog: 5 },
        { ...zero, delivered: 2, failedAttempts: 2, dead: 1, backlog: 2 },
        { ...zero, backlog: 2 },
        { ...zero, backlog: 2 },
      ])
      // The service principal of the tenant reads the same; 60 minutes by default.
      const asService = await messaging.queueHistory(worker.principal, { infrastructureId: t.infra })
      expect(asService).toHaveLength(60)
      expect(asService.slice(-5)).toEqual(history)
      const otherHistory = await messaging.queueHistory(other.admin.principal, {
        infrastructureId: other.t.infra,
        minutes: 2,
      })
      expect(otherHistory.map(figures)).toEqual([
        { ...zero, backlog: 0 },
        { ...zero, enqueued: 1, backlog: 1 },
      ])
    })

    it('answers members, business-scoped admins and strangers with a typed refusal, never figures', async () => {
      const { t, ch } = await seeded()
      const member = principal('member', [[t.infra, null]])
      await expect(messaging.queueHistory(member, { infrastructureId: t.infra })).rejects.toBeInstanceOf(
        ForbiddenRoleError,
      )
      const businessAdmin = principal('infra_admin', [[t.infra, uuid()]])
      await expect(
        messaging.queueHistory(businessAdmin, { infrastructureId: t.infra }),
      ).rejects.toBeInstanceOf(TenantScopeViolationError)
      const stranger = principal('infra_admin', [[uuid(), null]])
      await expect(messaging.queueHistory(stranger, { infrastructureId: t.infra })).rejects.toBeInstanceOf(
        TenantScopeViolationError,
      )
      // Below the facade, the store shows such a scope nothing either.
      const memberScope = scopeOf('member', [[t.infra, null]])
      await clock.set(at(30_000))
      await run(memberScope, (r) =>
        r.outbox.enqueueMany(memberScope, [enqueueCommand(memberScope, message(t.infra, ch.id))]),
      )
      const seen = await run(memberScope, (r) => r.queueHistory.minutes(memberScope, t.infra, 2))
      expect(seen.map(figures)).toEqual([
        { ...zero, backlog: 0 },
        { ...zero, backlog: 0 },
      ])
      const admin = principal('infra_admin', [[t.infra, null]])
      const counted = await messaging.queueHistory(admin, { infrastructureId: t.infra, minutes: 1 })
      expect(counted.map(figures)).toEqual([{ ...zero, enqueued: 1, backlog: 1 }])
    })

    it("finds a tenant's messages by recipient, alone or with the state and channel filters", async () => {
      const { t, admin, ch } = await seeded()
      const to = (recipients: string[] | null) => message(t.infra, ch.id, { recipients })
      const ms = [
        to(['ann@example.com', '+15550100']),
        to(['bob@example.com']),
        to(null),
        to(['ann@example.com']),
      ]
      await run(admin, (r) =>
        r.outbox.enqueueMany(
          admin,
          ms.map((m) => enqueueCommand(admin, m)),
        ),
      )
      const list = (filter: { recipient: string; status?: 'pending' | 'dead'; channelId?: string }) =>
        messaging
          .listMessages(admin.principal, { infrastructureId: t.infra, ...filter })
          .then((rows) => rows.map((m) => m.id).sort())
      expect(await list({ recipient: 'ann@example.com' })).toEqual([ms[0]!.id, ms[3]!.id].sort())
      expect(await list({ recipient: '+15550100' })).toEqual([ms[0]!.id])
      expect(await list({ recipient: 'bob@example.com', status: 'pending', channelId: ch.id })).toEqual([
        ms[1]!.id,
      ])
      expect(await list({ recipient: 'bob@example.com', status: 'dead' })).toEqual([])
      // A prefix is not a recipient, and another tenant's admin finds nothing.
      expect(await list({ recipient: 'ann' })).toEqual([])
      const other = principal('infra_admin', [[uuid(), null]])
      await expect(
        messaging.listMessages(other, { infrastructureId: t.infra, recipient: 'ann@example.com' }),
      ).rejects.toBeInstanceOf(TenantScopeViolationError)
    })

    it('keeps three hours: retention removes older minutes and nothing newer', async () => {
      const { t, admin, ch } = await seeded()
      await clock.set(at(10 * MIN))
      await run(admin, (r) => r.outbox.enqueueMany(admin, [enqueueCommand(admin, message(t.infra, ch.id))]))
      await clock.set(at(3 * 60 * MIN + 10 * MIN + 30_000))
      await run(admin, (r) => r.outbox.enqueueMany(admin, [enqueueCommand(admin, message(t.infra, ch.id))]))
      const minuteTen = async () => {
        await clock.set(at(10 * MIN + 30_000))
        const [m] = await messaging.queueHistory(admin.principal, { infrastructureId: t.infra, minutes: 1 })
        return m!.enqueued
      }
      const prune = async (now: Date) => {
        await clock.set(now)
        // Settled messages of the earlier tests go too; this tenant's two are open and stay.
        await storage.prune({ olderThan: { ageMs: 0 } })
      }
      // Three hours and ten minutes on, minute 10 is exactly three hours old and stays.
      await prune(at(3 * 60 * MIN + 10 * MIN + 30_000))
      expect(await minuteTen()).toBe(1)
      // A minute later it is older than three hours, and goes.
      await prune(at(3 * 60 * MIN + 11 * MIN + 30_000))
      expect(await minuteTen()).toBe(0)
      const [stats] = await messaging.stats(admin.principal, { infrastructureId: t.infra })
      expect(stats!.pending).toBe(2)
      await clock.set(at(3 * 60 * MIN + 10 * MIN + 40_000))
      const late = await messaging.queueHistory(admin.principal, { infrastructureId: t.infra, minutes: 1 })
      expect(figures(late[0]!)).toEqual({ ...zero, enqueued: 1, backlog: 2 })
    })
  })
}
