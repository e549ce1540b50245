import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createInAppTransport } from '../../src/adapters/transports/in-app/index.js'
import { createMessaging, type MessagingStorage, TenantScope } from '../../src/index.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { principal, tenant, uuid } from '../support/fixtures.js'
import type { StorageFactory } from './repository-conformance.js'

/** The in-app inbox on every storage adapter: delivered by the worker, read by each user alone. */
export function describeInboxConformance(name: string, factory: StorageFactory): void {
  describe(`inbox conformance: ${name}`, () => {
    let storage: MessagingStorage
    beforeAll(async () => {
      storage = await factory()
    })
    afterAll(async () => {
      await storage?.close()
    })

    async function setup() {
      const messaging = createMessaging({ storage })
      const t = tenant()
      const admin = principal('infra_admin', [[t.infra, null]])
      const service = principal('service', [[t.infra, null]])
      const producer = principal('member', [[t.infra, null]])
      const alice = principal('member', [[t.infra, t.bizA]])
      const bob = principal('member', [[t.infra, t.bizB]])
      const carol = principal('member', [[t.infra, null]])
      const dave = principal('member', [[t.infra, null]])
      /** Not a member of the channel: reached only by name. */
      const erin = principal('member', [[t.infra, null]])
      const ch = await messaging.createChannel(admin, {
        infrastructureId: t.infra,
        channelKey: 'inbox',
        type: 'in_app',
      })
      const add = (p: typeof alice, businessId: string | null, optedIn: boolean) =>
        messaging.addMember(admin, {
          infrastructureId: t.infra,
          channelId: ch.id,
          userId: p.userId,
          businessId,
          optedIn,
        })
      await add(alice, t.bizA, true)
      await add(bob, t.bizB, true)
      await add(carol, null, true)
      await add(dave, null, false)
      const worker = createDeliveryWorker({
        messaging,
        principal: service,
        transports: [createInAppTransport({ messaging })],
        pollIntervalMs: 20,
      })
      const send = async (
        payload: object,
        extra: { businessId?: string | null; recipients?: string[] } = {},
      ) => {
        const { message } = await messaging.enqueue(producer, {
          infrastructureId: t.infra,
          channelId: ch.id,
          payload: payload as never,
          ...extra,
        })
        await worker.drain()
        return message
      }
      const inbox = (p: typeof alice, extra: object = {}) =>
        messaging.listInbox(p, { infrastructureId: t.infra, ...extra })
      return { messaging, t, admin, service, alice, bob, carol, dave, erin, ch, send, inbox }
    }

    it("delivers to the channel's opted-in members of the message's business, once each", async () => {
      const s = await setup()
      const forA = await s.send({ title: 'A only' }, { businessId: s.t.bizA })
      const forAll = await s.send({ title: 'everyone' })
      expect((await s.inbox(s.alice)).map((e) => e.messageId)).toEqual([forA.id])
      expect((await s.inbox(s.bob)).map((e) => e.messageId)).toEqual([])
      // An infrastructure-level message reaches infrastructure-wide members only (a business grant
      // cannot see it); Carol gets both, Dave opted out gets nothing.
      expect((await s.inbox(s.carol)).map((e) => e.messageId).sort()).toEqual([forA.id, forAll.id].sort())
      expect(await s.inbox(s.dave)).toEqual([])
      const entry = (await s.inbox(s.carol)).find((e) => e.messageId === forAll.id)!
      expect(entry).toMatchObject({
        payload: { title: 'everyone' },
        readAt: null,
        seenAt: null,
        archivedAt: null,
      })
      // At-least-once delivery: delivering the same message again adds no second entry.
      const msg = await s.messaging.getMessage(s.admin, { infrastructureId: s.t.infra, messageId: forAll.id })
      const again = await s.messaging.inbox.deliver(TenantScope.of(s.service), msg, s.ch)
      expect(again).toEqual({ ok: true, recipients: 1, added: 0 })
      expect(await s.inbox(s.carol)).toHaveLength(2)
    })

    it("delivers to a message's own recipients, and fails it for good when one is not a user id", async () => {
      const s = await setup()
      const direct = await s.send({ title: 'for erin' }, { recipients: [s.erin.userId] })
      expect((await s.inbox(s.erin)).map((e) => e.messageId)).toEqual([direct.id])
      // Naming a member who opted out of the channel does not reach them: preferences hold on every path.
      const named = await s.send({ title: 'for dave' }, { recipients: [s.dave.userId, s.carol.userId] })
      expect(await s.inbox(s.dave)).toEqual([])
      expect((await s.inbox(s.carol)).map((e) => e.messageId)).toContain(named.id)
      expect(
        await s.messaging.getMessage(s.admin, { infrastructureId: s.t.infra, messageId: named.id }),
      ).toMatchObject({ status: 'processed' })
      const bad = await s.send({ title: 'x' }, { recipients: ['ops@example.com'] })
      expect(
        await s.messaging.getMessage(s.admin, { infrastructureId: s.t.infra, messageId: bad.id }),
      ).toMatchObject({
        status: 'failed',
        lastError: 'in-app recipients must be user ids (UUIDs)',
      })
    })

    it('shows each user only their own entries, within their grants', async () => {
      const s = await setup()
      await s.send({ title: 'one' }, { businessId: s.t.bizA, recipients: [s.alice.userId] })
      const mine = await s.inbox(s.alice)
      expect(mine).toHaveLength(1)
      // Bob cannot mark or see Alice's entry, even by id.
      expect(
        await s.messaging.markInbox(s.bob, {
          infrastructureId: s.t.infra,
          entryIds: [mine[0]!.id],
          mark: 'read',
        }),
      ).toEqual({
        changed: 0,
      })
      expect(await s.inbox(s.bob)).toEqual([])
      // Alice's user acting under another tenant's grant sees nothing of this tenant.
      const elsewhere = { ...s.alice, grants: [{ infrastructureId: uuid(), businessId: null }] }
      await expect(s.messaging.listInbox(elsewhere, { infrastructureId: s.t.infra })).rejects.toMatchObject({
        code: 'TENANT_SCOPE_VIOLATION',
      })
      // An entry of a business outside the user's grants stays hidden from that user.
      const narrowed = { ...s.carol, grants: [{ infrastructureId: s.t.infra, businessId: s.t.bizB }] }
      await s.send({ title: 'biz A' }, { businessId: s.t.bizA, recipients: [s.carol.userId] })
      expect((await s.messaging.listInbox(narrowed, { infrastructureId: s.t.infra })).length).toBe(0)
      expect((await s.inbox(s.carol)).length).toBe(1)
    })

    it('counts unread, marks seen, read and archived, and pages newest first', async () => {
      const s = await setup()
      for (let i = 0; i < 5; i++) {
        await s.send({ n: i }, { recipients: [s.erin.userId] })
        await new Promise((r) => setTimeout(r, 3))
      }
      const all = await s.inbox(s.erin)
      expect(all.map((e) => (e.payload as { n: number }).n)).toEqual([4, 3, 2, 1, 0])
      const page2 = await s.inbox(s.erin, { before: all[1]!.id, limit: 2 })
      expect(page2.map((e) => (e.payload as { n: number }).n)).toEqual([2, 1])
      const unread = () => s.messaging.countUnread(s.erin, { infrastructureId: s.t.infra })
      expect(await unread()).toEqual({ unread: 5 })
      const mark = (entryIds: string[] | 'all', m: 'seen' | 'read' | 'archived') =>
        s.messaging.markInbox(s.erin, { infrastructureId: s.t.infra, entryIds, mark: m })
      expect(await mark([all[0]!.id, all[1]!.id], 'read')).toEqual({ changed: 2 })
      expect(await mark([all[0]!.id], 'read')).toEqual({ changed: 0 })
      expect(await unread()).toEqual({ unread: 3 })
      expect((await s.inbox(s.erin, { unreadOnly: true })).length).toBe(3)
      expect(await mark('all', 'seen')).toEqual({ changed: 5 })
      expect(await mark([all[4]!.id], 'archived')).toEqual({ changed: 1 })
      expect(await unread()).toEqual({ unread: 2 })
      expect((await s.inbox(s.erin)).length).toBe(4)
      const withArchived = await s.inbox(s.erin, { includeArchived: true })
      expect(withArchived.length).toBe(5)
      expect(withArchived.every((e) => e.seenAt !== null)).toBe(true)
    })

    it('refuses inbox writes by anyone but a delivery worker in scope', async () => {
      const s = await setup()
      const msg = await s.send({ title: 'x' }, { recipients: [s.erin.userId] })
      const m = await s.messaging.getMessage(s.admin, { infrastructureId: s.t.infra, messageId: msg.id })
      await expect(s.messaging.inbox.deliver(TenantScope.of(s.admin), m, s.ch)).rejects.toMatchObject({
        code: 'FORBIDDEN_ROLE',
      })
      const outsider = TenantScope.of(principal('service', [[uuid(), null]]))
      await expect(s.messaging.inbox.deliver(outsider, m, s.ch)).rejects.toMatchObject({
        code: 'TENANT_SCOPE_VIOLATION',
      })
    })
  })
}
