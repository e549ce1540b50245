import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { emailChannelType } from '../../src/adapters/transports/email/index.js'
import { createInAppTransport } from '../../src/adapters/transports/in-app/index.js'
import {
  createMessaging,
  type Messaging,
  type MessagingStorage,
  type NotificationDelivery,
  type OutboxMessage,
  type Transport,
  ValidationError,
} from '../../src/index.js'
import { createSecretBox } from '../../src/secrets/index.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { principal, tenant } from '../support/fixtures.js'
import type { StoreClock } from '../support/store-clock.js'
import type { ClockedStorageFactory } from './repository-conformance.js'

const issues = (p: Promise<unknown>) =>
  p.then(
    () => ['resolved'],
    (e: unknown) => (e instanceof ValidationError ? e.issues.map((i) => `${i.path} ${i.rule}`) : [String(e)]),
  )

/** An email transport that records what it was handed (no network). */
function recordingEmail(): Transport & { sent: OutboxMessage[] } {
  const sent: OutboxMessage[] = []
  return {
    sent,
    channelType: emailChannelType,
    async send(message) {
      sent.push(message)
      return { status: 'delivered', providerMessageId: `p-${message.id}` }
    },
  }
}

/** 23:30 in Berlin (CEST), 21:30 UTC, 09:30 the next morning in Auckland (NZST). */
const LATE = new Date('2026-06-01T21:30:00Z')

/**
 * Recipients' quiet hours on every store: a member sets their own, a notify holds a
 * non-critical message to a recipient inside them until they end in the recipient's time
 * zone (in-app at once by default, configurable), the status says until when, and a worker
 * leaves the held message alone, without spending an attempt, until the store's clock
 * reaches the end.
 */
export function describeQuietHoursConformance(name: string, factory: ClockedStorageFactory): void {
  describe(`quiet hours conformance: ${name}`, () => {
    let storage: MessagingStorage
    let clock: StoreClock
    let messaging: Messaging
    let holdEverything: Messaging
    beforeAll(async () => {
      ;({ storage, clock } = await factory())
      const secrets = createSecretBox({ keys: { k1: randomBytes(32).toString('base64') }, activeKeyId: 'k1' })
      messaging = createMessaging({ storage, secrets })
      holdEverything = createMessaging({ storage, secrets, quietHours: { passThrough: [] } })
    })
    afterAll(async () => {
      await storage?.close()
    })

    async function seeded() {
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
      await messaging.createCategory(admin, { infrastructureId: i, key: 'news', name: 'News', channels })
      await messaging.createCategory(admin, {
        infrastructureId: i,
        key: 'security',
        name: 'Security',
        critical: true,
        channels,
      })
      const person = async (timeZone: string | null, quietHours: { start: string; end: string } | null) => {
        const p = principal('member', [[i, null]])
        await messaging.upsertProfile(admin, {
          infrastructureId: i,
          userId: p.userId,
          email: `${p.userId.slice(0, 8)}@example.com`,
          timeZone,
        })
        // Members set their own quiet hours.
        if (quietHours) await messaging.upsertProfile(p, { infrastructureId: i, quietHours })
        return p
      }
      const berlin = await person('Europe/Berlin', { start: '22:00', end: '07:00' })
      const utc = await person(null, { start: '21:00', end: '06:00' })
      const auckland = await person('Pacific/Auckland', { start: '22:00', end: '07:00' })
      const none = await person('Europe/Berlin', null)
      return { i, admin, service, berlin, utc, auckland, none }
    }

    const deliveries = async (m: Messaging, s: Awaited<ReturnType<typeof seeded>>, id: string) => {
      const st = await m.getNotification(s.service, { infrastructureId: s.i, notificationId: id })
      const by = (userId: string, type: string) =>
        st.deliveries.find((d) => d.userId === userId && d.channelType === type) as NotificationDelivery
      return { st, by }
    }

    it('lets a member set and clear their own quiet hours, validated with the field and the rule', async () => {
      const s = await seeded()
      const p = await messaging.getProfile(s.berlin, { infrastructureId: s.i })
      expect(p.quietHours).toEqual({ start: '22:00', end: '07:00' })
      expect(
        await issues(
          messaging.upsertProfile(s.berlin, {
            infrastructureId: s.i,
            quietHours: { start: '25:00', end: '07:00' },
          }),
        ),
      ).toEqual(['quietHours.start format:regex'])
      expect(
        await issues(
          messaging.upsertProfile(s.berlin, {
            infrastructureId: s.i,
            quietHours: { start: '07:00', end: '07:00' },
          }),
        ),
      ).toEqual(['quietHours.end empty_window'])
      expect(
        (await messaging.getProfile(s.admin, { infrastructureId: s.i, userId: s.berlin.userId })).quietHours,
      ).toEqual({ start: '22:00', end: '07:00' })
      await messaging.upsertProfile(s.berlin, { infrastructureId: s.i, quietHours: null })
      expect((await messaging.getProfile(s.berlin, { infrastructureId: s.i })).quietHours).toBeNull()
      // Nobody else's but an admin's.
      await expect(
        messaging.upsertProfile(s.utc, {
          infrastructureId: s.i,
          userId: s.berlin.userId,
          quietHours: { start: '01:00', end: '02:00' },
        }),
      ).rejects.toMatchObject({ code: 'FORBIDDEN_ROLE' })
    })

    it('holds email until the end of the quiet hours in the recipient’s zone; in-app goes at once; the status says until when', async () => {
      const s = await seeded()
      await clock.set(LATE)
      const { notification } = await messaging.notify(s.service, {
        infrastructureId: s.i,
        category: 'news',
        to: { users: [s.berlin.userId, s.utc.userId, s.auckland.userId, s.none.userId] },
        data: { title: 'Hello' },
      })
      expect(notification.messageCount).toBe(8)
      const { by } = await deliveries(messaging, s, notification.id)
      // 07:00 CEST is 05:00 UTC; 06:00 without a zone is 06:00 UTC.
      expect(by(s.berlin.userId, 'email').availableAt?.toISOString()).toBe('2026-06-02T05:00:00.000Z')
      expect(by(s.utc.userId, 'email').availableAt?.toISOString()).toBe('2026-06-02T06:00:00.000Z')
      for (const u of [s.berlin, s.utc, s.auckland, s.none]) {
        expect(by(u.userId, 'in_app').state).toBe('pending')
        expect(by(u.userId, 'in_app').availableAt!.getTime()).toBeLessThanOrEqual(LATE.getTime())
      }
      // 09:30 in Auckland, and no quiet hours at all: not held.
      expect(by(s.auckland.userId, 'email').availableAt!.getTime()).toBeLessThanOrEqual(LATE.getTime())
      expect(by(s.none.userId, 'email').availableAt!.getTime()).toBeLessThanOrEqual(LATE.getTime())

      // A worker delivers what is due and leaves the held messages alone, spending no attempt.
      const email = recordingEmail()
      const worker = createDeliveryWorker({
        messaging,
        principal: s.service,
        transports: [createInAppTransport({ messaging }), email],
        pollIntervalMs: 20,
      })
      await worker.drain()
      expect(email.sent.map((m) => m.notification?.userId).sort()).toEqual(
        [s.auckland.userId, s.none.userId].sort(),
      )
      let now = await deliveries(messaging, s, notification.id)
      expect(now.by(s.berlin.userId, 'email')).toMatchObject({ state: 'pending', attempts: 0 })
      expect(now.by(s.berlin.userId, 'in_app').state).toBe('delivered')
      // At 05:00 UTC Berlin's quiet hours are over, UTC's not yet.
      await clock.set(new Date('2026-06-02T05:00:00Z'))
      await worker.drain()
      now = await deliveries(messaging, s, notification.id)
      expect(now.by(s.berlin.userId, 'email')).toMatchObject({ state: 'delivered', attempts: 1 })
      expect(now.by(s.utc.userId, 'email')).toMatchObject({ state: 'pending', attempts: 0 })
      await clock.set(new Date('2026-06-02T06:00:00Z'))
      await worker.drain()
      now = await deliveries(messaging, s, notification.id)
      expect(now.by(s.utc.userId, 'email')).toMatchObject({ state: 'delivered', attempts: 1 })
      expect(now.by(s.utc.userId, 'email').availableAt).toBeNull()
    })

    it('ignores quiet hours for a critical category, and holds every type when configured to', async () => {
      const s = await seeded()
      await clock.set(LATE)
      const critical = await messaging.notify(s.service, {
        infrastructureId: s.i,
        category: 'security',
        to: { users: [s.berlin.userId] },
        data: {},
      })
      const c = await deliveries(messaging, s, critical.notification.id)
      expect(c.by(s.berlin.userId, 'email').availableAt!.getTime()).toBeLessThanOrEqual(LATE.getTime())
      const all = await holdEverything.notify(s.service, {
        infrastructureId: s.i,
        category: 'news',
        to: { users: [s.berlin.userId] },
        data: {},
      })
      const a = await deliveries(holdEverything, s, all.notification.id)
      for (const type of ['in_app', 'email'])
        expect(a.by(s.berlin.userId, type).availableAt?.toISOString()).toBe('2026-06-02T05:00:00.000Z')
    })

    it("applies the infrastructure's default to recipients without quiet hours of their own, in their own zone", async () => {
      const s = await seeded()
      const quietHours = { start: '21:00', end: '08:00' }
      // Only an admin with an infrastructure-wide grant sets it; everyone of the tenant reads it.
      await expect(
        messaging.setQuietHoursDefault(s.service, { infrastructureId: s.i, quietHours }),
      ).rejects.toMatchObject({ code: 'FORBIDDEN_ROLE' })
      const bizAdmin = principal('infra_admin', [[s.i, tenant().bizA]])
      await expect(
        messaging.setQuietHoursDefault(bizAdmin, { infrastructureId: s.i, quietHours }),
      ).rejects.toMatchObject({ code: 'TENANT_SCOPE_VIOLATION' })
      expect(
        await issues(
          messaging.setQuietHoursDefault(s.admin, {
            infrastructureId: s.i,
            quietHours: { start: '08:00', end: '08:00' },
          }),
        ),
      ).toEqual(['quietHours.end empty_window'])
      expect(await messaging.getQuietHoursDefault(s.berlin, { infrastructureId: s.i })).toBeNull()
      const set = await messaging.setQuietHoursDefault(s.admin, { infrastructureId: s.i, quietHours })
      expect(set).toMatchObject({ infrastructureId: s.i, quietHours, updatedBy: s.admin.userId })
      expect(await messaging.getQuietHoursDefault(s.berlin, { infrastructureId: s.i })).toMatchObject({
        quietHours,
      })

      await clock.set(LATE)
      const notify = async () =>
        (
          await messaging.notify(s.service, {
            infrastructureId: s.i,
            category: 'news',
            to: { users: [s.berlin.userId, s.none.userId] },
            data: {},
          })
        ).notification.id
      let { by } = await deliveries(messaging, s, await notify())
      // Their own quiet hours win; the default holds the one without, until 08:00 CEST.
      expect(by(s.berlin.userId, 'email').availableAt?.toISOString()).toBe('2026-06-02T05:00:00.000Z')
      expect(by(s.none.userId, 'email').availableAt?.toISOString()).toBe('2026-06-02T06:00:00.000Z')
      // Removed: nobody without their own is held.
      expect(
        await messaging.setQuietHoursDefault(s.admin, { infrastructureId: s.i, quietHours: null }),
      ).toBeNull()
      expect(await messaging.getQuietHoursDefault(s.admin, { infrastructureId: s.i })).toBeNull()
      ;({ by } = await deliveries(messaging, s, await notify()))
      expect(by(s.none.userId, 'email').availableAt!.getTime()).toBeLessThanOrEqual(LATE.getTime())
    })

    it('judges a scheduled notification by when it becomes due, not when it was sent', async () => {
      const s = await seeded()
      await clock.set(new Date('2026-06-01T10:00:00Z'))
      // Due at 23:00 in Berlin: held until 07:00 the next morning.
      const { notification } = await messaging.notify(s.service, {
        infrastructureId: s.i,
        category: 'news',
        to: { users: [s.berlin.userId, s.none.userId] },
        data: {},
        availableAt: new Date('2026-06-01T21:00:00Z'),
      })
      const { by } = await deliveries(messaging, s, notification.id)
      expect(by(s.berlin.userId, 'email').availableAt?.toISOString()).toBe('2026-06-02T05:00:00.000Z')
      expect(by(s.berlin.userId, 'in_app').availableAt?.toISOString()).toBe('2026-06-01T21:00:00.000Z')
      expect(by(s.none.userId, 'email').availableAt?.toISOString()).toBe('2026-06-01T21:00:00.000Z')
    })
  })
}
