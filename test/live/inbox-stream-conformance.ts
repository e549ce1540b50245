import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createInAppTransport } from '../../src/adapters/transports/in-app/index.js'
import { createFetchHandler, type FetchHandler } from '../../src/http/index.js'
import { createMessaging, type Messaging, type MessagingStorage, type Principal } from '../../src/index.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { bearerAuth, serveOnLoopback } from '../http/support.js'
import { principal, tenant } from '../support/fixtures.js'
import { readSse, type SseEvent, waitUntil } from '../support/sse.js'

const HEARTBEAT_MS = 50

const isEntry = (title: string) => (e: SseEvent) =>
  e.event === 'entry' && (JSON.parse(e.data) as { payload: { title?: string } }).payload.title === title
const isUnread = (n: number) => (e: SseEvent) => e.event === 'unread' && JSON.parse(e.data).unread === n

/**
 * `GET /inbox/stream` on one store, over a real socket: the same cases on every store. The
 * stream follows the store's inbox feed (PostgreSQL: LISTEN/NOTIFY; memory and SQLite: in
 * the process) and reads each entry through the caller's own scoped read.
 */
export function describeInboxStream(name: string, factory: () => Promise<MessagingStorage>): void {
  describe(`live inbox stream: ${name}`, () => {
    let storage: MessagingStorage
    let messaging: Messaging
    let handler: FetchHandler
    const tokens = new Map<string, Principal>()
    const base = serveOnLoopback((request) => handler(request))
    beforeAll(async () => {
      storage = await factory()
      messaging = createMessaging({ storage })
      handler = createFetchHandler({ messaging, authenticate: bearerAuth(tokens), heartbeatMs: HEARTBEAT_MS })
    })
    afterAll(async () => {
      await storage?.close()
    })

    async function setup() {
      const t = tenant()
      const admin = principal('infra_admin', [[t.infra, null]])
      const service = principal('service', [[t.infra, null]])
      const alice = principal('member', [[t.infra, null]])
      const bob = principal('member', [[t.infra, null]])
      for (const p of [alice, bob]) tokens.set(`tok-${p.userId}`, p)
      const ch = await messaging.createChannel(admin, {
        infrastructureId: t.infra,
        channelKey: 'live',
        type: 'in_app',
      })
      for (const p of [alice, bob]) {
        await messaging.addMember(admin, { infrastructureId: t.infra, channelId: ch.id, userId: p.userId })
      }
      const worker = createDeliveryWorker({
        messaging,
        principal: service,
        transports: [createInAppTransport({ messaging })],
        pollIntervalMs: 20,
      })
      /** Enqueues an in-app message to `to` (of `businessId`, when given) and delivers it. */
      const send = async (title: string, to: Principal[], businessId: string | null = null) => {
        await messaging.enqueue(admin, {
          infrastructureId: t.infra,
          channelId: ch.id,
          payload: { title },
          recipients: to.map((p) => p.userId),
          businessId,
        })
        await worker.drain()
      }
      /** Opens the stream as `who`; resolves once it listens (its first `unread` event). */
      const open = async (
        who: Principal,
        init: { headers?: Record<string, string>; query?: string } = {},
      ) => {
        const res = await fetch(`${base()}/inbox/stream?infrastructureId=${t.infra}${init.query ?? ''}`, {
          headers: { authorization: `Bearer tok-${who.userId}`, ...init.headers },
        })
        expect(res.status).toBe(200)
        expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
        const sse = readSse(res)
        await sse.waitFor((e) => e.event === 'unread')
        return sse
      }
      return { t, admin, alice, bob, ch, send, open }
    }

    it("pushes the user's new entries and unread count, and nothing of another user's", async () => {
      const s = await setup()
      const alice = await s.open(s.alice)
      const bob = await s.open(s.bob)
      expect(alice.events).toEqual([{ event: 'unread', data: '{"unread":0}', id: null }])

      await s.send('for alice', [s.alice])
      const entry = await alice.waitFor(isEntry('for alice'))
      const body = JSON.parse(entry.data)
      expect(body).toMatchObject({ userId: s.alice.userId, infrastructureId: s.t.infra, readAt: null })
      expect(entry.id).toBe(`${new Date(body.createdAt).getTime()}.${body.id}`)
      await alice.waitFor(isUnread(1))

      // Bob's stream is told of his own entry; by then it would have carried Alice's, had it leaked.
      await s.send('for bob', [s.bob])
      await bob.waitFor(isEntry('for bob'))
      await bob.waitFor(isUnread(1))
      expect(bob.events.map((e) => e.event)).toEqual(['unread', 'entry', 'unread'])
      expect(bob.events.some((e) => e.data.includes('for alice'))).toBe(false)
      expect(alice.events.some((e) => e.data.includes('for bob'))).toBe(false)
      await Promise.all([alice.close(), bob.close()])
    })

    it("keeps to the caller's grants: an entry of a business outside them is not sent, not even the user's own", async () => {
      const s = await setup()
      // Dana's session reaches business A of the tenant only.
      const dana = principal('member', [[s.t.infra, s.t.bizA]])
      tokens.set(`tok-${dana.userId}`, dana)
      const stream = await s.open(dana)
      await s.send('business B', [dana], s.t.bizB)
      await s.send('business A', [dana], s.t.bizA)
      await stream.waitFor(isEntry('business A'))
      await stream.waitFor(isUnread(1))
      expect(stream.events.some((e) => e.data.includes('business B'))).toBe(false)
      // It was written: the same user under a tenant-wide grant has both.
      const wide = { ...dana, grants: [{ infrastructureId: s.t.infra, businessId: null }] }
      const all = await messaging.listInbox(wide, { infrastructureId: s.t.infra })
      expect(all.map((e) => (e.payload as { title: string }).title).sort()).toEqual([
        'business A',
        'business B',
      ])
      await stream.close()
    })

    it('moves the unread count when entries are read or archived elsewhere', async () => {
      const s = await setup()
      await s.send('one', [s.alice])
      await s.send('two', [s.alice])
      const alice = await s.open(s.alice)
      expect(alice.events[0]).toMatchObject({ event: 'unread', data: '{"unread":2}' })
      const [newest] = await messaging.listInbox(s.alice, { infrastructureId: s.t.infra })
      await messaging.markInbox(s.alice, {
        infrastructureId: s.t.infra,
        entryIds: [newest!.id],
        mark: 'read',
      })
      await alice.waitFor(isUnread(1))
      await messaging.markInbox(s.alice, { infrastructureId: s.t.infra, entryIds: 'all', mark: 'archived' })
      await alice.waitFor(isUnread(0))
      await alice.close()
    })

    it('resumes from Last-Event-ID without loss: what came while away is sent first, in order', async () => {
      const s = await setup()
      const first = await s.open(s.alice)
      await s.send('before', [s.alice])
      const seen = await first.waitFor(isEntry('before'))
      await first.close()
      await waitUntil(() => storage.inboxFeed!.listeners === 0, 'the closed stream stops listening')

      for (const title of ['away 1', 'away 2', 'away 3']) await s.send(title, [s.alice])
      const again = await s.open(s.alice, { headers: { 'last-event-id': seen.id! } })
      const titles = again.events
        .filter((e) => e.event === 'entry')
        .map((e) => JSON.parse(e.data).payload.title)
      // Oldest first in the store's order, (createdAt, id): entries of one millisecond go by id.
      const stored = await messaging.listInbox(s.alice, { infrastructureId: s.t.infra })
      expect(titles).toEqual(
        stored
          .reverse()
          .map((e) => (e.payload as { title: string }).title)
          .filter((t) => t !== 'before'),
      )
      expect([...titles].sort()).toEqual(['away 1', 'away 2', 'away 3'])
      expect(again.events.at(-1)).toMatchObject({ event: 'unread', data: '{"unread":4}' })
      // Live again after the catch-up, and the ids go on from there.
      await s.send('after', [s.alice])
      const live = await again.waitFor(isEntry('after'))
      const place = (id: string) => Number(id.split('.')[0])
      expect(place(live.id!)).toBeGreaterThanOrEqual(place(again.events.find(isEntry('away 3'))!.id!))

      // `after` in the query resumes as well (a client that cannot set the header); the header wins over it.
      const fromQuery = await s.open(s.alice, { query: `&after=${encodeURIComponent(seen.id!)}` })
      expect(fromQuery.events.filter((e) => e.event === 'entry')).toHaveLength(4)
      await Promise.all([again.close(), fromQuery.close()])
    })

    it('refuses a bad cursor, another tenant and an anonymous caller with problems, not streams', async () => {
      const s = await setup()
      await waitUntil(() => storage.inboxFeed!.listeners === 0, "the earlier cases' streams have closed")
      const url = `${base()}/inbox/stream?infrastructureId=${s.t.infra}`
      const auth = { authorization: `Bearer tok-${s.alice.userId}` }
      const bad = await fetch(url, { headers: { ...auth, 'last-event-id': 'yesterday' } })
      expect(bad.status).toBe(400)
      expect(await bad.json()).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ path: 'after' }] })
      const elsewhere = await fetch(`${base()}/inbox/stream?infrastructureId=${randomUUID()}`, {
        headers: auth,
      })
      expect(elsewhere.status).toBe(403)
      await elsewhere.body?.cancel()
      const anonymous = await fetch(url)
      expect(anonymous.status).toBe(401)
      await anonymous.body?.cancel()
      expect(storage.inboxFeed!.listeners).toBe(0)
    })

    it('sends heartbeat comments, and stops listening and beating when the client goes away', async () => {
      const s = await setup()
      const intervals = vi.spyOn(globalThis, 'setInterval')
      const cleared = vi.spyOn(globalThis, 'clearInterval')
      try {
        const before = storage.inboxFeed!.listeners
        const alice = await s.open(s.alice)
        expect(storage.inboxFeed!.listeners).toBe(before + 1)
        await alice.waitForComment((c) => c === 'keep-alive')
        const beat = intervals.mock.calls.findIndex(([, ms]) => ms === HEARTBEAT_MS)
        expect(beat).toBeGreaterThanOrEqual(0)
        const handle = intervals.mock.results[beat]!.value
        await alice.close()
        await waitUntil(() => storage.inboxFeed!.listeners === before, 'the stream stops listening')
        await waitUntil(() => cleared.mock.calls.some(([h]) => h === handle), 'the heartbeat is cleared')
      } finally {
        intervals.mockRestore()
        cleared.mockRestore()
      }
    })
  })
}
