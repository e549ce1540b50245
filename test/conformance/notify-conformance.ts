import { createHmac, randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { emailChannelType } from '../../src/adapters/transports/email/index.js'
import { createInAppTransport } from '../../src/adapters/transports/in-app/index.js'
import { smsChannelType } from '../../src/adapters/transports/sms/index.js'
import {
  createMessaging,
  type Messaging,
  type MessagingStorage,
  type NotificationDelivery,
  type OutboxMessage,
  type Principal,
  type Transport,
} from '../../src/index.js'
import { createSecretBox } from '../../src/secrets/index.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { principal, tenant, uuid } from '../support/fixtures.js'
import type { StorageFactory } from './repository-conformance.js'

const code = (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (e: { code?: string }) => e.code ?? String(e),
  )

const SMS_KEY = 'sk_live_4f9a2c7e1b8d6035'

/**
 * Email and SMS transports that record what they were handed and answer as told (no
 * network). A refusal quotes the channel's provider key, as a careless provider's error
 * would: the worker must redact it before it is stored.
 */
function recordingTransport(
  type: 'email' | 'sms',
  fail: Set<string> = new Set(),
): Transport & { sent: OutboxMessage[] } {
  const sent: OutboxMessage[] = []
  return {
    sent,
    channelType: type === 'email' ? emailChannelType : smsChannelType,
    async send(message, channel) {
      sent.push(message)
      const to = message.recipients?.[0] ?? ''
      const key = (channel.config as { provider?: { apiKey?: string } }).provider?.apiKey ?? 'none'
      return fail.has(to)
        ? { status: 'permanent', code: 'REJECTED', error: `provider refused ${to} (key ${key})` }
        : { status: 'delivered', providerMessageId: `p-${message.id}` }
    },
  }
}

/**
 * notify and the notifications' status on every storage adapter: the fan-out per recipient
 * and channel by preference and profile, the skips with their reasons, idempotency, the
 * caller's scope, and where each delivery stands once workers have run.
 */
export function describeNotifyConformance(name: string, factory: StorageFactory): void {
  describe(`notify conformance: ${name}`, () => {
    let storage: MessagingStorage
    let messaging: Messaging
    beforeAll(async () => {
      storage = await factory()
      // Stores that persist keep credentials only sealed: every run seals them alike.
      messaging = createMessaging({
        storage,
        secrets: createSecretBox({ keys: { k1: randomBytes(32).toString('base64') }, activeKeyId: 'k1' }),
      })
    })
    afterAll(async () => {
      await storage?.close()
    })

    /** A tenant with in-app, email and SMS channels, a category over the three, and five people. */
    async function seeded() {
      const t = tenant()
      const i = t.infra
      const admin = principal('infra_admin', [[i, null]])
      const service = principal('service', [[i, null]])
      const ch = {
        alerts: await messaging.createChannel(admin, {
          infrastructureId: i,
          channelKey: 'alerts',
          type: 'in_app',
        }),
        mail: await messaging.createChannel(admin, {
          infrastructureId: i,
          channelKey: 'billing-email',
          type: 'email',
          config: { from: 'billing@example.com' },
        }),
        text: await messaging.createChannel(admin, {
          infrastructureId: i,
          channelKey: 'sms',
          type: 'sms',
          config: {
            from: '+15550001111',
            provider: { url: 'https://sms.example.com/v1/send', apiKey: SMS_KEY },
          },
        }),
      }
      await messaging.createCategory(admin, {
        infrastructureId: i,
        key: 'invoice.paid',
        name: 'Invoice paid',
        channels: {
          in_app: { channelKey: 'alerts' },
          email: { channelKey: 'billing-email' },
          sms: { channelKey: 'sms' },
        },
      })
      const person = async (over: {
        businessId?: string | null
        email?: string | null
        phone?: string | null
      }) => {
        const p = principal('member', [[i, null]])
        await messaging.upsertProfile(admin, {
          infrastructureId: i,
          userId: p.userId,
          businessId: over.businessId ?? null,
          email: over.email === undefined ? `${p.userId.slice(0, 8)}@example.com` : over.email,
          phone: over.phone === undefined ? '+4915112345678' : over.phone,
          locale: 'en',
        })
        return p
      }
      const ada = await person({})
      const bob = await person({ phone: null })
      const cyd = await person({})
      const dee = await person({ businessId: t.bizA })
      const eve = await person({ businessId: t.bizB, email: null })
      return { t, i, admin, service, ch, ada, bob, cyd, dee, eve }
    }

    const status = async (m: Messaging, p: Principal, i: string, id: string) => {
      const all: NotificationDelivery[] = []
      let page = await m.getNotification(p, { infrastructureId: i, notificationId: id, limit: 1000 })
      all.push(...page.deliveries)
      while (page.deliveries.length === 1000) {
        const last = page.deliveries.at(-1)!
        page = await m.getNotification(p, {
          infrastructureId: i,
          notificationId: id,
          limit: 1000,
          after: `${last.userId}/${last.channelType}`,
        })
        all.push(...page.deliveries)
      }
      return { ...page, deliveries: all }
    }
    const row = (deliveries: readonly NotificationDelivery[], userId: string, channelType: string) =>
      deliveries.find((d) => d.userId === userId && d.channelType === channelType)

    it('writes one message per recipient and channel its preferences allow, with the address from the profile, and records the rest', async () => {
      const s = await seeded()
      await messaging.setPreference(s.cyd, {
        infrastructureId: s.i,
        categoryKey: 'invoice.paid',
        channelType: 'email',
        enabled: false,
      })
      const data = { invoice: 'INV-1042', amount: '€120.00' }
      const { notification: n, created } = await messaging.notify(s.service, {
        infrastructureId: s.i,
        category: 'invoice.paid',
        to: { users: [s.ada.userId, s.bob.userId, s.cyd.userId, s.ada.userId] },
        data,
      })
      expect(created).toBe(true)
      expect(n).toMatchObject({
        infrastructureId: s.i,
        businessId: null,
        categoryKey: 'invoice.paid',
        target: { kind: 'users', count: 3 },
        data,
        createdBy: s.service.userId,
        recipientCount: 3,
        messageCount: 7,
        skippedCount: 2,
      })
      const messages = (await messaging.listMessages(s.admin, { infrastructureId: s.i, limit: 100 })).filter(
        (m) => m.notification?.id === n.id,
      )
      const seen = messages
        .map((m) => [m.notification!.userId, m.channelId, m.recipients![0]])
        .sort((a, b) => String(a).localeCompare(String(b)))
      const want = [
        [s.ada.userId, s.ch.alerts.id, s.ada.userId],
        [s.ada.userId, s.ch.mail.id, `${s.ada.userId.slice(0, 8)}@example.com`],
        [s.ada.userId, s.ch.text.id, '+4915112345678'],
        [s.bob.userId, s.ch.alerts.id, s.bob.userId],
        [s.bob.userId, s.ch.mail.id, `${s.bob.userId.slice(0, 8)}@example.com`],
        [s.cyd.userId, s.ch.alerts.id, s.cyd.userId],
        [s.cyd.userId, s.ch.text.id, '+4915112345678'],
      ].sort((a, b) => String(a).localeCompare(String(b)))
      expect(seen).toEqual(want)
      for (const m of messages) {
        expect(m).toMatchObject({
          payload: data,
          businessId: null,
          status: 'pending',
          notification: { id: n.id, categoryKey: 'invoice.paid', templateId: null },
        })
      }
      const st = await status(messaging, s.admin, s.i, n.id)
      expect(st.counts).toEqual({ pending: 7, delivered: 0, failed: 0, dead: 0, skipped: 2, cancelled: 0 })
      expect(row(st.deliveries, s.bob.userId, 'sms')).toMatchObject({
        state: 'skipped',
        reason: 'no_address',
      })
      expect(row(st.deliveries, s.cyd.userId, 'email')).toMatchObject({
        state: 'skipped',
        reason: 'opted_out',
      })
      expect(row(st.deliveries, s.ada.userId, 'email')).toMatchObject({
        state: 'pending',
        attempts: 0,
        lastError: null,
      })
      // One audit entry for the notification, none per message.
      const audit = await messaging.listAudit(s.admin, { infrastructureId: s.i })
      expect(audit.filter((e) => e.targetId === n.id)).toEqual([
        expect.objectContaining({
          action: 'notification.create',
          targetType: 'notification',
          actorId: s.service.userId,
        }),
      ])
      expect(audit.filter((e) => e.action === 'outbox.enqueue')).toEqual([])
      // Who queued one of its messages: the message names its notification, whose entry says.
      const found = await messaging.listAudit(s.admin, {
        infrastructureId: s.i,
        targetId: messages[0]!.notification!.id,
      })
      expect(found).toEqual([expect.objectContaining({ action: 'notification.create', targetId: n.id })])
    })

    it("reaches a channel's opted-in members of the notification's business and records those who left", async () => {
      const s = await seeded()
      const topic = await messaging.createChannel(s.admin, {
        infrastructureId: s.i,
        channelKey: 'ops',
        type: 'in_app',
      })
      const add = (p: Principal, businessId: string | null, optedIn: boolean) =>
        messaging.addMember(s.admin, {
          infrastructureId: s.i,
          channelId: topic.id,
          userId: p.userId,
          businessId,
          optedIn,
        })
      await add(s.ada, null, true)
      await add(s.bob, null, false)
      await add(s.dee, s.t.bizA, true)
      await add(s.eve, s.t.bizB, true)
      // A member without a profile: in-app needs no address, email and SMS have none.
      const fay = principal('member', [[s.i, null]])
      await add(fay, s.t.bizA, true)
      const { notification: n } = await messaging.notify(s.admin, {
        infrastructureId: s.i,
        businessId: s.t.bizA,
        category: 'invoice.paid',
        to: { channelKey: 'ops' },
      })
      expect(n.target).toEqual({ kind: 'channel', channelId: topic.id, channelKey: 'ops' })
      const st = await status(messaging, s.admin, s.i, n.id)
      const users = [...new Set(st.deliveries.map((d) => d.userId))].sort()
      // Eve is of business B: not this notification's.
      expect(users).toEqual([s.ada.userId, s.bob.userId, s.dee.userId, fay.userId].sort())
      expect(st.deliveries.filter((d) => d.userId === s.bob.userId)).toEqual([
        expect.objectContaining({ channelType: '*', state: 'skipped', reason: 'opted_out' }),
      ])
      expect(row(st.deliveries, fay.userId, 'in_app')).toMatchObject({ state: 'pending' })
      expect(row(st.deliveries, fay.userId, 'email')).toMatchObject({
        state: 'skipped',
        reason: 'no_address',
      })
      for (const d of st.deliveries.filter((x) => x.messageId !== null)) {
        const m = await messaging.getMessage(s.admin, { infrastructureId: s.i, messageId: d.messageId! })
        expect(m.businessId).toBe(s.t.bizA)
      }
    })

    it('is idempotent on its key: a repeat answers with the first notification and writes nothing', async () => {
      const s = await seeded()
      const input = {
        infrastructureId: s.i,
        category: 'invoice.paid',
        to: { users: [s.ada.userId] },
        idempotencyKey: 'invoice-1042-paid',
      }
      const first = await messaging.notify(s.service, input)
      const before = await messaging.listMessages(s.admin, { infrastructureId: s.i, limit: 100 })
      const again = await messaging.notify(s.admin, { ...input, to: { users: [s.bob.userId] } })
      expect(again).toEqual({ notification: first.notification, created: false })
      expect(await messaging.listMessages(s.admin, { infrastructureId: s.i, limit: 100 })).toEqual(before)
      // Another business has its own keys.
      const other = await messaging.notify(s.service, { ...input, businessId: s.t.bizA })
      expect(other.created).toBe(true)
    })

    it("leaves out users it cannot reach: no profile, another business's, another tenant's", async () => {
      const s = await seeded()
      const other = await seeded()
      const ghost = uuid()
      const { notification: n } = await messaging.notify(s.service, {
        infrastructureId: s.i,
        businessId: s.t.bizA,
        category: 'invoice.paid',
        to: { users: [s.ada.userId, s.dee.userId, s.eve.userId, ghost, other.ada.userId] },
      })
      const st = await status(messaging, s.admin, s.i, n.id)
      const unknown = st.deliveries.filter((d) => d.reason === 'unknown_recipient').map((d) => d.userId)
      expect(unknown.sort()).toEqual([s.eve.userId, ghost, other.ada.userId].sort())
      expect(
        st.deliveries.filter((d) => d.reason === 'unknown_recipient').every((d) => d.channelType === '*'),
      ).toBe(true)
      // A business's own service sees only its business's profiles: Ada (infrastructure-wide) is out of its reach.
      const bizService = principal('service', [[s.i, s.t.bizA]])
      const narrow = await messaging.notify(bizService, {
        infrastructureId: s.i,
        businessId: s.t.bizA,
        category: 'invoice.paid',
        to: { users: [s.ada.userId, s.dee.userId] },
      })
      const nst = await status(messaging, s.admin, s.i, narrow.notification.id)
      expect(nst.deliveries.filter((d) => d.reason === 'unknown_recipient').map((d) => d.userId)).toEqual([
        s.ada.userId,
      ])
      // The other tenant's store holds nothing of it.
      expect(
        (await messaging.listMessages(other.admin, { infrastructureId: other.i, limit: 100 })).filter(
          (m) => m.notification !== null,
        ),
      ).toEqual([])
    })

    it('skips a channel type whose channel is switched off, and a critical category ignores opt-outs', async () => {
      const s = await seeded()
      await messaging.configureChannel(s.admin, {
        infrastructureId: s.i,
        channelId: s.ch.text.id,
        enabled: false,
      })
      await messaging.setPreference(s.ada, {
        infrastructureId: s.i,
        categoryKey: 'invoice.paid',
        channelType: 'email',
        enabled: false,
      })
      await messaging.addMember(s.admin, {
        infrastructureId: s.i,
        channelId: s.ch.alerts.id,
        userId: s.ada.userId,
        optedIn: false,
      })
      const plain = await messaging.notify(s.service, {
        infrastructureId: s.i,
        category: 'invoice.paid',
        to: { users: [s.ada.userId] },
      })
      const p = await status(messaging, s.admin, s.i, plain.notification.id)
      expect(p.deliveries.map((d) => [d.channelType, d.reason])).toEqual([
        ['email', 'opted_out'],
        ['in_app', 'opted_out'],
        ['sms', 'no_channel'],
      ])
      await messaging.updateCategory(s.admin, {
        infrastructureId: s.i,
        categoryKey: 'invoice.paid',
        critical: true,
      })
      const critical = await messaging.notify(s.service, {
        infrastructureId: s.i,
        category: 'invoice.paid',
        to: { users: [s.ada.userId] },
      })
      const c = await status(messaging, s.admin, s.i, critical.notification.id)
      expect(c.deliveries.map((d) => [d.channelType, d.state, d.reason])).toEqual([
        ['email', 'pending', null],
        ['in_app', 'pending', null],
        ['sms', 'skipped', 'no_channel'],
      ])
    })

    it('refuses members, other tenants, a business beyond the grant and an unknown category, writing nothing', async () => {
      const s = await seeded()
      const input = { infrastructureId: s.i, category: 'invoice.paid', to: { users: [s.ada.userId] } }
      const before = await messaging.listMessages(s.admin, { infrastructureId: s.i, limit: 100 })
      expect(await code(messaging.notify(s.ada, input))).toBe('FORBIDDEN_ROLE')
      const stranger = principal('service', [[uuid(), null]])
      expect(await code(messaging.notify(stranger, input))).toBe('TENANT_SCOPE_VIOLATION')
      expect(await code(messaging.notify(principal('service', [[s.i, s.t.bizA]]), input))).toBe(
        'TENANT_SCOPE_VIOLATION',
      )
      expect(await code(messaging.notify(s.service, { ...input, category: 'no.such' }))).toBe('NOT_FOUND')
      expect(await code(messaging.notify(s.service, { ...input, to: { channelKey: 'no-such' } }))).toBe(
        'NOT_FOUND',
      )
      expect(await code(messaging.notify(s.service, { ...input, data: { blob: 'x'.repeat(70_000) } }))).toBe(
        'PAYLOAD_TOO_LARGE',
      )
      expect(await messaging.listMessages(s.admin, { infrastructureId: s.i, limit: 100 })).toEqual(before)
      expect(await messaging.listNotifications(s.admin, { infrastructureId: s.i })).toEqual([])
      const refused = await messaging.listAudit(s.admin, {
        infrastructureId: s.i,
        action: 'notification.create',
      })
      // Refusals of role and scope by the tenant's own principals are in its trail; bad input is
      // not, nor is the stranger's (a caller without a grant on the tenant goes to the security log).
      expect(refused.map((e) => e.errorCode).sort()).toEqual(['FORBIDDEN_ROLE', 'TENANT_SCOPE_VIOLATION'])
      expect(refused.map((e) => e.actorId)).not.toContain(stranger.userId)
      // A member reads no notification: a status names every recipient.
      expect(await code(messaging.listNotifications(s.ada, { infrastructureId: s.i }))).toBe('FORBIDDEN_ROLE')
    })

    it('shows each recipient x channel delivered, failed or dead with attempts and the redacted error', async () => {
      const s = await seeded()
      const email = recordingTransport('email')
      const sms = recordingTransport('sms', new Set(['+4915112345678']))
      const worker = createDeliveryWorker({
        messaging,
        principal: s.service,
        transports: [createInAppTransport({ messaging }), email, sms],
        pollIntervalMs: 20,
      })
      const { notification: n } = await messaging.notify(s.service, {
        infrastructureId: s.i,
        category: 'invoice.paid',
        to: { users: [s.ada.userId, s.bob.userId] },
        data: { title: 'Invoice paid', body: 'INV-1042' },
      })
      await worker.drain()
      await worker.stop()
      const st = await status(messaging, s.admin, s.i, n.id)
      // Bob has no phone: his SMS was skipped; Ada's was refused by the provider.
      expect(st.counts).toEqual({ pending: 0, delivered: 4, failed: 1, dead: 0, skipped: 1, cancelled: 0 })
      const failed = row(st.deliveries, s.ada.userId, 'sms')!
      expect(failed).toMatchObject({ state: 'failed', attempts: 1 })
      expect(failed.lastError).toContain('provider refused +4915112345678')
      expect(failed.lastError).toContain('[redacted]')
      expect(JSON.stringify(st)).not.toContain(SMS_KEY)
      expect(failed.settledAt).toBeInstanceOf(Date)
      expect(row(st.deliveries, s.ada.userId, 'in_app')).toMatchObject({ state: 'delivered', attempts: 1 })
      // The in-app one landed in Ada's inbox, addressed to her alone.
      const inbox = await messaging.listInbox(s.ada, { infrastructureId: s.i })
      expect(inbox.map((e) => e.payload)).toEqual([{ title: 'Invoice paid', body: 'INV-1042' }])
      expect(await messaging.listInbox(s.cyd, { infrastructureId: s.i })).toEqual([])
      // Narrowed by state and by user.
      const onlyFailed = await messaging.getNotification(s.service, {
        infrastructureId: s.i,
        notificationId: n.id,
        state: 'failed',
      })
      expect(onlyFailed.deliveries.map((d) => [d.userId, d.channelType])).toEqual([[s.ada.userId, 'sms']])
      const onlyAda = await messaging.getNotification(s.service, {
        infrastructureId: s.i,
        notificationId: n.id,
        userId: s.ada.userId,
      })
      expect(onlyAda.deliveries.map((d) => d.channelType)).toEqual(['email', 'in_app', 'sms'])

      // Provider receipts refine a delivery: a confirmed email is still delivered, a bounced one failed.
      const secret = `whsec_${randomBytes(24).toString('base64')}`
      await messaging.configureChannel(s.admin, {
        infrastructureId: s.i,
        channelId: s.ch.mail.id,
        config: { from: 'billing@example.com', receiptSecret: secret },
      })
      const receipt = (messageId: string, state: 'delivered' | 'bounced') => {
        const body = JSON.stringify({ messageId, status: state })
        const ts = String(Math.floor(Date.now() / 1000))
        const mac = createHmac('sha256', Buffer.from(secret.slice('whsec_'.length), 'base64'))
        return messaging.receiveReceipt({
          kind: 'email',
          infrastructureId: s.i,
          channelId: s.ch.mail.id,
          url: 'https://api.example.com/receipts/email',
          webhookId: `msg_${messageId}`,
          webhookTimestamp: ts,
          webhookSignature: `v1,${mac.update(`msg_${messageId}.${ts}.${body}`).digest('base64')}`,
          body,
        })
      }
      await receipt(row(st.deliveries, s.ada.userId, 'email')!.messageId!, 'bounced')
      await receipt(row(st.deliveries, s.bob.userId, 'email')!.messageId!, 'delivered')
      const after = await status(messaging, s.admin, s.i, n.id)
      expect(after.counts).toEqual({ pending: 0, delivered: 3, failed: 2, dead: 0, skipped: 1, cancelled: 0 })
      expect(row(after.deliveries, s.ada.userId, 'email')).toMatchObject({ state: 'failed' })
      expect(row(after.deliveries, s.bob.userId, 'email')).toMatchObject({ state: 'delivered' })
    })

    it('lists notifications newest first by category, recipient, business and time, paging on', async () => {
      const s = await seeded()
      await messaging.createCategory(s.admin, {
        infrastructureId: s.i,
        key: 'order.shipped',
        name: 'Shipped',
        channels: { in_app: { channelKey: 'alerts' } },
      })
      const send = (category: string, users: string[], businessId: string | null = null) =>
        messaging
          .notify(s.service, { infrastructureId: s.i, businessId, category, to: { users } })
          .then((r) => r.notification)
      const a = await send('invoice.paid', [s.ada.userId])
      const b = await send('order.shipped', [s.bob.userId])
      const c = await send('invoice.paid', [s.bob.userId, s.ada.userId])
      const d = await send('invoice.paid', [s.dee.userId], s.t.bizA)
      const ids = (ns: { id: string }[]) => ns.map((x) => x.id)
      const list = (f: object) => messaging.listNotifications(s.admin, { infrastructureId: s.i, ...f })
      const all = await list({})
      expect(ids(all).sort()).toEqual([a.id, b.id, c.id, d.id].sort())
      for (let x = 1; x < all.length; x++) {
        expect(all[x - 1]!.createdAt.getTime()).toBeGreaterThanOrEqual(all[x]!.createdAt.getTime())
      }
      expect(ids(await list({ categoryKey: 'order.shipped' }))).toEqual([b.id])
      expect(ids(await list({ userId: s.bob.userId })).sort()).toEqual([b.id, c.id].sort())
      expect(ids(await list({ businessId: s.t.bizA }))).toEqual([d.id])
      expect(ids(await list({ businessId: null })).sort()).toEqual([a.id, b.id, c.id].sort())
      const first = await list({ limit: 2 })
      const rest = await list({ before: first[1]!.id })
      expect([...ids(first), ...ids(rest)]).toEqual(ids(all))
      expect(await list({ since: new Date(Date.now() + 60_000) })).toEqual([])
      expect(ids(await list({ until: new Date(Date.now() + 60_000) })).length).toBe(4)
      // A business's admin sees its business's notifications only.
      const bizAdmin = principal('infra_admin', [[s.i, s.t.bizA]])
      expect(
        ids(await messaging.listNotifications(bizAdmin, { infrastructureId: s.i, businessId: s.t.bizA })),
      ).toEqual([d.id])
      expect(
        await code(messaging.getNotification(bizAdmin, { infrastructureId: s.i, notificationId: a.id })),
      ).toBe('NOT_FOUND')
    })
  })
}
