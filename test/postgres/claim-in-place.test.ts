import { type CompiledQuery, Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPostgresStorage, type PostgresStorage } from '../../src/adapters/postgres/index.js'
import { claimsOf } from '../../src/adapters/postgres/postgres-storage.js'
import { at, channel, enqueueCommand, message, scopeOf, tenant } from '../support/fixtures.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'

/**
 * sql/0150: a claim changes no value an index of the outbox reads, so PostgreSQL rewrites a
 * claimed row in place (a heap-only tuple: no new entry in any index) where its page has
 * room. The count comes from pg_stat_xact_user_tables, which counts the current
 * transaction's updates and how many of them were in place: the claim's own statement is
 * replayed in a transaction of this test, as the app role with the worker's claims.
 */
let db: TestDatabase
let storage: PostgresStorage
const captured: CompiledQuery[] = []
const t = tenant()
const admin = scopeOf('infra_admin', [[t.infra, null]])
const worker = scopeOf('service', [[t.infra, null]])
const ch = channel(t.infra)

beforeAll(async () => {
  db = await createTestDatabase('claim_in_place')
  const kysely = new Kysely({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: db.appUrl, max: 2 }) }),
    log: (e) => {
      if (e.level === 'query') captured.push(e.query)
    },
  })
  storage = await createPostgresStorage({ db: kysely })
  await storage.unitOfWork.run(admin, (r) => r.channels.insert(admin, ch))
}, 60_000)

afterAll(async () => {
  await storage?.db.destroy()
  await db?.drop()
})

async function enqueue(n: number, orderingKey: (i: number) => string | null, from: number) {
  for (let i = 0; i < n; i++) {
    const m = message(t.infra, ch.id, {
      availableAt: at(from + i),
      createdAt: at(from + i),
      orderingKey: orderingKey(i),
    })
    const cmd = enqueueCommand(admin, m)
    await storage.unitOfWork.run(admin, (r) =>
      r.outbox.enqueueMany(admin, [{ ...cmd, message: { ...cmd.message, orderingKey: m.orderingKey } }]),
    )
  }
}

/** The adapter's claim statement, captured while it claims for real. */
async function claimStatement(limit: number): Promise<CompiledQuery> {
  captured.length = 0
  const claimed = await storage.unitOfWork.run(worker, (r) =>
    r.outbox.claim(worker, { limit, leaseMs: 60_000 }),
  )
  expect(claimed).toHaveLength(limit)
  const q = captured.find((c) => /UPDATE messaging_outbox/.test(c.sql))
  if (!q) throw new Error('no claim statement captured')
  return q
}

/** Runs `q` in a transaction that is rolled back: the rows it claimed, and of its updates how many were in place. */
async function replay(q: CompiledQuery) {
  const c = new pg.Client({ connectionString: db.appUrl })
  await c.connect()
  try {
    await c.query('begin')
    await c.query("select set_config('messaging.claims', $1, true)", [claimsOf(worker)])
    const claimed = await c.query(q.sql, q.parameters as unknown[])
    const { rows } = await c.query<{ upd: string; hot: string }>(
      `select n_tup_upd as upd, n_tup_hot_upd as hot from pg_stat_xact_user_tables where relname = 'messaging_outbox'`,
    )
    const held = await c.query<{ n: number }>(
      `select count(*)::int as n from messaging_outbox where order_held and status = 'processing'`,
    )
    await c.query('rollback')
    return {
      claimed: claimed.rowCount ?? 0,
      updated: Number(rows[0]!.upd),
      inPlace: Number(rows[0]!.hot),
      held: held.rows[0]!.n,
    }
  } finally {
    await c.end()
  }
}

describe('the claim rewrites its rows in place (sql/0150)', () => {
  it('leaves room on each page for the claimed version', async () => {
    const c = new pg.Client({ connectionString: db.adminUrl })
    await c.connect()
    try {
      const { rows } = await c.query<{ reloptions: string[] }>(
        `select reloptions from pg_class where oid = 'messaging_outbox'::regclass`,
      )
      expect(rows[0]!.reloptions).toContain('fillfactor=85')
    } finally {
      await c.end()
    }
  })

  it('claims unkeyed messages without a new index entry: every update in place', async () => {
    await enqueue(20, () => null, 0)
    const q = await claimStatement(10)
    const r = await replay(q)
    expect(r.claimed).toBe(10)
    expect(r.updated).toBe(10)
    expect(r.inPlace).toBe(10)
  })

  it('enters a keyed message into the held index when it is claimed (not in place)', async () => {
    // Drain what the first test left, so that the next claim takes keyed rows only.
    while (
      (await storage.unitOfWork.run(worker, (r) => r.outbox.claim(worker, { limit: 100, leaseMs: 60_000 })))
        .length > 0
    );
    await enqueue(8, (i) => `key-${i}`, 100)
    const q = await claimStatement(4)
    const r = await replay(q)
    expect(r.claimed).toBe(4)
    expect(r.updated).toBe(4)
    expect(r.inPlace).toBe(0)
    // The four of the real claim and the four of the replay are held, one per key.
    expect(r.held).toBe(8)
  })

  it('moves a settled message out of the ready index: the settle is not in place', async () => {
    const c = new pg.Client({ connectionString: db.adminUrl })
    await c.connect()
    try {
      const { rows } = await c.query<{ queued: boolean; status: string }>(
        `select distinct queued, status from messaging_outbox order by status`,
      )
      expect(rows).toEqual([
        { queued: true, status: 'pending' },
        { queued: true, status: 'processing' },
      ])
      await c.query('begin')
      await c.query("set local session_replication_role = 'replica'")
      const settled = await c.query(
        `update messaging_outbox set status = 'processed', lease_token = null, leased_until = null, settled_at = now()
          where status = 'processing' returning queued`,
      )
      const { rows: stats } = await c.query<{ upd: string; hot: string }>(
        `select n_tup_upd as upd, n_tup_hot_upd as hot from pg_stat_xact_user_tables where relname = 'messaging_outbox'`,
      )
      await c.query('rollback')
      expect(settled.rows.every((x) => x.queued === false)).toBe(true)
      expect(Number(stats[0]!.upd)).toBe(settled.rowCount)
      expect(Number(stats[0]!.hot)).toBe(0)
    } finally {
      await c.end()
    }
  })
})
