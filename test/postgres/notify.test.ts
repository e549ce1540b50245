import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPostgresStorage, type PostgresStorage } from '../../src/adapters/postgres/index.js'
import { createMessaging, type Messaging, type Principal } from '../../src/index.js'
import { principal, tenant, uuid } from '../support/fixtures.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'

/**
 * notify on PostgreSQL beyond the conformance suite: it joins the host's transaction (the
 * transactional outbox: the notification and its messages commit or roll back with the
 * host's own writes), and a fan-out to 10,000 recipients x 2 channels is a few batched
 * statements, not 20,000 round trips.
 */
let db: TestDatabase
let admin: pg.Client
let storage: PostgresStorage
let messaging: Messaging
/** Statements the app's pool sent since the last reset. */
let statements = 0
let pool: pg.Pool

const t = tenant()
const i = t.infra
const root = principal('infra_admin', [[i, null]])
const service = principal('service', [[i, null]])

beforeAll(async () => {
  db = await createTestDatabase('notify_pg')
  admin = new pg.Client({ connectionString: db.adminUrl })
  await admin.connect()
  await admin.query('create table host_orders (id uuid primary key, total int not null)')
  await admin.query('grant select, insert on host_orders to messaging_app')
  pool = new pg.Pool({ connectionString: db.appUrl, max: 4 })
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...a: unknown[]) => unknown
    ;(client as unknown as { query: (...a: unknown[]) => unknown }).query = (...a: unknown[]) => {
      statements++
      return query(...a)
    }
  })
  storage = await createPostgresStorage({ pool, listenConnectionString: false })
  messaging = createMessaging({ storage })
  await messaging.createChannel(root, { infrastructureId: i, channelKey: 'alerts', type: 'in_app' })
  await messaging.createChannel(root, {
    infrastructureId: i,
    channelKey: 'mail',
    type: 'email',
    config: { from: 'news@example.com' },
  })
  await messaging.createCategory(root, {
    infrastructureId: i,
    key: 'digest.weekly',
    name: 'Weekly digest',
    channels: { in_app: { channelKey: 'alerts' }, email: { channelKey: 'mail' } },
  })
})

afterAll(async () => {
  await storage?.close()
  await pool?.end()
  await admin?.end()
  await db?.drop()
})

/** Profiles for `n` users, written as the owner would load them (one statement). */
async function profiles(n: number): Promise<string[]> {
  const users = Array.from({ length: n }, () => uuid())
  await admin.query(
    `insert into messaging_profiles (infrastructure_id, user_id, email, created_at, updated_at, updated_by)
     select $1, u, 'u' || substr(u::text, 1, 8) || '@example.com', now(), now(), $2 from unnest($3::uuid[]) as u`,
    [i, root.userId, users],
  )
  return users
}

const count = async (sqlText: string, values: unknown[]) =>
  Number((await admin.query(sqlText, values)).rows[0].n)

describe('notify on PostgreSQL', () => {
  it('commits the notification and its messages with the host transaction, and rolls them back with it', async () => {
    const [ada] = await profiles(1)
    const host = new Kysely<{ host_orders: { id: string; total: number } }>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: db.appUrl, max: 1 }) }),
    })
    const notifyIn = (trx: Parameters<PostgresStorage['withTransaction']>[0], who: Principal, key: string) =>
      storage.withTransaction(trx, () =>
        messaging.notify(who, {
          infrastructureId: i,
          category: 'digest.weekly',
          to: { users: [ada!] },
          idempotencyKey: key,
        }),
      )
    try {
      const kept = await host.transaction().execute(async (trx) => {
        await trx.insertInto('host_orders').values({ id: uuid(), total: 1 }).execute()
        return notifyIn(trx, service, 'order-1')
      })
      await expect(
        host.transaction().execute(async (trx) => {
          await trx.insertInto('host_orders').values({ id: uuid(), total: 2 }).execute()
          await notifyIn(trx, service, 'order-2')
          throw new Error('host changed its mind')
        }),
      ).rejects.toThrow('host changed its mind')
      expect(await count('select count(*)::int as n from host_orders', [])).toBe(1)
      const notifications = await messaging.listNotifications(root, { infrastructureId: i })
      expect(notifications.map((n) => n.idempotencyKey)).toEqual(['order-1'])
      expect(
        await count('select count(*)::int as n from messaging_outbox where notification_id = $1', [
          kept.notification.id,
        ]),
      ).toBe(2)
      expect(
        await count(
          `select count(*)::int as n from messaging_outbox o
            where o.infrastructure_id = $1 and not exists (select from messaging_notifications n where n.id = o.notification_id)
              and o.notification_id is not null`,
          [i],
        ),
      ).toBe(0)
    } finally {
      await host.destroy()
    }
  })

  it('writes a fan-out to 10,000 recipients x 2 channels in a few batched statements', async () => {
    const users = await profiles(10_000)
    statements = 0
    const t0 = performance.now()
    const { notification: n } = await messaging.notify(service, {
      infrastructureId: i,
      category: 'digest.weekly',
      to: { users },
      data: { week: 14, headline: 'What changed' },
    })
    const ms = performance.now() - t0
    const sent = statements
    expect(n).toMatchObject({ recipientCount: 10_000, messageCount: 20_000, skippedCount: 0 })
    expect(
      await count(
        'select count(*)::int as n from messaging_outbox where infrastructure_id = $1 and notification_id = $2',
        [i, n.id],
      ),
    ).toBe(20_000)
    // Begin, the claims, the reads (notification key, category, profiles, channels, members,
    // preferences, defaults, templates), the notification, the messages in chunks of 5,000,
    // the audit entry, commit: a few dozen at most, whatever the number of recipients.
    expect(sent).toBeLessThan(40)
    console.log(`notify to 10,000 recipients x 2 channels: ${sent} statements, ${Math.round(ms)} ms`)
    const status = await messaging.getNotification(root, {
      infrastructureId: i,
      notificationId: n.id,
      limit: 10,
    })
    expect(status.counts).toEqual({
      pending: 20_000,
      delivered: 0,
      failed: 0,
      dead: 0,
      skipped: 0,
      cancelled: 0,
    })
    expect(status.deliveries).toHaveLength(10)
  })
})
