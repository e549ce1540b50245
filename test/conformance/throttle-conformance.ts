import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createMessaging,
  type Messaging,
  type MessagingStorage,
  TenantScope,
  TenantScopeViolationError,
  ValidationError,
} from '../../src/index.js'
import { createSecretBox } from '../../src/secrets/index.js'
import { at, principal, tenant } from '../support/fixtures.js'
import type { StoreClock } from '../support/store-clock.js'
import type { ClockedStorageFactory } from './repository-conformance.js'

const HOUR = 3600

/** The issues of a ValidationError as `path rule` lines, or what else was thrown. */
const issues = (p: Promise<unknown>) =>
  p.then(
    () => ['resolved'],
    (e: unknown) => (e instanceof ValidationError ? e.issues.map((i) => `${i.path} ${i.rule}`) : [String(e)]),
  )

/**
 * Per-recipient throttles of a category on every store: at most `limit` notifications of
 * the category reach one user per window (one notify counting once, whatever its channel
 * types), the rest recorded as `throttled`; racing notifies never let more through;
 * idempotent retries never count twice; the window is the store's clock; tenants apart.
 */
export function describeThrottleConformance(name: string, factory: ClockedStorageFactory): void {
  describe(`throttle conformance: ${name}`, () => {
    let storage: MessagingStorage
    let clock: StoreClock
    let messaging: Messaging
    beforeAll(async () => {
      ;({ storage, clock } = await factory())
      messaging = createMessaging({
        storage,
        secrets: createSecretBox({ keys: { k1: randomBytes(32).toString('base64') }, activeKeyId: 'k1' }),
      })
      await clock.set(at(0))
    })
    afterAll(async () => {
      await storage?.close()
    })

    /** A tenant with in-app and email channels, a throttled category over both, and two people. */
    async function seeded(
      throttle: { limit: number; windowSeconds: number } | null = { limit: 2, windowSeconds: HOUR },
    ) {
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
      const channels = { in_app: { channelKey: 'alerts' }, email: { channelKey: 'mail' } }
      await messaging.createCategory(admin, {
        infrastructureId: i,
        key: 'digest.daily',
        name: 'Daily',
        channels,
        throttle,
      })
      await messaging.createCategory(admin, { infrastructureId: i, key: 'other', name: 'Other', channels })
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
      const notify = (users: string[], over: { category?: string; idempotencyKey?: string } = {}) =>
        messaging.notify(service, {
          infrastructureId: i,
          category: over.category ?? 'digest.daily',
          to: { users },
          data: { n: 1 },
          ...(over.idempotencyKey !== undefined && { idempotencyKey: over.idempotencyKey }),
        })
      return { t, i, admin, service, ada, bob, notify }
    }

    it('validates a throttle with typed errors naming the field and the rule, the same on create and update', async () => {
      const s = await seeded(null)
      const create = (throttle: unknown) =>
        messaging.createCategory(s.admin, {
          infrastructureId: s.i,
          key: `c${Math.random().toString(36).slice(2, 8)}`,
          name: 'C',
          throttle: throttle as never,
        })
      expect(await issues(create({ limit: 0, windowSeconds: 60 }))).toEqual(['throttle.limit too_small'])
      expect(await issues(create({ limit: 10_001, windowSeconds: 60 }))).toEqual(['throttle.limit too_big'])
      expect(await issues(create({ limit: 1.5, windowSeconds: 60 }))).toEqual(['throttle.limit invalid_type'])
      expect(await issues(create({ limit: 1, windowSeconds: 7 * 24 * HOUR + 1 }))).toEqual([
        'throttle.windowSeconds too_big',
      ])
      expect(await issues(create({ limit: 1, windowSeconds: 0 }))).toEqual([
        'throttle.windowSeconds too_small',
      ])
      // Folding into a digest comes with digests: a value the module cannot carry out is refused.
      const digest = await issues(create({ limit: 1, windowSeconds: 60, onExceed: 'digest' }))
      expect(digest).toHaveLength(1)
      expect(digest[0]).toMatch(/^throttle\.onExceed /)
      expect(await issues(create({ limit: 1, windowSeconds: 60, extra: 1 }))).toEqual([
        expect.stringMatching(/^throttle /),
      ])
      const update = (throttle: unknown) =>
        messaging.updateCategory(s.admin, {
          infrastructureId: s.i,
          categoryKey: 'other',
          throttle: throttle as never,
        })
      expect(await issues(update({ limit: 0, windowSeconds: 60 }))).toEqual(['throttle.limit too_small'])
      // Nothing was written by any refusal.
      expect(
        (await messaging.getCategory(s.admin, { infrastructureId: s.i, categoryKey: 'other' })).throttle,
      ).toBeNull()
      const set = await update({ limit: 5, windowSeconds: 600 })
      expect(set.throttle).toEqual({ limit: 5, windowSeconds: 600, onExceed: 'skip' })
      expect(
        (await messaging.getCategory(s.service, { infrastructureId: s.i, categoryKey: 'other' })).throttle,
      ).toEqual({ limit: 5, windowSeconds: 600, onExceed: 'skip' })
      expect((await update(null)).throttle).toBeNull()
      // Only an admin sets it.
      await expect(
        messaging.updateCategory(s.service, {
          infrastructureId: s.i,
          categoryKey: 'other',
          throttle: { limit: 1, windowSeconds: 60 },
        }),
      ).rejects.toMatchObject({ code: 'FORBIDDEN_ROLE' })
    })

    it('lets `limit` notifications per recipient and window through, one notify counting once across its channel types', async () => {
      const s = await seeded()
      await clock.set(at(10_000))
      const first = await s.notify([s.ada])
      const second = await s.notify([s.ada, s.bob])
      const third = await s.notify([s.ada, s.bob])
      // Two channel types, one slot each notify: ada's first two go out on both.
      expect(first.notification).toMatchObject({ messageCount: 2, skippedCount: 0 })
      expect(second.notification).toMatchObject({ messageCount: 4, skippedCount: 0 })
      // ada is at her limit; bob has one left.
      expect(third.notification).toMatchObject({ messageCount: 2, skippedCount: 2 })
      const status = await messaging.getNotification(s.service, {
        infrastructureId: s.i,
        notificationId: third.notification.id,
      })
      const ada = status.deliveries.filter((d) => d.userId === s.ada)
      expect(ada.map((d) => [d.channelType, d.state, d.reason, d.messageId])).toEqual([
        ['email', 'skipped', 'throttled', null],
        ['in_app', 'skipped', 'throttled', null],
      ])
      expect(status.counts.skipped).toBe(2)
      expect(status.counts.pending).toBe(2)
      // Another category is counted apart.
      expect((await s.notify([s.ada], { category: 'other' })).notification.messageCount).toBe(2)
      // The next window (by the store's clock) starts over.
      await clock.set(at(HOUR * 1000))
      expect((await s.notify([s.ada])).notification.messageCount).toBe(2)
      expect((await s.notify([s.ada])).notification.messageCount).toBe(2)
      expect((await s.notify([s.ada])).notification).toMatchObject({ messageCount: 0, skippedCount: 2 })
      // What the health view shows: per category, the deliveries its throttle skipped.
      expect(await messaging.throttledCounts(s.service, { infrastructureId: s.i, since: at(0) })).toEqual([
        { infrastructureId: s.i, categoryKey: 'digest.daily', throttled: 4 },
      ])
      // Skips are stamped with the module's clock (as every notification record is): none after an hour from now.
      const later = new Date(Date.now() + HOUR * 1000)
      expect(await messaging.throttledCounts(s.admin, { infrastructureId: s.i, since: later })).toEqual([])
      await expect(
        messaging.throttledCounts(principal('member', [[s.i, null]]), { infrastructureId: s.i }),
      ).rejects.toMatchObject({ code: 'FORBIDDEN_ROLE' })
      await expect(
        messaging.throttledCounts(principal('service', [[tenant().infra, null]]), { infrastructureId: s.i }),
      ).rejects.toMatchObject({ code: 'TENANT_SCOPE_VIOLATION' })
    })

    it('never lets more than `limit` through when notifies race for one recipient', async () => {
      const s = await seeded({ limit: 3, windowSeconds: HOUR })
      await clock.set(at(2 * HOUR * 1000))
      const results = await Promise.all(Array.from({ length: 10 }, () => s.notify([s.ada, s.bob])))
      for (const user of [s.ada, s.bob]) {
        let delivered = 0
        let throttled = 0
        for (const r of results) {
          const st = await messaging.getNotification(s.service, {
            infrastructureId: s.i,
            notificationId: r.notification.id,
            userId: user,
          })
          for (const d of st.deliveries) {
            if (d.state === 'pending') delivered++
            else if (d.reason === 'throttled') throttled++
          }
        }
        // Exactly three notifies x two channel types reach each user; seven x two are throttled.
        expect({ user, delivered, throttled }).toEqual({ user, delivered: 6, throttled: 14 })
      }
    })

    it('does not count an idempotent retry twice, even when the retries race', async () => {
      const s = await seeded({ limit: 2, windowSeconds: HOUR })
      await clock.set(at(3 * HOUR * 1000))
      const a = await s.notify([s.ada], { idempotencyKey: 'k-1' })
      const again = await s.notify([s.ada], { idempotencyKey: 'k-1' })
      expect(again).toMatchObject({ created: false, notification: { id: a.notification.id } })
      const raced = await Promise.all([1, 2, 3, 4].map(() => s.notify([s.ada], { idempotencyKey: 'k-2' })))
      expect(raced.filter((r) => r.created)).toHaveLength(1)
      expect(new Set(raced.map((r) => r.notification.id)).size).toBe(1)
      expect(raced[0]?.notification.messageCount).toBe(2)
      // Two keys, two slots: the limit is reached, not passed.
      expect((await s.notify([s.ada])).notification).toMatchObject({ messageCount: 0, skippedCount: 2 })
    })

    it("keeps each tenant's counters to itself", async () => {
      const s = await seeded({ limit: 1, windowSeconds: HOUR })
      const other = await seeded({ limit: 1, windowSeconds: HOUR })
      await clock.set(at(4 * HOUR * 1000))
      expect((await s.notify([s.ada])).notification.messageCount).toBe(2)
      // The same user id in another tenant has its own counter.
      expect(
        (
          await messaging.notify(other.service, {
            infrastructureId: other.i,
            category: 'digest.daily',
            to: { users: [other.ada] },
            data: {},
          })
        ).notification.messageCount,
      ).toBe(2)
      // Another tenant's scope cannot take (or give back) this tenant's slots, and a member none.
      const key = { infrastructureId: s.i, categoryKey: 'digest.daily' }
      const throttle = { limit: 100, windowSeconds: HOUR, onExceed: 'skip' as const }
      const stranger = TenantScope.of(other.service)
      await expect(
        storage.unitOfWork.run(stranger, (r) => r.throttles.take(stranger, key, [s.ada], throttle)),
      ).rejects.toBeInstanceOf(TenantScopeViolationError)
      await expect(
        storage.unitOfWork.run(stranger, (r) => r.throttles.giveBack(stranger, key, [s.ada])),
      ).resolves.toBeUndefined()
      const member = TenantScope.of(principal('member', [[s.i, null]], s.ada))
      await expect(
        storage.unitOfWork.run(member, (r) => r.throttles.take(member, key, [s.ada], throttle)),
      ).rejects.toBeInstanceOf(TenantScopeViolationError)
      // ada's slot is still taken: the next notify is throttled.
      expect((await s.notify([s.ada])).notification).toMatchObject({ messageCount: 0, skippedCount: 2 })
    })
  })
}
