import { createHmac, randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSmsTransport } from '../../src/adapters/transports/sms/index.js'
import {
  createMessaging,
  type DeliveryEvent,
  type Messaging,
  type MessagingStorage,
  signTwilioRequest,
  TenantScope,
} from '../../src/index.js'
import { createSecretBox } from '../../src/secrets/index.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { principal, tenant, uuid } from '../support/fixtures.js'
import { type Behaviour, scriptedTransport, testChannelType, until } from '../support/transports.js'
import { LOOPBACK, type LoopbackServer, startHttpServer } from '../transports/support.js'
import type { StorageFactory } from './repository-conformance.js'

const SECRET = 'tok-7f3a9c2e51'

/**
 * Delivery events to the host on every storage adapter (docs/live.md): what a settle, a
 * cancel and a rolled-back unit write, paging by cursor without gap or repeat, who may list
 * them, bad input, and retention.
 */
export function describeEventsConformance(name: string, factory: StorageFactory): void {
  describe(`delivery events conformance: ${name}`, () => {
    let storage: MessagingStorage
    let messaging: Messaging
    // A loopback double of Twilio's Messages API: each text it takes gets the next message SID.
    let twilio: LoopbackServer
    let sids = 0
    beforeAll(async () => {
      storage = await factory()
      messaging = createMessaging({
        storage,
        channelTypes: [testChannelType],
        secrets: createSecretBox({ keys: { k1: randomBytes(32).toString('base64') }, activeKeyId: 'k1' }),
        destinations: LOOPBACK,
      })
      twilio = await startHttpServer('127.0.0.1', (_req, res) => {
        const sid = `SM${(++sids).toString(16).padStart(32, '0')}`
        res
          .writeHead(201, { 'content-type': 'application/json' })
          .end(JSON.stringify({ sid, status: 'queued' }))
      })
    })
    afterAll(async () => {
      await twilio?.close()
      await storage?.close()
    })

    async function setup() {
      const t = tenant()
      const i = t.infra
      const admin = principal('infra_admin', [[i, null]])
      const member = principal('member', [[i, null]])
      const service = principal('service', [[i, null]])
      const channel = await messaging.createChannel(admin, {
        infrastructureId: i,
        channelKey: 'test',
        type: 'test',
        maxAttempts: 2,
        config: { token: SECRET },
      })
      const enqueue = (behaviour: Behaviour = { do: 'deliver' }, extra: { businessId?: string } = {}) =>
        messaging
          .enqueue(member, { infrastructureId: i, channelId: channel.id, payload: { behaviour }, ...extra })
          .then((r) => r.message)
      const transport = scriptedTransport()
      const worker = () =>
        createDeliveryWorker({
          messaging,
          principal: service,
          transports: [transport],
          pollIntervalMs: 20,
          retry: { baseMs: 1, maxMs: 2 },
          random: () => 1,
        })
      const status = async (id: string) =>
        (await messaging.getMessage(admin, { infrastructureId: i, messageId: id })).status
      /** Drains until every message named is in a final state (a retry falls due a moment later). */
      const settle = async (...ids: string[]) => {
        const w = worker()
        await until(async () => {
          await w.drain()
          const states = await Promise.all(ids.map(status))
          return states.every((s) => s !== 'pending' && s !== 'processing')
        })
      }
      /** Every event of the tenant, paged `limit` at a time from the start. */
      const all = async (who = service, limit = 100) => {
        const out: DeliveryEvent[] = []
        let after: string | undefined
        for (;;) {
          const page = await messaging.listEvents(who, {
            infrastructureId: i,
            limit,
            ...(after !== undefined && { after }),
          })
          out.push(...page)
          if (page.length < limit) return out
          after = page.at(-1)!.cursor
        }
      }
      return { t, i, admin, member, service, channel, enqueue, settle, all, status }
    }

    it('a delivery, a retry, a permanent failure, a death and a cancel each write their event, in the order they committed', async () => {
      const s = await setup()
      const delivered = await s.enqueue()
      await s.settle(delivered.id)
      const retried = await s.enqueue({ do: 'retry', times: 1 })
      await s.settle(retried.id)
      const refused = await s.enqueue({ do: 'permanent' })
      await s.settle(refused.id)
      const dead = await s.enqueue({ do: 'retry' })
      await s.settle(dead.id)
      const cancelled = await s.enqueue({ do: 'deliver' })
      await messaging.cancel(s.admin, { infrastructureId: s.i, messageId: cancelled.id })

      const events = await s.all()
      expect(events.map((e) => [e.type, e.messageId, e.data.attempt])).toEqual([
        ['message.delivered', delivered.id, 1],
        ['message.failed', retried.id, 1],
        ['message.delivered', retried.id, 2],
        ['message.failed', refused.id, 1],
        ['message.failed', dead.id, 1],
        ['message.dead', dead.id, 2],
        ['message.cancelled', cancelled.id, 0],
      ])
      for (const e of events) {
        expect(e).toMatchObject({
          infrastructureId: s.i,
          businessId: null,
          channelId: s.channel.id,
          notificationId: null,
        })
        expect(e.occurredAt).toBeInstanceOf(Date)
        expect(e.cursor).toMatch(/^\d+\.\d+$/)
      }
      expect(new Set(events.map((e) => e.id)).size).toBe(events.length)
      expect(events[0]!.data).toMatchObject({
        status: 'processed',
        providerMessageId: `p-${delivered.id}`,
      })
      expect(events[1]!.data).toMatchObject({ status: 'pending', willRetry: true, errorCode: 'http_503' })
      expect(events[3]!.data).toMatchObject({
        status: 'failed',
        willRetry: false,
        errorCode: 'http_400',
        error: 'bad recipient',
      })
      expect(events[5]!.data).toMatchObject({ status: 'dead', errorCode: 'http_503' })
      // The provider's error quoted the channel's secret: the event carries it redacted, as the attempt does.
      expect(JSON.stringify(events)).not.toContain(SECRET)

      // Paging one at a time gives the same events, each once.
      const oneByOne = await s.all(s.admin, 1)
      expect(oneByOne.map((e) => e.id)).toEqual(events.map((e) => e.id))
      // After the last: nothing; after any one: the rest.
      expect(
        await messaging.listEvents(s.service, { infrastructureId: s.i, after: events.at(-1)!.cursor }),
      ).toEqual([])
      const rest = await messaging.listEvents(s.service, { infrastructureId: s.i, after: events[2]!.cursor })
      expect(rest.map((e) => e.id)).toEqual(events.slice(3).map((e) => e.id))
      const failures = await messaging.listEvents(s.service, {
        infrastructureId: s.i,
        type: 'message.failed',
      })
      expect(failures.map((e) => e.messageId)).toEqual([retried.id, refused.id, dead.id])
    })

    it('an event is written with its change or not at all: a unit that throws leaves none', async () => {
      const s = await setup()
      const scope = TenantScope.of(s.service)
      const event = {
        id: uuid(),
        infrastructureId: s.i,
        businessId: null,
        type: 'message.cancelled' as const,
        messageId: uuid(),
        notificationId: null,
        channelId: s.channel.id,
        data: { attempt: 0 },
      }
      await expect(
        storage.unitOfWork.run(scope, async (r) => {
          await r.events.append(scope, [event])
          throw new Error('the change failed')
        }),
      ).rejects.toThrow('the change failed')
      expect(await s.all()).toEqual([])
      await storage.unitOfWork.run(scope, (r) => r.events.append(scope, [event]))
      expect((await s.all()).map((e) => e.id)).toEqual([event.id])
    })

    it("lists only the caller's tenant, to its admins and services; a member, another tenant and bad input are refused", async () => {
      const s = await setup()
      const other = await setup()
      const m = await s.enqueue()
      await s.settle(m.id)
      const o = await other.enqueue()
      await other.settle(o.id)
      expect((await s.all(s.admin)).map((e) => e.messageId)).toEqual([m.id])
      expect((await other.all(other.service)).map((e) => e.messageId)).toEqual([o.id])
      // A member of the tenant: refused by role.
      await expect(messaging.listEvents(s.member, { infrastructureId: s.i })).rejects.toMatchObject({
        code: 'FORBIDDEN_ROLE',
      })
      // Another tenant's service asking for this tenant: outside its scope, nothing read.
      await expect(messaging.listEvents(other.service, { infrastructureId: s.i })).rejects.toMatchObject({
        code: 'TENANT_SCOPE_VIOLATION',
      })
      // The store itself returns nothing of another tenant, even to a scope that asks for it.
      const stranger = TenantScope.of(other.service)
      const leaked = await storage.unitOfWork.run(stranger, (r) =>
        r.events.list(stranger, { infrastructureId: s.i, after: null, limit: 100 }),
      )
      expect(leaked).toEqual([])
      const memberScope = TenantScope.of(s.member)
      const asMember = await storage.unitOfWork.run(memberScope, (r) =>
        r.events.list(memberScope, { infrastructureId: s.i, after: null, limit: 100 }),
      )
      expect(asMember).toEqual([])
      // An event can only be written into a tenant its writer reaches.
      await expect(
        storage.unitOfWork.run(stranger, (r) =>
          r.events.append(stranger, [
            {
              id: uuid(),
              infrastructureId: s.i,
              businessId: null,
              type: 'message.delivered',
              messageId: m.id,
              notificationId: null,
              channelId: s.channel.id,
              data: {},
            },
          ]),
        ),
      ).rejects.toMatchObject({ code: 'TENANT_SCOPE_VIOLATION' })
      expect((await s.all()).map((e) => e.messageId)).toEqual([m.id])

      for (const [input, path, rule] of [
        [{ after: 'yesterday' }, 'after', 'event_cursor'],
        [{ after: '1.2.3' }, 'after', 'event_cursor'],
        [{ after: '-1.2' }, 'after', 'event_cursor'],
        [{ after: '99999999999999999999.1' }, 'after', 'event_cursor'],
        [{ after: '01.2' }, 'after', 'event_cursor'],
        [{ limit: 0 }, 'limit', 'too_small'],
        [{ limit: 1001 }, 'limit', 'too_big'],
        [{ limit: 1.5 }, 'limit', 'invalid_type'],
        [{ type: 'message.sent' }, 'type', 'invalid_value'],
      ] as const) {
        await expect(
          messaging.listEvents(s.service, { infrastructureId: s.i, ...(input as object) }),
        ).rejects.toMatchObject({ code: 'VALIDATION_FAILED', issues: [{ path, rule }] })
      }
    })

    it("a notify's skipped recipient is a recipient.skipped event of the notification, with its reason", async () => {
      const s = await setup()
      await messaging.createChannel(s.admin, { infrastructureId: s.i, channelKey: 'alerts', type: 'in_app' })
      await messaging.createCategory(s.admin, {
        infrastructureId: s.i,
        key: 'invoice.paid',
        name: 'Invoice paid',
        channels: { in_app: { channelKey: 'alerts' } },
      })
      const ada = principal('member', [[s.i, null]])
      const bob = principal('member', [[s.i, null]])
      for (const p of [ada, bob]) {
        await messaging.upsertProfile(s.admin, { infrastructureId: s.i, userId: p.userId, locale: 'en' })
      }
      await messaging.setPreference(bob, {
        infrastructureId: s.i,
        categoryKey: 'invoice.paid',
        channelType: 'in_app',
        enabled: false,
      })
      const { notification } = await messaging.notify(s.service, {
        infrastructureId: s.i,
        category: 'invoice.paid',
        to: { users: [ada.userId, bob.userId] },
        data: { invoice: 'INV-1' },
      })
      const skipped = await messaging.listEvents(s.admin, {
        infrastructureId: s.i,
        type: 'recipient.skipped',
      })
      expect(skipped).toMatchObject([
        {
          type: 'recipient.skipped',
          notificationId: notification.id,
          messageId: null,
          data: { userId: bob.userId, channelType: 'in_app', reason: 'opted_out' },
        },
      ])
    })

    it('a notification whose every message is final is completed once: by the last settle, by two settles at once, or by a cancel', async () => {
      const s = await setup()
      await messaging.createCategory(s.admin, {
        infrastructureId: s.i,
        key: 'ops.alert',
        name: 'Ops alert',
        channels: { test: { channelKey: 'test' } },
      })
      const people = [principal('member', [[s.i, null]]), principal('member', [[s.i, null]])]
      for (const p of people) {
        await messaging.upsertProfile(s.admin, { infrastructureId: s.i, userId: p.userId, locale: 'en' })
      }
      const notify = async () =>
        (
          await messaging.notify(s.service, {
            infrastructureId: s.i,
            category: 'ops.alert',
            to: { users: people.map((p) => p.userId) },
            data: { behaviour: { do: 'deliver' } },
          })
        ).notification
      const completed = async (notificationId: string) =>
        (
          await messaging.listEvents(s.service, { infrastructureId: s.i, type: 'notification.completed' })
        ).filter((e) => e.notificationId === notificationId)

      // Settled one at a time by a host's acks: the first leaves it open, the second completes it.
      const first = await notify()
      const held = await messaging.claim(s.service, { infrastructureId: s.i, limit: 10 })
      expect(held.map((m) => m.notification?.id)).toEqual([first.id, first.id])
      const ack = (m: (typeof held)[number]) =>
        messaging.ack(s.service, {
          infrastructureId: s.i,
          messageId: m.id,
          leaseToken: m.leaseToken,
          outcome: 'processed',
        })
      await ack(held[0]!)
      expect(await completed(first.id)).toEqual([])
      await ack(held[1]!)
      expect(await completed(first.id)).toMatchObject([
        { type: 'notification.completed', notificationId: first.id, messageId: null, businessId: null },
      ])

      // The last two settled at once, in two units of work: still exactly one.
      const second = await notify()
      const both = await messaging.claim(s.service, { infrastructureId: s.i, limit: 10 })
      await Promise.all(both.map(ack))
      expect(await completed(second.id)).toHaveLength(1)

      // A cancel that takes the last open messages completes it too.
      const third = await notify()
      await messaging.cancel(s.admin, { infrastructureId: s.i, notificationId: third.id })
      expect(await completed(third.id)).toHaveLength(1)
    })

    it('follows the tenant live: each event once in log order, resumes after a cursor without loss, nothing of another tenant, services only', async () => {
      const s = await setup()
      const other = await setup()
      const got: DeliveryEvent[] = []
      const failures: unknown[] = []
      const sink = { event: (e: DeliveryEvent) => got.push(e), failed: (e: unknown) => failures.push(e) }
      const before = await s.enqueue()
      await s.settle(before.id)
      // Without a cursor the stream starts after the newest event: `before`'s is not sent.
      const stop = await messaging.followEvents(s.service, { infrastructureId: s.i }, sink)
      const m1 = await s.enqueue()
      const m2 = await s.enqueue({ do: 'permanent' })
      await s.settle(m1.id, m2.id)
      const o = await other.enqueue()
      await other.settle(o.id)
      await messaging.cancel(s.admin, { infrastructureId: s.i, messageId: (await s.enqueue()).id })
      await until(() => got.length >= 3)
      expect(got.map((e) => e.messageId).sort()).toEqual([m1.id, m2.id, got[2]!.messageId].sort())
      expect(got.map((e) => e.type).sort()).toEqual([
        'message.cancelled',
        'message.delivered',
        'message.failed',
      ])
      expect(got.every((e) => e.infrastructureId === s.i)).toBe(true)
      const listed = await messaging.listEvents(s.service, {
        infrastructureId: s.i,
        after: (await s.all())[0]!.cursor,
      })
      expect(got.map((e) => e.id)).toEqual(listed.map((e) => e.id))
      stop()

      // Missed while away: a stream resumed from the last cursor it saw sends them first, then goes on live.
      const missed = await s.enqueue()
      await s.settle(missed.id)
      const resumed: DeliveryEvent[] = []
      const stop2 = await messaging.followEvents(
        s.service,
        { infrastructureId: s.i, after: got.at(-1)!.cursor },
        { event: (e) => resumed.push(e), failed: (e) => failures.push(e) },
      )
      expect(resumed.map((e) => e.messageId)).toEqual([missed.id])
      const live = await s.enqueue()
      await s.settle(live.id)
      await until(() => resumed.length === 2)
      expect(resumed.map((e) => e.messageId)).toEqual([missed.id, live.id])
      stop2()
      expect(failures).toEqual([])

      // An admin, a member and another tenant's service may not follow; a bad cursor names its field.
      await expect(messaging.followEvents(s.admin, { infrastructureId: s.i }, sink)).rejects.toMatchObject({
        code: 'FORBIDDEN_ROLE',
      })
      await expect(messaging.followEvents(s.member, { infrastructureId: s.i }, sink)).rejects.toMatchObject({
        code: 'FORBIDDEN_ROLE',
      })
      await expect(
        messaging.followEvents(other.service, { infrastructureId: s.i }, sink),
      ).rejects.toMatchObject({
        code: 'TENANT_SCOPE_VIOLATION',
      })
      await expect(
        messaging.followEvents(s.service, { infrastructureId: s.i, after: 'x' }, sink),
      ).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
        issues: [{ path: 'after', rule: 'event_cursor' }],
      })
    })

    it('a provider receipt moves a delivered message to confirmed or bounced once, with its event; any other state or a second receipt changes nothing', async () => {
      const s = await setup()
      const token = `twilio-token-${s.i}`
      const sms = await messaging.createChannel(s.admin, {
        infrastructureId: s.i,
        channelKey: 'sms',
        type: 'sms',
        config: {
          from: '+4915112345678',
          twilio: { accountSid: `AC${'0123456789abcdef'.repeat(2)}`, authToken: token, baseUrl: twilio.url },
        },
      })
      const text = (n: number) =>
        messaging
          .enqueue(s.member, {
            infrastructureId: s.i,
            channelId: sms.id,
            payload: { text: `code ${n}` },
            recipients: [`+49151999900${n}0`],
          })
          .then((r) => r.message)
      const [a, b, held] = [await text(1), await text(2), await text(3)]
      // `held` is cancelled: only a and b are delivered, each through the real SMS transport.
      const worker = createDeliveryWorker({
        messaging,
        principal: s.service,
        transports: [createSmsTransport({ allowHttp: true, ssrf: LOOPBACK })],
        pollIntervalMs: 20,
      })
      await messaging.cancel(s.admin, { infrastructureId: s.i, messageId: held.id })
      await until(async () => {
        await worker.drain()
        return (await s.status(a.id)) === 'processed' && (await s.status(b.id)) === 'processed'
      })
      const sidOf = async (id: string) =>
        (await messaging.listAttempts(s.admin, { infrastructureId: s.i, messageId: id })).at(-1)!
          .providerMessageId!
      const [sidA, sidB] = [await sidOf(a.id), await sidOf(b.id)]
      expect(sidA).toMatch(/^SM[0-9a-f]{32}$/)

      const url = `https://api.example.com/receipts/sms/${s.i}/${sms.id}`
      const receipt = (
        fields: Record<string, string>,
        signWith = token,
        path = { i: s.i, channel: sms.id },
      ) => {
        const body = new URLSearchParams(fields)
        const at = `https://api.example.com/receipts/sms/${path.i}/${path.channel}`
        return messaging.receiveReceipt({
          kind: 'sms',
          infrastructureId: path.i,
          channelId: path.channel,
          url: at,
          twilioSignature: signTwilioRequest(signWith, at, body),
          body: body.toString(),
        })
      }
      const before = (await s.all()).length

      // Refused, and nothing changes: unsigned, signed with another token, a tampered body.
      const unsigned = { kind: 'sms' as const, infrastructureId: s.i, channelId: sms.id, url }
      const body = new URLSearchParams({ MessageSid: sidA, MessageStatus: 'delivered' })
      await expect(messaging.receiveReceipt({ ...unsigned, body: body.toString() })).rejects.toMatchObject({
        code: 'UNAUTHENTICATED',
      })
      await expect(
        receipt({ MessageSid: sidA, MessageStatus: 'delivered' }, 'another-token'),
      ).rejects.toMatchObject({
        code: 'UNAUTHENTICATED',
      })
      await expect(
        messaging.receiveReceipt({
          ...unsigned,
          twilioSignature: signTwilioRequest(token, url, body),
          body: `${body.toString()}&ErrorCode=1`,
        }),
      ).rejects.toMatchObject({ code: 'UNAUTHENTICATED' })
      expect(await s.status(a.id)).toBe('processed')

      // An intermediate state moves nothing.
      expect(await receipt({ MessageSid: sidA, MessageStatus: 'sent' })).toEqual({
        outcome: 'ignored',
        messageId: null,
        status: null,
      })
      // delivered -> confirmed, once; the same receipt again answers without a second event.
      expect(await receipt({ MessageSid: sidA, MessageStatus: 'delivered' })).toEqual({
        outcome: 'applied',
        messageId: a.id,
        status: 'confirmed',
      })
      expect(await receipt({ MessageSid: sidA, MessageStatus: 'delivered' })).toEqual({
        outcome: 'unchanged',
        messageId: a.id,
        status: 'confirmed',
      })
      // A later contrary report changes nothing either: confirmed is final.
      expect(await receipt({ MessageSid: sidA, MessageStatus: 'undelivered' })).toMatchObject({
        outcome: 'unchanged',
        status: 'confirmed',
      })
      // The same receipt twice at once (a provider retrying): one moves the message, the other
      // finds it moved (PostgreSQL: the second update waits for the first's row lock, then
      // re-checks `processed`), whichever runs first; one event either way.
      const twice = await Promise.all([
        receipt({ MessageSid: sidB, MessageStatus: 'undelivered', ErrorCode: '30003' }),
        receipt({ MessageSid: sidB, MessageStatus: 'undelivered', ErrorCode: '30003' }),
      ])
      expect(twice.map((r) => r.outcome).sort()).toEqual(['applied', 'unchanged'])
      expect(twice.every((r) => r.messageId === b.id && r.status === 'bounced')).toBe(true)
      // A message that was never delivered, named by the email route's own id: unchanged.
      const secret = `whsec_${randomBytes(24).toString('base64')}`
      const email = await messaging.createChannel(s.admin, {
        infrastructureId: s.i,
        channelKey: 'mail',
        type: 'email',
        config: { from: 'ops@example.com', receiptSecret: secret },
      })
      const pending = await messaging
        .enqueue(s.member, {
          infrastructureId: s.i,
          channelId: email.id,
          payload: { subject: 's', text: 't' },
        })
        .then((r) => r.message)
      const json = JSON.stringify({ messageId: pending.id, status: 'delivered' })
      const ts = String(Math.floor(Date.now() / 1000))
      const sig = createHmac('sha256', Buffer.from(secret.slice(6), 'base64'))
        .update(`msg_1.${ts}.${json}`)
        .digest('base64')
      const signed = {
        kind: 'email' as const,
        infrastructureId: s.i,
        channelId: email.id,
        url: 'https://api.example.com/receipts/email',
        webhookId: 'msg_1',
        webhookTimestamp: ts,
        webhookSignature: `v1,${sig}`,
        body: json,
      }
      expect(await messaging.receiveReceipt(signed)).toEqual({
        outcome: 'unchanged',
        messageId: pending.id,
        status: 'pending',
      })
      const stale = String(Number(ts) - 600)
      const staleSig = createHmac('sha256', Buffer.from(secret.slice(6), 'base64'))
        .update(`msg_1.${stale}.${json}`)
        .digest('base64')
      await expect(
        messaging.receiveReceipt({ ...signed, webhookTimestamp: stale, webhookSignature: `v1,${staleSig}` }),
      ).rejects.toMatchObject({ code: 'UNAUTHENTICATED' })

      const events = (await s.all()).slice(before)
      expect(events.map((e) => [e.type, e.messageId])).toEqual([
        ['message.confirmed', a.id],
        ['message.bounced', b.id],
      ])
      expect(events[0]!.data).toMatchObject({
        status: 'confirmed',
        providerStatus: 'delivered',
        providerMessageId: sidA,
      })
      expect(events[1]!.data).toMatchObject({
        status: 'bounced',
        providerStatus: 'undelivered',
        reason: 'TWILIO_30003',
      })
      expect(
        (await messaging.stats(s.admin, { infrastructureId: s.i })).find((x) => x.channelId === sms.id),
      ).toMatchObject({
        processed: 0,
        confirmed: 1,
        bounced: 1,
      })
      // One audit entry per receipt that moved a message, none for the refused or unchanged.
      const audit = await messaging.listAudit(s.admin, { infrastructureId: s.i, action: 'outbox.receipt' })
      // (Sorted by message: two entries may share an instant.)
      const byMessage = audit
        .map((x) => [x.targetId, x.actorId, x.actorRole, x.outcome, x.details] as const)
        .sort((x, y) => (x[0] === a.id ? -1 : y[0] === a.id ? 1 : 0))
      expect(byMessage).toEqual([
        [a.id, sms.id, 'service', 'ok', { status: 'confirmed', providerStatus: 'delivered' }],
        [b.id, sms.id, 'service', 'ok', { status: 'bounced', providerStatus: 'undelivered' }],
      ])
      expect(await messaging.listMessages(s.admin, { infrastructureId: s.i, status: 'confirmed' })).toEqual([
        expect.objectContaining({ id: a.id }),
      ])

      // Another tenant, with its own SMS channel: its path never reaches tenant A's message,
      // even with a provider id A's attempt recorded (on PostgreSQL the lookup runs under B's
      // row-level policies, which hide A's rows whatever the statement asks for).
      const t2 = tenant()
      const adminB = principal('infra_admin', [[t2.infra, null]])
      const smsB = await messaging.createChannel(adminB, {
        infrastructureId: t2.infra,
        channelKey: 'sms',
        type: 'sms',
        config: {
          from: '+4915112345678',
          twilio: {
            accountSid: `AC${'0123456789abcdef'.repeat(2)}`,
            authToken: 'token-b',
            baseUrl: twilio.url,
          },
        },
      })
      await expect(
        receipt({ MessageSid: sidB, MessageStatus: 'delivered' }, 'token-b', {
          i: t2.infra,
          channel: smsB.id,
        }),
      ).rejects.toMatchObject({ code: 'NOT_FOUND' })
      await expect(
        receipt({ MessageSid: sidB, MessageStatus: 'delivered' }, token, { i: t2.infra, channel: sms.id }),
      ).rejects.toMatchObject({ code: 'NOT_FOUND' })
      const scopeB = TenantScope.of({
        userId: uuid(),
        role: 'service',
        grants: [{ infrastructureId: t2.infra, businessId: null }],
      })
      const seen = await storage.unitOfWork.run(scopeB, (r) =>
        r.outbox.findByProviderMessageId(scopeB, {
          infrastructureId: s.i,
          channelId: sms.id,
          providerMessageId: sidA,
        }),
      )
      expect(seen).toBeNull()

      // Retention removes confirmed and bounced messages like other settled ones.
      for (let n = -1; n !== 0; )
        n = await messaging.prune({ olderThan: new Date(Date.now() + 1000), batchSize: 500 })
      await expect(
        messaging.getMessage(s.admin, { infrastructureId: s.i, messageId: a.id }),
      ).rejects.toMatchObject({
        code: 'NOT_FOUND',
      })
      await expect(
        messaging.getMessage(s.admin, { infrastructureId: s.i, messageId: b.id }),
      ).rejects.toMatchObject({
        code: 'NOT_FOUND',
      })
    })

    it('retention removes events older than the cut-off with the messages they tell of', async () => {
      const s = await setup()
      const m = await s.enqueue()
      await s.settle(m.id)
      expect(await s.all()).toHaveLength(1)
      // Events of this instant stay under a cut-off in the past (other tests share the store).
      await messaging.prune({ olderThan: new Date(Date.now() - 60_000) })
      expect(await s.all()).toHaveLength(1)
      for (let n = -1; n !== 0; )
        n = await messaging.prune({ olderThan: new Date(Date.now() + 1000), batchSize: 500 })
      expect(await s.all()).toEqual([])
    })
  })
}
