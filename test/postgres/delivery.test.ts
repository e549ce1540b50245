import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createPostgresStorage,
  migrate,
  type PostgresStorage,
  WAKE_APPLICATION_NAME,
} from '../../src/adapters/postgres/index.js'
import { StorageError } from '../../src/domain/errors.js'
import { TenantScope } from '../../src/domain/tenant-scope.js'
import { createMessaging } from '../../src/index.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { channel, enqueueOne, message, principal, scopeOf, tenant, uuid } from '../support/fixtures.js'
import { createTestDatabase, providedPostgres, type TestDatabase } from '../support/postgres.js'
import { scriptedTransport, testChannelType, until } from '../support/transports.js'

/**
 * The delivery worker's and the inbox's side of the SQL contract, below the conformance
 * suites: the policies of the new tables as raw SQL, the logins a fleet worker may run as,
 * the LISTEN connection that comes back by itself, and prune as a non-superuser owner.
 */
let db: TestDatabase
let admin: pg.Client
let app: pg.Client
let worker: pg.Client

const A = tenant()
const B = tenant()
const userA = uuid()
const userB = uuid()
const chA = channel(A.infra, { type: 'in_app', config: {} })
const chB = channel(B.infra, { type: 'in_app', config: {} })
const msgA = message(A.infra, chA.id)
const msgB = message(B.infra, chB.id)
const claims = (role: 'member' | 'infra_admin' | 'service', infra: string, sub = uuid()) =>
  JSON.stringify({ sub, role, grants: [{ infrastructure_id: infra, business_id: null }] })

async function as<T>(client: pg.Client, claimsText: string, fn: () => Promise<T>): Promise<T> {
  await client.query('begin')
  try {
    await client.query("select set_config('messaging.claims', $1, true)", [claimsText])
    return await fn()
  } finally {
    await client.query('rollback')
  }
}

async function refusal(client: pg.Client, text: string, values: unknown[] = []): Promise<string> {
  await client.query('savepoint probe')
  try {
    const r = await client.query(text, values)
    await client.query('release savepoint probe')
    return `ok ${r.rowCount}`
  } catch (e) {
    await client.query('rollback to savepoint probe')
    return (e as { code: string }).code
  }
}

const insertInbox = (infra: string, channelId: string, messageId: string, user: string) =>
  [
    `insert into messaging_inbox (infrastructure_id, id, business_id, user_id, channel_id, message_id, payload, created_at)
   values ($1, $2, null, $3, $4, $5, '{"t":1}', now())`,
    [infra, uuid(), user, channelId, messageId],
  ] as const

beforeAll(async () => {
  db = await createTestDatabase('delivery')
  admin = new pg.Client({ connectionString: db.adminUrl })
  app = new pg.Client({ connectionString: db.appUrl })
  worker = new pg.Client({ connectionString: db.workerUrl })
  await Promise.all([admin.connect(), app.connect(), worker.connect()])
  for (const c of [chA, chB]) {
    await admin.query(
      `insert into messaging_channels (infrastructure_id, id, channel_key, type, name, config, created_by, created_at, updated_at)
       values ($1, $2, $3, 'in_app', 'x', '{}', $4, now(), now())`,
      [c.infrastructureId, c.id, c.channelKey, uuid()],
    )
  }
  for (const m of [msgA, msgB]) {
    await admin.query(
      `insert into messaging_outbox (infrastructure_id, id, channel_id, payload, max_attempts, created_by, created_at, available_at, status, settled_at, last_error)
       values ($1, $2, $3, '{}', 3, $4, now(), now(), 'dead', now(), 'gone')`,
      [m.infrastructureId, m.id, m.channelId, uuid()],
    )
  }
  for (const [infra, ch, m, u] of [
    [A.infra, chA.id, msgA.id, userA],
    [B.infra, chB.id, msgB.id, userB],
  ] as const) {
    const [text, values] = insertInbox(infra, ch, m, u)
    await admin.query(text, [...values])
  }
}, 60_000)

afterAll(async () => {
  await Promise.all([admin?.end(), app?.end(), worker?.end()])
  await db?.drop()
})

describe('inbox policies', () => {
  it('shows a user only their own entries of their tenant, and lets them change only the marks', async () => {
    await as(app, claims('member', A.infra, userA), async () => {
      const rows = await app.query('select user_id from messaging_inbox')
      expect(rows.rows).toEqual([{ user_id: userA }])
      expect(await refusal(app, 'update messaging_inbox set read_at = now()')).toBe('ok 1')
      expect(await refusal(app, `update messaging_inbox set payload = '{}'`)).toBe('42501')
      expect(await refusal(app, 'update messaging_inbox set user_id = $1', [userB])).toBe('42501')
      expect(await refusal(app, 'delete from messaging_inbox')).toBe('42501')
    })
    // Another user of the same tenant, and a service, see no entry at all.
    await as(app, claims('member', A.infra), async () => {
      expect((await app.query('select * from messaging_inbox')).rowCount).toBe(0)
      expect(await refusal(app, 'update messaging_inbox set read_at = now()')).toBe('ok 0')
    })
    await as(app, claims('service', A.infra), async () => {
      expect((await app.query('select * from messaging_inbox')).rowCount).toBe(0)
    })
    // User A's id under tenant B's grant sees nothing of A.
    await as(app, claims('member', B.infra, userA), async () => {
      expect((await app.query('select * from messaging_inbox')).rowCount).toBe(0)
    })
  })

  it('takes entries from role service in scope only, for a message of that tenant and channel', async () => {
    const [text, values] = insertInbox(A.infra, chA.id, msgA.id, uuid())
    await as(app, claims('service', A.infra), async () => {
      expect(await refusal(app, text, [...values])).toBe('ok 1')
      // Another tenant's message, or a channel the message is not on, is refused.
      const [t2, v2] = insertInbox(A.infra, chA.id, msgB.id, uuid())
      expect(await refusal(app, t2, [...v2])).toBe('42501')
      const [t3, v3] = insertInbox(B.infra, chB.id, msgB.id, uuid())
      expect(await refusal(app, t3, [...v3])).toBe('42501')
    })
    for (const role of ['member', 'infra_admin'] as const) {
      await as(app, claims(role, A.infra), async () => {
        expect(await refusal(app, text, [...values]), role).toBe('42501')
      })
    }
    // The fleet worker writes into any tenant's inbox (on the same terms) and reads none.
    await as(worker, claims('service', B.infra), async () => {
      const [t4, v4] = insertInbox(A.infra, chA.id, msgA.id, uuid())
      expect(await refusal(worker, t4, [...v4])).toBe('ok 1')
      expect(await refusal(worker, 'select * from messaging_inbox')).toBe('42501')
    })
  })
})

describe('attempt records and redrive', () => {
  const attempt = (infra: string, m: string) => [
    `insert into messaging_delivery_attempts (infrastructure_id, message_id, id, business_id, attempt, worker_id,
       started_at, finished_at, duration_ms, outcome) values ($1, $2, $3, null, 1, $4, now(), now(), 0, 'delivered')`,
    [infra, m, uuid(), uuid()],
  ]

  it('appends attempts for role service in scope only, and nobody changes or removes them', async () => {
    await as(app, claims('service', A.infra), async () => {
      const [t, v] = attempt(A.infra, msgA.id)
      expect(await refusal(app, t as string, v as unknown[])).toBe('ok 1')
      const [t2, v2] = attempt(B.infra, msgB.id)
      expect(await refusal(app, t2 as string, v2 as unknown[])).toBe('42501')
      // A message that does not exist gets no attempt.
      const [t3, v3] = attempt(A.infra, uuid())
      expect(await refusal(app, t3 as string, v3 as unknown[])).toBe('42501')
      expect(await refusal(app, `update messaging_delivery_attempts set outcome = 'permanent'`)).toBe('42501')
      expect(await refusal(app, 'delete from messaging_delivery_attempts')).toBe('42501')
      expect(await refusal(app, 'truncate messaging_delivery_attempts')).toBe('42501')
    })
    await as(app, claims('member', A.infra), async () => {
      const [t, v] = attempt(A.infra, msgA.id)
      expect(await refusal(app, t as string, v as unknown[])).toBe('42501')
    })
  })

  it('lets an infra_admin redrive a dead message of its tenant to fresh attempts, and nothing more', async () => {
    await as(app, claims('infra_admin', A.infra), async () => {
      // Anything but a fresh, unleased pending row is refused by the policy's check.
      expect(
        await refusal(app, `update messaging_outbox set status = 'pending', attempts = 2, settled_at = null`),
      ).toBe('42501')
      expect(await refusal(app, `update messaging_outbox set last_error = 'x'`)).toBe('42501')
      expect(
        await refusal(app, `update messaging_outbox set status = 'pending', attempts = 0, settled_at = null`),
      ).toBe('ok 1')
      // Once pending, only its due time may change (a reschedule), and nothing else of it:
      // each edit is checked with both sides of it, whichever policies admit the row.
      expect(await refusal(app, `update messaging_outbox set available_at = now()`)).toBe('ok 1')
      expect(await refusal(app, `update messaging_outbox set attempts = 5`)).toBe('42501')
      expect(await refusal(app, `update messaging_outbox set max_attempts = 99`)).toBe('42501')
      expect(await refusal(app, `update messaging_outbox set payload = '{"x":1}'`)).toBe('42501')
      // A cancel leaves it cancelled, unleased and settled, and changes nothing else.
      expect(
        await refusal(
          app,
          `update messaging_outbox set status = 'cancelled', settled_at = now(), payload = '{"x":1}'`,
        ),
      ).toBe('42501')
      expect(await refusal(app, `update messaging_outbox set status = 'cancelled', settled_at = now()`)).toBe(
        'ok 1',
      )
      // A cancelled message stays cancelled: no redrive, no reschedule.
      expect(
        await refusal(app, `update messaging_outbox set status = 'pending', attempts = 0, settled_at = null`),
      ).not.toBe('ok 1')
    })
    await as(app, claims('member', A.infra), async () => {
      expect(
        await refusal(app, `update messaging_outbox set status = 'pending', attempts = 0, settled_at = null`),
      ).toBe('ok 0')
    })
  })
})

describe('logins', () => {
  it('runs a fleet scope only on a messaging_worker login, and a worker login for the fleet only', async () => {
    const fleet = TenantScope.fleet(uuid())
    const member = scopeOf('member', [[A.infra, null]])
    const appOnly = await createPostgresStorage({ connectionString: db.appUrl, poolSize: 1 })
    const workerOnly = await createPostgresStorage({ connectionString: db.workerUrl, poolSize: 1 })
    try {
      await expect(appOnly.unitOfWork.run(fleet, async () => 1)).rejects.toBeInstanceOf(StorageError)
      await expect(workerOnly.unitOfWork.run(member, async () => 1)).rejects.toBeInstanceOf(StorageError)
      const seen = await workerOnly.unitOfWork.run(fleet, (r) =>
        Promise.all([r.outbox.findById(fleet, A.infra, msgA.id), r.outbox.findById(fleet, B.infra, msgB.id)]),
      )
      expect(seen.map((m) => m?.id)).toEqual([msgA.id, msgB.id])
    } finally {
      await Promise.all([appOnly.close(), workerOnly.close()])
    }
  })

  it('switches a NOINHERIT login that holds both roles with SET LOCAL ROLE, per unit of work', async () => {
    const p = providedPostgres()
    const role = `messaging_t_noinherit_${randomBytes(4).toString('hex')}`
    await admin.query(`create role ${role} login noinherit nosuperuser nobypassrls password '${p.password}'`)
    await admin.query(`grant messaging_app, messaging_worker to ${role}`)
    const url = new URL(db.appUrl)
    url.username = role
    const both = await createPostgresStorage({ connectionString: url.toString(), poolSize: 1 })
    try {
      const fleet = TenantScope.fleet(uuid())
      const member = scopeOf('member', [[A.infra, null]])
      // The fleet sees both tenants; the member only its own, through the same login.
      const asFleet = await both.unitOfWork.run(fleet, (r) => r.outbox.findById(fleet, B.infra, msgB.id))
      expect(asFleet?.id).toBe(msgB.id)
      const asMember = await both.unitOfWork.run(member, (r) =>
        Promise.all([
          r.outbox.findById(member, A.infra, msgA.id),
          r.outbox.findById(member, B.infra, msgB.id),
        ]),
      )
      expect(asMember.map((m) => m?.id ?? null)).toEqual([msgA.id, null])
    } finally {
      await both.close()
      await admin.query(`drop role ${role}`)
    }
  })

  it('refuses a login that inherits both app roles: the worker policies would reach every tenant', async () => {
    const p = providedPostgres()
    const role = `messaging_t_both_${randomBytes(4).toString('hex')}`
    await admin.query(`create role ${role} login inherit nosuperuser nobypassrls password '${p.password}'`)
    await admin.query(`grant messaging_app, messaging_worker to ${role}`)
    const url = new URL(db.appUrl)
    url.username = role
    try {
      await expect(createPostgresStorage({ connectionString: url.toString() })).rejects.toThrow(
        /inherits both messaging_app and messaging_worker/,
      )
    } finally {
      await admin.query(`drop role ${role}`)
    }
  })
})

describe('wake-up connection', () => {
  it('LISTENs while a worker subscribes, comes back by itself when its backend is terminated, and still wakes the worker', async () => {
    const t = tenant()
    const service = principal('service', [[t.infra, null]])
    const adminP = principal('infra_admin', [[t.infra, null]])
    const producer = principal('member', [[t.infra, null]])
    const workerSide = await createPostgresStorage({ connectionString: db.appUrl, poolSize: 2 })
    // The producer is another store (as if another process): only the database's NOTIFY can
    // reach the worker.
    const producerSide = await createPostgresStorage({
      connectionString: db.appUrl,
      poolSize: 2,
      listenConnectionString: false,
    })
    const listenerPids = async () =>
      (
        await admin.query<{ pid: number }>(
          'select pid from pg_stat_activity where application_name = $1 and datname = $2',
          [WAKE_APPLICATION_NAME, db.name],
        )
      ).rows.map((r) => r.pid)
    try {
      expect(await listenerPids()).toEqual([]) // nobody subscribed yet: no connection
      const messaging = createMessaging({ storage: workerSide, channelTypes: [testChannelType] })
      const producing = createMessaging({ storage: producerSide, channelTypes: [testChannelType] })
      await messaging.createChannel(adminP, { infrastructureId: t.infra, channelKey: 'test', type: 'test' })
      const transport = scriptedTransport()
      const w = createDeliveryWorker({
        messaging,
        principal: service,
        transports: [transport],
        pollIntervalMs: 60_000,
      })
      const stop = new AbortController()
      const running = w.run(stop.signal)
      await until(async () => (await listenerPids()).length === 1, 5_000)
      const [first] = await listenerPids()
      await admin.query('select pg_terminate_backend($1)', [first])
      await until(async () => {
        const pids = await listenerPids()
        return pids.length === 1 && pids[0] !== first
      }, 10_000)
      await new Promise((r) => setTimeout(r, 150)) // past the throttle window
      const { message: m } = await producing.enqueue(producer, {
        infrastructureId: t.infra,
        channelKey: 'test',
        payload: {},
      })
      // The poll interval is a minute: delivered within half of it, the NOTIFY woke the worker
      // (a generous bound for a busy machine, far from the poll's).
      await until(() => transport.delivered.has(m.id), 30_000)
      stop.abort()
      await running
      // The last subscriber left: the LISTEN connection is closed.
      await until(async () => (await listenerPids()).length === 0, 5_000)
    } finally {
      await Promise.all([workerSide.close(), producerSide.close()])
    }
  })
})

describe('prune as a non-superuser owner', () => {
  it('removes settled messages older than the cut with their attempts, through the owner policies only', async () => {
    const d = await createTestDatabase('prune_owner', { empty: true })
    try {
      await migrate({ connectionString: d.ownerUrl })
      const storage: PostgresStorage = await createPostgresStorage({
        connectionString: d.appUrl,
        ownerConnectionString: d.ownerUrl,
        poolSize: 2,
      })
      try {
        const t = tenant()
        const adminS = scopeOf('infra_admin', [[t.infra, null]])
        const service = scopeOf('service', [[t.infra, null]])
        const ch = channel(t.infra)
        await storage.unitOfWork.run(adminS, (r) => r.channels.insert(adminS, ch))
        const ids: string[] = []
        for (let i = 0; i < 5; i++) {
          const m = message(t.infra, ch.id)
          ids.push(m.id)
          await storage.unitOfWork.run(adminS, (r) => enqueueOne(r, adminS, m))
        }
        const now = new Date()
        const held = await storage.unitOfWork.run(service, (r) =>
          r.outbox.claim(service, { limit: 4, leaseMs: 60_000 }),
        )
        for (const h of held.slice(0, 3)) {
          await storage.unitOfWork.run(service, (r) =>
            r.outbox.completeMany(service, [
              {
                settle: {
                  infrastructureId: h.infrastructureId,
                  id: h.id,
                  leaseToken: h.leaseToken,
                  settlement: { status: 'processed', lastError: null },
                },
                attempt: {
                  id: uuid(),
                  infrastructureId: h.infrastructureId,
                  messageId: h.id,
                  attempt: 1,
                  workerId: uuid(),
                  workerHost: null,
                  startedAt: now,
                  finishedAt: now,
                  durationMs: 0,
                  outcome: 'delivered',
                  errorCode: null,
                  error: null,
                  providerMessageId: null,
                },
              },
            ]),
          )
        }
        const later = new Date(now.getTime() + 1000)
        expect(await storage.prune({ olderThan: now, batchSize: 10 })).toBe(0) // not older than the cut
        expect(await storage.prune({ olderThan: later, batchSize: 2 })).toBe(2)
        expect(await storage.prune({ olderThan: later, batchSize: 2 })).toBe(1)
        expect(await storage.prune({ olderThan: later, batchSize: 2 })).toBe(0)
        const c = new pg.Client({ connectionString: d.adminUrl })
        await c.connect()
        try {
          const left = await c.query('select status from messaging_outbox order by status')
          expect(left.rows.map((r) => r.status)).toEqual(['pending', 'processing'])
          expect((await c.query('select * from messaging_delivery_attempts')).rowCount).toBe(0)
        } finally {
          await c.end()
        }
      } finally {
        await storage.close()
      }
      const noOwner = await createPostgresStorage({ connectionString: d.appUrl, poolSize: 1 })
      await expect(noOwner.prune({ olderThan: new Date() })).rejects.toThrow(/owner/)
      await noOwner.close()
    } finally {
      await d.drop()
    }
  })
})
