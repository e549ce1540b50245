import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { createPostgresStorage, INBOX_FEED_APPLICATION_NAME } from '../../src/adapters/postgres/index.js'
import { createInAppTransport } from '../../src/adapters/transports/in-app/index.js'
import { createMessaging, type Principal } from '../../src/index.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { principal, tenant } from '../support/fixtures.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { waitUntil } from '../support/sse.js'
import { describeInboxStream } from './inbox-stream-conformance.js'

// Connected as LOGIN roles granted messaging_app (not superusers, not the owner): every
// read the stream makes is under the inbox's policies.
const databases: TestDatabase[] = []
afterAll(async () => {
  await Promise.all(databases.map((d) => d.drop()))
})
const database = async (label: string) => {
  const d = await createTestDatabase(label)
  databases.push(d)
  return d
}

describeInboxStream('postgres', async () =>
  createPostgresStorage({ connectionString: (await database('inbox_stream')).appUrl, poolSize: 4 }),
)

describe('live inbox on PostgreSQL: across instances, and a listener that loses its connection', () => {
  it("pushes an entry one instance delivers to another instance's stream, and keeps doing so after its LISTEN backend is terminated", async () => {
    const db = await database('inbox_stream_pair')
    // Two instances on separate pools, as two processes would have: A delivers, B streams.
    const storageA = await createPostgresStorage({ connectionString: db.appUrl, poolSize: 2 })
    const storageB = await createPostgresStorage({ connectionString: db.appUrl, poolSize: 2 })
    const a = createMessaging({ storage: storageA })
    const b = createMessaging({ storage: storageB })
    try {
      const t = tenant()
      const owner = principal('infra_admin', [[t.infra, null]])
      const service = principal('service', [[t.infra, null]])
      const alice = principal('member', [[t.infra, null]])
      const bob = principal('member', [[t.infra, null]])
      const ch = await a.createChannel(owner, {
        infrastructureId: t.infra,
        channelKey: 'pair',
        type: 'in_app',
      })
      const worker = createDeliveryWorker({
        messaging: a,
        principal: service,
        transports: [createInAppTransport({ messaging: a })],
        pollIntervalMs: 20,
      })
      const send = async (title: string, to: Principal) => {
        await a.enqueue(owner, {
          infrastructureId: t.infra,
          channelId: ch.id,
          payload: { title },
          recipients: [to.userId],
        })
        await worker.drain()
      }
      type Got = { type: string; title?: string; unread?: number; userId?: string }
      const follow = async (m: typeof b, who: Principal) => {
        const got: Got[] = []
        const stop = await m.followInbox(
          who,
          { infrastructureId: t.infra },
          {
            event: (e) =>
              got.push(
                e.type === 'entry'
                  ? {
                      type: 'entry',
                      title: (e.entry.payload as { title: string }).title,
                      userId: e.entry.userId,
                    }
                  : { type: 'unread', unread: e.unread },
              ),
            failed: (e) => got.push({ type: `failed: ${String(e)}` }),
          },
        )
        return { got, stop }
      }
      const aliceOnB = await follow(b, alice)
      const bobOnB = await follow(b, bob)
      // One listening connection for the process's streams, however many follow.
      expect(storageB.inboxFeed!.listeners).toBe(2)
      const listeners = async () => {
        const c = new pg.Client({ connectionString: db.adminUrl })
        await c.connect()
        try {
          const r = await c.query<{ pid: number }>(
            'select pid from pg_stat_activity where datname = current_database() and application_name = $1',
            [INBOX_FEED_APPLICATION_NAME],
          )
          return r.rows.map((row) => row.pid)
        } finally {
          await c.end()
        }
      }
      expect(await listeners()).toHaveLength(1)

      await send('from A', alice)
      await waitUntil(() => aliceOnB.got.some((g) => g.title === 'from A'), "A's entry reaches B's stream")
      await waitUntil(() => aliceOnB.got.some((g) => g.unread === 1), "and B's unread count")
      expect(bobOnB.got).toEqual([{ type: 'unread', unread: 0 }])

      // The listening backend goes (a failover, an operator's pg_terminate_backend): the feed
      // reconnects by itself, and an entry delivered afterwards still arrives.
      const [pid] = await listeners()
      const c = new pg.Client({ connectionString: db.adminUrl })
      await c.connect()
      await c.query('select pg_terminate_backend($1)', [pid])
      await c.end()
      // Delivered while the feed may still be away: the resync after the reconnect finds it.
      await send('while away', alice)
      await waitUntil(async () => {
        const now = await listeners()
        return now.length === 1 && now[0] !== pid
      }, 'the feed listens again on a new backend')
      await waitUntil(
        () => aliceOnB.got.some((g) => g.title === 'while away'),
        'the entry sent while away arrives',
      )
      await send('after', alice)
      await waitUntil(() => aliceOnB.got.some((g) => g.title === 'after'), 'a later entry arrives')
      const titles = aliceOnB.got.filter((g) => g.type === 'entry').map((g) => g.title)
      expect(titles).toEqual(['from A', 'while away', 'after'])
      expect(bobOnB.got.filter((g) => g.type === 'entry')).toEqual([])
      expect(aliceOnB.got.every((g) => g.userId === undefined || g.userId === alice.userId)).toBe(true)

      aliceOnB.stop()
      bobOnB.stop()
      expect(storageB.inboxFeed!.listeners).toBe(0)
      await waitUntil(
        async () => (await listeners()).length === 0,
        'the last stream closes the listening connection',
      )
    } finally {
      await Promise.all([storageA.close(), storageB.close()])
    }
  })
})
