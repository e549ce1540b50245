import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createMessaging,
  type DeliveryEvent,
  type Messaging,
  type MessagingStorage,
  TenantScope,
} from '../../src/index.js'
import { createSecretBox } from '../../src/secrets/index.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { principal, tenant, uuid } from '../support/fixtures.js'
import { type Behaviour, scriptedTransport, testChannelType, until } from '../support/transports.js'
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
