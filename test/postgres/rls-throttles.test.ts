import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { as, refusal } from '../support/rls.js'

/**
 * The throttle counters (sql/0080) and the default quiet hours (sql/0083) under raw SQL, as a LOGIN role granted messaging_app
 * with the claims of tenant A, and as the fleet worker: B's counters stay out of reach
 * (neither read nor bumped), members see and count none, nobody deletes one, and a
 * category's throttle holds only what the module can carry out.
 */
const uuid = () => randomUUID()
const A = { infra: uuid(), user: uuid(), admin: uuid() }
const B = { infra: uuid(), user: uuid() }
const T = '2026-01-01T00:00:00Z'

type Role = 'member' | 'infra_admin' | 'service'
const claims = (role: Role, infra = A.infra, sub = A.admin) =>
  JSON.stringify({ sub, role, grants: [{ infrastructure_id: infra, business_id: null }] })

let db: TestDatabase
let app: pg.Client
let worker: pg.Client
let admin: pg.Client

const bump = `insert into messaging_throttle_counters as t (infrastructure_id, user_id, category_key, window_start, taken)
  values ($1, $2, 'digest.daily', $3, 1)
  on conflict on constraint messaging_throttle_counters_pkey do update set taken = t.taken + 1`
const counters = () =>
  app.query<{ infrastructure_id: string; taken: number }>(
    'select infrastructure_id, taken from messaging_throttle_counters order by infrastructure_id',
  )

beforeAll(async () => {
  db = await createTestDatabase('rls_throttles')
  admin = new pg.Client({ connectionString: db.adminUrl })
  app = new pg.Client({ connectionString: db.appUrl })
  worker = new pg.Client({ connectionString: db.workerUrl })
  await Promise.all([admin.connect(), app.connect(), worker.connect()])
  for (const t of [A, B]) await admin.query(bump, [t.infra, t.user, T])
})

afterAll(async () => {
  await Promise.all([admin?.end(), app?.end(), worker?.end()])
  await db?.drop()
})

describe('row-level security of the throttle counters, as messaging_app with the claims of tenant A', () => {
  it('enables and forces RLS, and grants PUBLIC nothing', async () => {
    const r = await admin.query(
      "select relrowsecurity, relforcerowsecurity, relacl::text from pg_class where relname = 'messaging_throttle_counters'",
    )
    expect(r.rows).toHaveLength(1)
    expect(r.rows[0]).toMatchObject({ relrowsecurity: true, relforcerowsecurity: true })
    expect(r.rows[0].relacl).not.toMatch(/(^|[{,])=/)
  })

  it("shows an admin or a service A's counters only; a member none; nothing without claims", async () => {
    for (const role of ['service', 'infra_admin'] as const) {
      const rows = await as(app, claims(role), counters)
      expect(rows.rows.map((x) => x.infrastructure_id)).toEqual([A.infra])
    }
    expect((await as(app, claims('member', A.infra, A.user), counters)).rows).toEqual([])
    expect((await as(app, null, counters)).rows).toEqual([])
  })

  it("neither bumps nor creates B's counters with A's claims, and a member counts none", async () => {
    await as(app, claims('service'), async () => {
      // B's row is invisible: an update reaches nothing, an insert is refused by the policy.
      const u = await app.query(
        'update messaging_throttle_counters set taken = taken + 1 where infrastructure_id = $1',
        [B.infra],
      )
      expect(u.rowCount).toBe(0)
      expect(await refusal(app, bump, [B.infra, B.user, T])).toBe('42501')
      expect(await refusal(app, bump, [B.infra, uuid(), T])).toBe('42501')
      // Its own counter, yes.
      expect(await refusal(app, bump, [A.infra, A.user, T])).toBe('no error')
      // Nobody deletes a counter through the app role.
      expect(await refusal(app, 'delete from messaging_throttle_counters')).toBe('42501')
      // The key of a counter never moves to another tenant.
      expect(
        await refusal(app, 'update messaging_throttle_counters set infrastructure_id = $1', [B.infra]),
      ).toBe('42501')
    })
    await as(app, claims('member', A.infra, A.user), async () => {
      expect(await refusal(app, bump, [A.infra, A.user, T])).toBe('42501')
    })
    const b = await admin.query(
      'select taken from messaging_throttle_counters where infrastructure_id = $1',
      [B.infra],
    )
    expect(b.rows).toEqual([{ taken: 1 }])
  })

  it('lets the fleet worker read every counter and change none', async () => {
    await as(worker, null, async () => {
      const r = await worker.query('select infrastructure_id from messaging_throttle_counters')
      expect(r.rows.map((x) => x.infrastructure_id).sort()).toEqual([A.infra, B.infra].sort())
      expect(await refusal(worker, bump, [A.infra, A.user, T])).toBe('42501')
    })
  })

  it("keeps a category's throttle to what the module carries out", async () => {
    const cat = (throttle: string) =>
      admin
        .query(
          `insert into messaging_categories (infrastructure_id, category_key, name, throttle, created_by, created_at, updated_at)
           values ($1, $2, 'C', $3::jsonb, $4, $5, $5)`,
          [A.infra, `c-${uuid().slice(0, 8)}`, throttle, A.admin, T],
        )
        .then(
          () => 'ok',
          (e: { code: string }) => e.code,
        )
    expect(await cat('{"limit": 3, "windowSeconds": 60, "onExceed": "skip"}')).toBe('ok')
    // Folding the excess into the next digest is carried out since sql/0100; nothing else is.
    expect(await cat('{"limit": 3, "windowSeconds": 60, "onExceed": "digest"}')).toBe('ok')
    expect(await cat('{"limit": 3, "windowSeconds": 60, "onExceed": "queue"}')).toBe('23514')
    expect(await cat('{"limit": 0, "windowSeconds": 60, "onExceed": "skip"}')).toBe('23514')
    expect(await cat('{"limit": 3, "windowSeconds": 604801, "onExceed": "skip"}')).toBe('23514')
  })
})

describe('row-level security of the default quiet hours, as messaging_app', () => {
  const upsert = `insert into messaging_quiet_hours_defaults as d (infrastructure_id, quiet_hours, updated_by, updated_at)
    values ($1, '{"start": "22:00", "end": "07:00"}', $2, now())
    on conflict on constraint messaging_quiet_hours_defaults_pkey do update set updated_at = now()`
  const bizClaims = (role: Role) =>
    JSON.stringify({
      sub: A.admin,
      role,
      grants: [{ infrastructure_id: A.infra, business_id: randomUUID() }],
    })

  it('enables and forces RLS; a tenant reads its own only; only its infrastructure-wide admin writes', async () => {
    const r = await admin.query(
      "select relrowsecurity, relforcerowsecurity, relacl::text from pg_class where relname = 'messaging_quiet_hours_defaults'",
    )
    expect(r.rows[0]).toMatchObject({ relrowsecurity: true, relforcerowsecurity: true })
    expect(r.rows[0].relacl).not.toMatch(/(^|[{,])=/)
    for (const t of [A, B]) await admin.query(upsert, [t.infra, uuid()])
    const read = () => app.query('select infrastructure_id from messaging_quiet_hours_defaults')
    for (const c of [claims('member', A.infra, A.user), claims('service'), bizClaims('infra_admin')]) {
      expect((await as(app, c, read)).rows.map((x) => x.infrastructure_id)).toEqual([A.infra])
    }
    expect((await as(app, null, read)).rows).toEqual([])
    await as(app, claims('infra_admin'), async () => {
      expect(await refusal(app, upsert, [A.infra, A.admin])).toBe('no error')
      expect(await refusal(app, upsert, [B.infra, A.admin])).toBe('42501')
      const d = await app.query('delete from messaging_quiet_hours_defaults where infrastructure_id = $1', [
        B.infra,
      ])
      expect(d.rowCount).toBe(0)
    })
    for (const c of [claims('member', A.infra, A.user), claims('service'), bizClaims('infra_admin')]) {
      await as(app, c, async () => {
        expect(await refusal(app, upsert, [A.infra, A.admin])).toBe('42501')
        const d = await app.query('delete from messaging_quiet_hours_defaults')
        expect(d.rowCount).toBe(0)
      })
    }
    const left = await admin.query('select count(*)::int as n from messaging_quiet_hours_defaults')
    expect(left.rows[0].n).toBe(2)
  })
})
