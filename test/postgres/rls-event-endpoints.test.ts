import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { as, refusal } from '../support/rls.js'

/**
 * Status webhook endpoints (sql/0130) under raw SQL, as a LOGIN role granted messaging_app
 * with the claims of tenant A, and as the fleet worker: another tenant's endpoint cannot be
 * read, changed, removed or leased; only admins register; the worker writes dispatch state only.
 */
const uuid = () => randomUUID()
const A = { infra: uuid(), user: uuid(), endpoint: uuid() }
const B = { infra: uuid(), endpoint: uuid() }

type Role = 'member' | 'infra_admin' | 'service'
const claims = (role: Role, infra = A.infra) =>
  JSON.stringify({ sub: A.user, role, grants: [{ infrastructure_id: infra, business_id: null }] })

const insert = `insert into messaging_event_endpoints (infrastructure_id, id, url, secret)
  values ($1, $2, 'https://hooks.example.com/in', 'v1.k1.aaaa.bbbb')`
/** The dispatcher's lease, as the adapter runs it. */
const lease = `with due as (
    select infrastructure_id, id from messaging_event_endpoints
     where enabled and next_attempt_at <= messaging_now()
       and (leased_until is null or leased_until <= messaging_now())
     order by next_attempt_at, id for update skip locked)
  update messaging_event_endpoints as e set lease_token = $1::uuid, leased_until = messaging_now() + interval '1 minute'
    from due where e.infrastructure_id = due.infrastructure_id and e.id = due.id
  returning e.infrastructure_id`

let db: TestDatabase
let app: pg.Client
let worker: pg.Client
let admin: pg.Client

const visible = async (client: pg.Client) =>
  (await client.query<{ id: string }>('select id from messaging_event_endpoints order by id')).rows.map(
    (r) => r.id,
  )

beforeAll(async () => {
  db = await createTestDatabase('rls_event_endpoints')
  admin = new pg.Client({ connectionString: db.adminUrl })
  app = new pg.Client({ connectionString: db.appUrl })
  worker = new pg.Client({ connectionString: db.workerUrl })
  await Promise.all([admin.connect(), app.connect(), worker.connect()])
  for (const t of [A, B]) await admin.query(insert, [t.infra, t.endpoint])
})

afterAll(async () => {
  await Promise.all([admin?.end(), app?.end(), worker?.end()])
  await db?.drop()
})

describe('row-level security of status webhook endpoints', () => {
  it('enables and forces RLS, keys rows by infrastructure first, and grants PUBLIC nothing', async () => {
    const r = await admin.query(
      "select relrowsecurity, relforcerowsecurity, relacl::text from pg_class where relname = 'messaging_event_endpoints'",
    )
    expect(r.rows[0]).toMatchObject({ relrowsecurity: true, relforcerowsecurity: true })
    expect(r.rows[0].relacl).not.toMatch(/(^|[{,])=/)
    const key = await admin.query(
      `select a.attname from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
        where i.indrelid = 'messaging_event_endpoints'::regclass and i.indisprimary`,
    )
    expect(key.rows).toEqual([{ attname: 'infrastructure_id' }])
  })

  it("lets A's admin register, read, change and remove A's endpoints only, never B's", async () => {
    await as(app, claims('infra_admin'), async () => {
      expect(await visible(app)).toEqual([A.endpoint])
      expect(await refusal(app, insert, [B.infra, uuid()])).toBe('42501')
      expect(await refusal(app, insert, [A.infra, uuid()])).toBe('no error')
      const changed = await app.query(
        "update messaging_event_endpoints set url = 'https://evil.example/' where id = $1",
        [B.endpoint],
      )
      expect(changed.rowCount).toBe(0)
      expect(
        (await app.query('delete from messaging_event_endpoints where id = $1', [B.endpoint])).rowCount,
      ).toBe(0)
      // Moving A's endpoint into B is refused by the update's check.
      expect(
        await refusal(app, 'update messaging_event_endpoints set infrastructure_id = $1 where id = $2', [
          B.infra,
          A.endpoint,
        ]),
      ).toBe('42501')
    })
  })

  it("lets A's service read and lease A's endpoints only, and neither register nor remove one; a member sees none", async () => {
    await as(app, claims('service'), async () => {
      expect(await visible(app)).toEqual([A.endpoint])
      expect((await app.query(lease, [uuid()])).rows).toEqual([{ infrastructure_id: A.infra }])
      expect(await refusal(app, insert, [A.infra, uuid()])).toBe('42501')
      expect(
        (await app.query('delete from messaging_event_endpoints where id = $1', [A.endpoint])).rowCount,
      ).toBe(0)
    })
    await as(app, claims('member'), async () => {
      expect(await visible(app)).toEqual([])
      expect((await app.query(lease, [uuid()])).rows).toEqual([])
      expect(await refusal(app, insert, [A.infra, uuid()])).toBe('42501')
    })
    await as(app, null, async () => {
      expect(await visible(app)).toEqual([])
    })
  })

  it('lets the fleet worker lease every tenant and write dispatch state, never register, re-point, re-key or remove', async () => {
    await as(worker, null, async () => {
      expect((await visible(worker)).sort()).toEqual([A.endpoint, B.endpoint].sort())
      expect((await worker.query(lease, [uuid()])).rows.map((r) => r.infrastructure_id).sort()).toEqual(
        [A.infra, B.infra].sort(),
      )
      expect(
        (
          await worker.query(
            "update messaging_event_endpoints set cursor = '1.2', attempts = 1, last_error = 'HTTP 500' where id = $1",
            [A.endpoint],
          )
        ).rowCount,
      ).toBe(1)
      expect(await refusal(worker, insert, [A.infra, uuid()])).toBe('42501')
      expect(
        await refusal(
          worker,
          "update messaging_event_endpoints set url = 'https://evil.example/' where id = $1",
          [A.endpoint],
        ),
      ).toBe('42501')
      expect(
        await refusal(worker, "update messaging_event_endpoints set secret = 'x' where id = $1", [
          A.endpoint,
        ]),
      ).toBe('42501')
      expect(await refusal(worker, 'delete from messaging_event_endpoints where id = $1', [A.endpoint])).toBe(
        '42501',
      )
      // ... and reads the event log it sends from.
      expect(await refusal(worker, 'select count(*) from messaging_events')).toBe('no error')
    })
  })
})
