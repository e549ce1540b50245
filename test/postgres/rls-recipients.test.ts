import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { as, refusal } from '../support/rls.js'

/**
 * The recipient tables (sql/0020) under raw SQL, as a LOGIN role granted messaging_app with
 * the claims of tenant A, and as the fleet worker: the database itself keeps B's rows out
 * of reach, a member to its own profile and choices, and a business's admin to its
 * business. Every refusal is an error or a statement that matches 0 rows.
 */
const uuid = () => randomUUID()
const A = { infra: uuid(), bizA: uuid(), bizB: uuid(), member: uuid(), otherMember: uuid(), admin: uuid() }
const B = { infra: uuid(), user: uuid() }
const T = '2026-01-01T00:00:00Z'

type Role = 'member' | 'infra_admin' | 'service'
const claims = (role: Role, grants: Array<[string, string | null]> = [[A.infra, null]], sub = A.member) =>
  JSON.stringify({
    sub,
    role,
    grants: grants.map(([infrastructure_id, business_id]) => ({ infrastructure_id, business_id })),
  })

const TABLES = [
  'messaging_profiles',
  'messaging_categories',
  'messaging_preferences',
  'messaging_tenant_defaults',
]

let db: TestDatabase
let app: pg.Client
let worker: pg.Client
let admin: pg.Client

const users = async (client: pg.Client, table: string) =>
  (await client.query(`select user_id from ${table} order by user_id`)).rows.map((r) => r.user_id as string)

const insertProfile = `insert into messaging_profiles (infrastructure_id, user_id, business_id, email, created_at, updated_at, updated_by)
  values ($1, $2, $3, 'x@example.com', now(), now(), $2)`
const insertPreference = `insert into messaging_preferences (infrastructure_id, user_id, category_key, channel_type, enabled, updated_by, updated_at)
  values ($1, $2, $3, 'email', false, $2, now())`
const insertDefault = `insert into messaging_tenant_defaults (infrastructure_id, business_id, category_key, channel_type, enabled, updated_by, updated_at)
  values ($1, $2, 'invoice.paid', 'email', false, $3, now())`

beforeAll(async () => {
  db = await createTestDatabase('rls_recipients')
  admin = new pg.Client({ connectionString: db.adminUrl })
  app = new pg.Client({ connectionString: db.appUrl })
  worker = new pg.Client({ connectionString: db.workerUrl })
  await Promise.all([admin.connect(), app.connect(), worker.connect()])
  const profile = (infra: string, user: string, business: string | null) =>
    admin.query(
      `insert into messaging_profiles (infrastructure_id, user_id, business_id, email, phone, created_at, updated_at, updated_by)
       values ($1, $2, $3, $4, '+4915112345678', $5, $5, $2)`,
      [infra, user, business, `${user.slice(0, 8)}@example.com`, T],
    )
  await profile(A.infra, A.member, A.bizA)
  await profile(A.infra, A.otherMember, A.bizB)
  await profile(A.infra, A.admin, null)
  await profile(B.infra, B.user, null)
  for (const [infra, key] of [
    [A.infra, 'invoice.paid'],
    [B.infra, 'invoice.paid'],
    [B.infra, 'b.only'],
  ] as const) {
    await admin.query(
      `insert into messaging_categories (infrastructure_id, category_key, name, channels, created_by, created_at, updated_at)
       values ($1, $2, 'Invoice paid', '{"email": {"channelKey": "billing", "enabled": true}}', $3, $4, $4)`,
      [infra, key, A.admin, T],
    )
  }
  for (const [infra, user] of [
    [A.infra, A.member],
    [A.infra, A.otherMember],
    [B.infra, B.user],
  ] as const) {
    await admin.query(insertPreference, [infra, user, 'invoice.paid'])
  }
  for (const [infra, business] of [
    [A.infra, null],
    [A.infra, A.bizA],
    [A.infra, A.bizB],
    [B.infra, null],
  ] as const) {
    await admin.query(insertDefault, [infra, business, A.admin])
  }
})

afterAll(async () => {
  await Promise.all([admin?.end(), app?.end(), worker?.end()])
  await db?.drop()
})

describe('row-level security of the recipient tables, as messaging_app with the claims of tenant A', () => {
  it('enables and forces RLS on every new table, and grants PUBLIC nothing', async () => {
    const r = await admin.query(
      `select relname, relrowsecurity, relforcerowsecurity, relacl::text from pg_class where relname = any($1) order by relname`,
      [TABLES],
    )
    expect(r.rows.map((x) => [x.relname, x.relrowsecurity, x.relforcerowsecurity])).toEqual(
      [...TABLES].sort().map((t) => [t, true, true]),
    )
    for (const row of r.rows) expect(row.relacl, row.relname).not.toMatch(/(^|[{,])=/)
  })

  it("returns only A's rows from every table, whatever the role, and nothing without claims", async () => {
    for (const role of ['member', 'infra_admin', 'service'] as const) {
      await as(app, claims(role), async () => {
        for (const table of TABLES) {
          const r = await app.query(`select distinct infrastructure_id from ${table}`)
          expect(
            r.rows.map((x) => x.infrastructure_id),
            `${role} on ${table}`,
          ).toEqual([A.infra])
        }
      })
    }
    await as(app, null, async () => {
      for (const table of TABLES) {
        expect((await app.query(`select * from ${table}`)).rowCount, table).toBe(0)
      }
    })
  })

  it('shows a member its own profile and choices only; an admin or worker those of the businesses it reaches', async () => {
    await as(app, claims('member'), async () => {
      expect(await users(app, 'messaging_profiles')).toEqual([A.member])
      expect(await users(app, 'messaging_preferences')).toEqual([A.member])
    })
    await as(app, claims('infra_admin', [[A.infra, A.bizA]], A.admin), async () => {
      expect(await users(app, 'messaging_profiles')).toEqual([A.member])
      expect((await users(app, 'messaging_preferences')).sort()).toEqual([A.member, A.otherMember].sort())
    })
    await as(app, claims('service'), async () => {
      expect((await users(app, 'messaging_profiles')).sort()).toEqual(
        [A.member, A.otherMember, A.admin].sort(),
      )
    })
    // Tenant defaults are no one's personal data: everyone of A reads all of A's.
    await as(app, claims('member', [[A.infra, A.bizA]]), async () => {
      expect((await app.query('select * from messaging_tenant_defaults')).rowCount).toBe(3)
    })
  })

  it("changes none of B's rows, nor another member's, nor a business beyond the grant", async () => {
    await as(app, claims('infra_admin', [[A.infra, null]], A.admin), async () => {
      for (const [table, set] of [
        ['messaging_profiles', "email = 'pwned@example.com'"],
        ['messaging_categories', 'critical = true'],
        ['messaging_preferences', 'enabled = true'],
        ['messaging_tenant_defaults', 'enabled = true'],
      ] as const) {
        const r = await app.query(`update ${table} set ${set} where infrastructure_id = $1 returning 1`, [
          B.infra,
        ])
        expect(r.rowCount, table).toBe(0)
        const d = await refusal(app, `delete from ${table} where infrastructure_id = $1`, [B.infra])
        // Categories are not deleted through the app roles at all; the others match no row of B.
        expect(d, table).toBe(table === 'messaging_categories' ? '42501' : 'no error')
      }
    })
    await as(app, claims('member'), async () => {
      const other = await app.query(
        "update messaging_profiles set email = 'pwned@example.com' where user_id = $1 returning 1",
        [A.otherMember],
      )
      expect(other.rowCount).toBe(0)
      const choice = await app.query(
        'update messaging_preferences set enabled = true where user_id = $1 returning 1',
        [A.otherMember],
      )
      expect(choice.rowCount).toBe(0)
      expect(
        (await app.query('delete from messaging_profiles where user_id = $1 returning 1', [A.member]))
          .rowCount,
      ).toBe(0)
    })
    await as(app, claims('infra_admin', [[A.infra, A.bizA]], A.admin), async () => {
      const r = await app.query(
        "update messaging_profiles set email = 'pwned@example.com' where user_id = $1 returning 1",
        [A.otherMember],
      )
      expect(r.rowCount).toBe(0)
      // Moving its own business's user into business B is refused by the policy's check.
      expect(
        await refusal(app, 'update messaging_profiles set business_id = $1 where user_id = $2', [
          A.bizB,
          A.member,
        ]),
      ).toBe('42501')
      const d = await app.query(
        'update messaging_tenant_defaults set enabled = true where business_id = $1 returning 1',
        [A.bizB],
      )
      expect(d.rowCount).toBe(0)
    })
    const b = await admin.query('select email from messaging_profiles where user_id = $1', [B.user])
    expect(b.rows[0].email).not.toBe('pwned@example.com')
  })

  it('keeps a member to its contact points, locale and time zone (the guard trigger)', async () => {
    await as(app, claims('member'), async () => {
      const own = await app.query(
        "update messaging_profiles set email = 'me@example.com', locale = 'de-DE', time_zone = 'Europe/Berlin' where user_id = $1 returning 1",
        [A.member],
      )
      expect(own.rowCount).toBe(1)
      expect(
        await refusal(app, `update messaging_profiles set properties = '{"vip": true}' where user_id = $1`, [
          A.member,
        ]),
      ).toBe('42501')
      expect(
        await refusal(app, 'update messaging_profiles set business_id = null where user_id = $1', [A.member]),
      ).toBe('42501')
      // The key columns are not updatable at all.
      expect(
        await refusal(app, 'update messaging_profiles set user_id = $1 where user_id = $2', [
          uuid(),
          A.member,
        ]),
      ).toBe('42501')
      expect(
        await refusal(app, 'update messaging_profiles set infrastructure_id = $1 where user_id = $2', [
          B.infra,
          A.member,
        ]),
      ).toBe('42501')
    })
  })

  it("refuses rows written with B's infrastructure_id, by the wrong role, or for another member", async () => {
    await as(app, claims('infra_admin', [[A.infra, null]], A.admin), async () => {
      expect(await refusal(app, insertProfile, [B.infra, uuid(), null])).toBe('42501')
      expect(
        await refusal(
          app,
          `insert into messaging_categories (infrastructure_id, category_key, name, created_by, created_at, updated_at)
           values ($1, 'intruder', 'x', $2, now(), now())`,
          [B.infra, A.admin],
        ),
      ).toBe('42501')
      expect(await refusal(app, insertPreference, [B.infra, uuid(), 'invoice.paid'])).toBe('42501')
      expect(await refusal(app, insertDefault, [B.infra, uuid(), A.admin])).toBe('42501')
    })
    await as(app, claims('member'), async () => {
      expect(await refusal(app, insertProfile, [A.infra, uuid(), null])).toBe('42501')
      expect(
        await refusal(
          app,
          `insert into messaging_categories (infrastructure_id, category_key, name, created_by, created_at, updated_at)
           values ($1, 'mine', 'x', $2, now(), now())`,
          [A.infra, A.member],
        ),
      ).toBe('42501')
      expect(await refusal(app, insertPreference, [A.infra, uuid(), 'invoice.paid'])).toBe('42501')
      expect(await refusal(app, insertDefault, [A.infra, A.bizA, A.member])).toBe('42501')
      // Its own choice, it may write.
      await app.query('delete from messaging_preferences where user_id = $1', [A.member])
      expect(await refusal(app, insertPreference, [A.infra, A.member, 'invoice.paid'])).toBe('no error')
    })
    await as(app, claims('service'), async () => {
      expect(await refusal(app, insertProfile, [A.infra, uuid(), null])).toBe('42501')
      expect(await refusal(app, insertPreference, [A.infra, uuid(), 'invoice.paid'])).toBe('42501')
    })
    await as(app, claims('infra_admin', [[A.infra, A.bizA]], A.admin), async () => {
      expect(await refusal(app, insertProfile, [A.infra, uuid(), A.bizB])).toBe('42501')
      expect(await refusal(app, insertProfile, [A.infra, uuid(), null])).toBe('42501')
      expect(await refusal(app, insertDefault, [A.infra, null, A.admin])).toBe('42501')
      expect(await refusal(app, insertProfile, [A.infra, uuid(), A.bizA])).toBe('no error')
    })
  })

  it("never points A's choices at B's category: the composite foreign key has no such row", async () => {
    await as(app, claims('infra_admin', [[A.infra, null]], A.admin), async () => {
      expect(await refusal(app, insertPreference, [A.infra, uuid(), 'b.only'])).toBe('23503')
    })
  })

  it('lets the fleet worker read every tenant and write nothing', async () => {
    await as(worker, null, async () => {
      for (const table of TABLES) {
        const r = await worker.query(`select distinct infrastructure_id from ${table}`)
        expect(r.rows.map((x) => x.infrastructure_id).sort(), table).toEqual([A.infra, B.infra].sort())
      }
      expect(await refusal(worker, insertProfile, [A.infra, uuid(), null])).toBe('42501')
      expect(await refusal(worker, "update messaging_profiles set email = 'w@example.com'")).toBe('42501')
      expect(await refusal(worker, 'update messaging_preferences set enabled = true')).toBe('42501')
      expect(await refusal(worker, 'delete from messaging_tenant_defaults')).toBe('42501')
    })
  })
})
