import { Kysely, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPostgresStorage, type PostgresStorage } from '../../src/adapters/postgres/index.js'
import {
  createMessaging,
  type Messaging,
  type Principal,
  StorageError,
  TenantScopeViolationError,
} from '../../src/index.js'
import { channel, principal, scopeOf, tenant, uuid } from '../support/fixtures.js'
import { createTestDatabase, providedPostgres, type TestDatabase, urlFor } from '../support/postgres.js'
import { until } from '../support/transports.js'

let db: TestDatabase
let admin: pg.Client
beforeAll(async () => {
  db = await createTestDatabase('adapter')
  admin = new pg.Client({ connectionString: db.adminUrl })
  await admin.connect()
})
afterAll(async () => {
  await admin?.end()
  await db?.drop()
})

describe('start-up role check', () => {
  it('refuses a superuser, and allows it with allowPrivilegedRole (migrations only)', async () => {
    await expect(createPostgresStorage({ connectionString: db.adminUrl })).rejects.toThrow(/superuser/)
    const s = await createPostgresStorage({ connectionString: db.adminUrl, allowPrivilegedRole: true })
    await s.close()
  })

  it("refuses the tables' owner and a BYPASSRLS role, and a role that is not granted messaging_app", async () => {
    const p = providedPostgres()
    const owned = await createTestDatabase('owned', { empty: true })
    try {
      const { migrate } = await import('../../src/adapters/postgres/index.js')
      await migrate({ connectionString: owned.ownerUrl })
      await expect(createPostgresStorage({ connectionString: owned.ownerUrl })).rejects.toThrow(
        /owns the messaging tables/,
      )
      // And the same database is fine for the app role.
      const ok = await createPostgresStorage({ connectionString: owned.appUrl })
      await ok.close()
    } finally {
      await owned.drop()
    }
    const bypass = `messaging_test_bypass_${process.pid}`
    const plain = `messaging_test_plain_${process.pid}`
    await admin.query(`create role ${bypass} login bypassrls password '${p.password}' in role messaging_app`)
    await admin.query(`create role ${plain} login password '${p.password}'`)
    try {
      await expect(
        createPostgresStorage({ connectionString: urlFor(p.adminUrl, db.name, bypass, p.password) }),
      ).rejects.toThrow(/BYPASSRLS/)
      await expect(
        createPostgresStorage({ connectionString: urlFor(p.adminUrl, db.name, plain, p.password) }),
      ).rejects.toThrow(/not a member of messaging_app/)
    } finally {
      await admin.query(`drop role ${bypass}`)
      await admin.query(`drop role ${plain}`)
    }
  })

  it('says so when the tables are missing', async () => {
    const empty = await createTestDatabase('unmigrated', { empty: true })
    try {
      await expect(createPostgresStorage({ connectionString: empty.appUrl })).rejects.toThrow(
        /apply the sql\//,
      )
    } finally {
      await empty.drop()
    }
  })
})

describe('transactional outbox: enqueue inside the host transaction', () => {
  let host: Kysely<{ host_orders: { id: string; total: number } }>
  let storage: PostgresStorage
  let messaging: Messaging
  const t = tenant()
  const ch = channel(t.infra, { type: 'in_app', config: { retentionDays: null } })
  let writer: Principal
  const input = (n: number) => ({
    infrastructureId: t.infra,
    channelKey: ch.channelKey,
    payload: { order: n },
  })
  const messages = async () =>
    (
      await admin.query(
        'select payload from messaging_outbox where infrastructure_id = $1 order by created_at',
        [t.infra],
      )
    ).rows.map((r) => r.payload.order)
  const orders = async () =>
    (await admin.query('select total from host_orders order by total')).rows.map((r) => r.total)

  beforeAll(async () => {
    await admin.query('create table host_orders (id uuid primary key, total int not null)')
    await admin.query('grant select, insert on host_orders to messaging_app')
    host = new Kysely({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: db.appUrl, max: 4 }) }),
    })
    storage = await createPostgresStorage({ db: host })
    messaging = createMessaging({ storage })
    const adminScope = scopeOf('infra_admin', [[t.infra, null]])
    await storage.unitOfWork.run(adminScope, (r) => r.channels.insert(adminScope, ch))
    writer = principal('member', [[t.infra, null]])
  })
  afterAll(async () => {
    await host?.destroy()
  })

  it('commits the message with the host kysely transaction, and rolls it back with it', async () => {
    await host.transaction().execute((trx) =>
      storage.withTransaction(trx, async () => {
        await trx.insertInto('host_orders').values({ id: uuid(), total: 1 }).execute()
        await messaging.enqueue(writer, input(1))
      }),
    )
    await expect(
      host.transaction().execute((trx) =>
        storage.withTransaction(trx, async () => {
          await trx.insertInto('host_orders').values({ id: uuid(), total: 2 }).execute()
          await messaging.enqueue(writer, input(2))
          throw new Error('host changed its mind')
        }),
      ),
    ).rejects.toThrow('host changed its mind')
    expect(await orders()).toEqual([1])
    expect(await messages()).toEqual([1])
  })

  it('commits and rolls back with a pg client the host holds', async () => {
    const pool = new pg.Pool({ connectionString: db.appUrl, max: 1 })
    try {
      for (const [n, end] of [
        [3, 'commit'],
        [4, 'rollback'],
      ] as const) {
        const client = await pool.connect()
        try {
          await client.query('begin')
          await client.query('insert into host_orders (id, total) values ($1, $2)', [uuid(), n])
          await storage.withTransaction(client, () => messaging.enqueue(writer, input(n)))
          await client.query(end)
        } finally {
          client.release()
        }
      }
    } finally {
      await pool.end()
    }
    expect(await orders()).toEqual([1, 3])
    expect(await messages()).toEqual([1, 3])
  })

  it("keeps the host transaction usable after a refused call, and puts the host's claims back", async () => {
    const outsider = principal('member', [[uuid(), null]])
    await host.transaction().execute((trx) =>
      storage.withTransaction(trx, async () => {
        await sql`select set_config('messaging.claims', 'host-own', true)`.execute(trx)
        await expect(messaging.enqueue(outsider, input(5))).rejects.toBeInstanceOf(TenantScopeViolationError)
        const r = await sql<{ v: string }>`select current_setting('messaging.claims') as v`.execute(trx)
        expect(r.rows[0]!.v).toBe('host-own')
        await trx.insertInto('host_orders').values({ id: uuid(), total: 5 }).execute()
        await messaging.enqueue(writer, input(6))
        const after = await sql<{ v: string }>`select current_setting('messaging.claims') as v`.execute(trx)
        expect(after.rows[0]!.v).toBe('host-own')
      }),
    )
    expect(await orders()).toEqual([1, 3, 5])
    expect(await messages()).toEqual([1, 3, 6])
  })

  it('binds a storage to one transaction for a Messaging made per transaction', async () => {
    await expect(
      host.transaction().execute(async (trx) => {
        const scoped = createMessaging({ storage: storage.bind(trx) })
        await scoped.enqueue(writer, input(7))
        expect(await messages()).toEqual([1, 3, 6]) // not visible outside before commit
        throw new Error('undo')
      }),
    ).rejects.toThrow('undo')
    expect(await messages()).toEqual([1, 3, 6])
  })
})

describe('wake-up signal', () => {
  const t = tenant()
  const ch = channel(t.infra, { type: 'in_app', config: { retentionDays: null } })
  const writer = principal('member', [[t.infra, null]])
  let storage: PostgresStorage
  let messaging: Messaging
  let listener: pg.Client
  const received: number[] = []

  beforeAll(async () => {
    storage = await createPostgresStorage({ connectionString: db.appUrl, poolSize: 4 })
    messaging = createMessaging({ storage })
    const adminScope = scopeOf('infra_admin', [[t.infra, null]])
    await storage.unitOfWork.run(adminScope, (r) => r.channels.insert(adminScope, ch))
    listener = new pg.Client({ connectionString: db.workerUrl })
    await listener.connect()
    listener.on('notification', (n) => {
      if (n.channel === 'messaging_outbox') received.push(Date.now())
    })
    await listener.query('listen messaging_outbox')
  })
  afterAll(async () => {
    await listener?.end()
    await storage?.close()
  })

  const input = (n: number) => ({ infrastructureId: t.infra, channelKey: ch.channelKey, payload: { n } })
  const settle = () => new Promise((r) => setTimeout(r, 250))

  it('wakes listeners when a message is enqueued, and coalesces a burst to a few signals', async () => {
    await settle()
    received.length = 0
    await messaging.enqueue(writer, input(0))
    // Waited for, not slept on: a busy machine may deliver the signal late.
    await until(() => received.length >= 1, 10_000)
    await settle()
    expect(received).toHaveLength(1)
    received.length = 0
    const started = Date.now()
    for (let i = 1; i <= 30; i++) await messaging.enqueue(writer, input(i))
    const elapsed = Date.now() - started
    await settle()
    // At most one signal per 100 ms window (plus the window in progress).
    expect(received.length).toBeGreaterThanOrEqual(1)
    expect(received.length).toBeLessThanOrEqual(Math.ceil(elapsed / 100) + 1)
  })

  it('never makes one enqueue wait for another: a transaction holding the signal does not block', async () => {
    await settle()
    const held = new pg.Client({ connectionString: db.appUrl })
    await held.connect()
    try {
      await held.query('begin')
      await held.query("select set_config('messaging.claims', $1, true)", [
        JSON.stringify({
          sub: writer.userId,
          role: 'member',
          grants: [{ infrastructure_id: t.infra, business_id: null }],
        }),
      ])
      await held.query(
        `insert into messaging_outbox (infrastructure_id, id, channel_id, payload, max_attempts, created_by, created_at, available_at)
         values ($1, $2, $3, '{}', 3, $4, now(), now())`,
        [t.infra, uuid(), ch.id, writer.userId],
      )
      // The open transaction holds the throttle row (it sent the wake-up, due at its commit).
      await admin.query('begin')
      await expect(admin.query('select * from messaging_wakeup for update nowait')).rejects.toMatchObject({
        code: '55P03',
      })
      await admin.query('rollback')
      await settle()
      // The other transaction commits only after this enqueue returns: had the enqueue waited
      // for its row, it would never return and the test would time out.
      const { message } = await messaging.enqueue(writer, input(100))
      expect(message.status).toBe('pending')
      await held.query('commit')
    } finally {
      await held.end()
    }
  })
})

describe('failures', () => {
  it('reports a closed storage and an unreachable server as StorageError', async () => {
    const s = await createPostgresStorage({ connectionString: db.appUrl })
    await s.close()
    const scope = scopeOf('member', [[uuid(), null]])
    await expect(
      s.unitOfWork.run(scope, (r) => r.channels.list(scope, { infrastructureId: uuid() })),
    ).rejects.toBeInstanceOf(StorageError)
    const p = providedPostgres()
    const dead = new URL(urlFor(p.adminUrl, db.name, p.roles.app, p.password))
    dead.port = '1'
    const unreachable = await createPostgresStorage({
      connectionString: dead.toString(),
      allowPrivilegedRole: true,
    })
    try {
      await expect(
        unreachable.unitOfWork.run(scope, (r) => r.channels.list(scope, { infrastructureId: uuid() })),
      ).rejects.toBeInstanceOf(StorageError)
    } finally {
      await unreachable.close()
    }
  })
})
