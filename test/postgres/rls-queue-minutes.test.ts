import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { as, refusal } from '../support/rls.js'

/**
 * The queue's per-minute rollup (sql/0120) under raw SQL, as a LOGIN role granted
 * messaging_app with the claims of tenant A, and as the fleet worker: operators of A read
 * A's minutes only, members and business-scoped admins none; no app role writes, forges or
 * deletes a figure, yet a member's enqueue is counted (the triggers write as the owner).
 */
const uuid = () => randomUUID()
const A = { infra: uuid(), user: uuid(), channel: uuid() }
const B = { infra: uuid(), user: uuid() }
const T = '2026-01-01T00:00:00Z'

type Role = 'member' | 'infra_admin' | 'service'
const claims = (role: Role, infra = A.infra, business: string | null = null) =>
  JSON.stringify({ sub: A.user, role, grants: [{ infrastructure_id: infra, business_id: business }] })

let db: TestDatabase
let app: pg.Client
let worker: pg.Client
let admin: pg.Client

const minutes = (client: pg.Client) =>
  client.query<{ infrastructure_id: string; enqueued: number }>(
    'select infrastructure_id, sum(enqueued)::int as enqueued from messaging_queue_minutes group by infrastructure_id order by infrastructure_id',
  )
const forge = `insert into messaging_queue_minutes (infrastructure_id, minute, slot, enqueued)
  values ($1, date_trunc('minute', now()), 0, 1000)`

beforeAll(async () => {
  db = await createTestDatabase('rls_queue_minutes')
  admin = new pg.Client({ connectionString: db.adminUrl })
  app = new pg.Client({ connectionString: db.appUrl })
  worker = new pg.Client({ connectionString: db.workerUrl })
  await Promise.all([admin.connect(), app.connect(), worker.connect()])
  for (const t of [A, B]) await admin.query(forge.replace('1000', '7'), [t.infra])
  await admin.query(
    `insert into messaging_channels (infrastructure_id, id, channel_key, type, name, config, created_by, created_at, updated_at)
     values ($1, $2, 'alerts', 'in_app', 'Alerts', '{}', $3, $4, $4)`,
    [A.infra, A.channel, A.user, T],
  )
})

afterAll(async () => {
  await Promise.all([admin?.end(), app?.end(), worker?.end()])
  await db?.drop()
})

describe('row-level security of the queue rollup, as messaging_app with the claims of tenant A', () => {
  it('enables and forces RLS, keys rows by infrastructure first, and grants PUBLIC nothing', async () => {
    const r = await admin.query(
      "select relrowsecurity, relforcerowsecurity, relacl::text from pg_class where relname = 'messaging_queue_minutes'",
    )
    expect(r.rows[0]).toMatchObject({ relrowsecurity: true, relforcerowsecurity: true })
    expect(r.rows[0].relacl).not.toMatch(/(^|[{,])=/)
    const key = await admin.query(
      `select a.attname from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
        where i.indrelid = 'messaging_queue_minutes'::regclass and i.indisprimary`,
    )
    expect(key.rows).toEqual([{ attname: 'infrastructure_id' }])
  })

  it("shows A's admin and service A's minutes only; a member, a business-scoped admin and no claims none", async () => {
    for (const role of ['service', 'infra_admin'] as const) {
      expect((await as(app, claims(role), () => minutes(app))).rows).toEqual([
        { infrastructure_id: A.infra, enqueued: 7 },
      ])
    }
    expect((await as(app, claims('member'), () => minutes(app))).rows).toEqual([])
    expect((await as(app, claims('infra_admin', A.infra, uuid()), () => minutes(app))).rows).toEqual([])
    expect((await as(app, null, () => minutes(app))).rows).toEqual([])
  })

  it('lets no app role write, forge or delete a figure, nor call the writer directly', async () => {
    for (const role of ['service', 'infra_admin', 'member'] as const) {
      await as(app, claims(role), async () => {
        expect(await refusal(app, forge, [A.infra])).toBe('42501')
        expect(await refusal(app, 'update messaging_queue_minutes set enqueued = 0')).toBe('42501')
        expect(await refusal(app, 'delete from messaging_queue_minutes')).toBe('42501')
        expect(
          await refusal(app, 'select messaging_queue_minutes_add($1::jsonb)', [
            JSON.stringify([{ infrastructure_id: A.infra, enqueued: 1000 }]),
          ]),
        ).toBe('42501')
      })
    }
    await as(worker, null, async () => {
      const r = await worker.query('select distinct infrastructure_id from messaging_queue_minutes')
      expect(r.rows.map((x) => x.infrastructure_id).sort()).toEqual([A.infra, B.infra].sort())
      expect(await refusal(worker, forge, [A.infra])).toBe('42501')
    })
  })

  it("counts a member's enqueue in A's minute, written as the owner by the statement's trigger", async () => {
    // Committed, the three messages of one statement add 3 to A's minute, in one row.
    await app.query('begin')
    await app.query("select set_config('messaging.claims', $1, true)", [claims('member')])
    await app.query(
      `insert into messaging_outbox (infrastructure_id, id, channel_id, payload, max_attempts, created_by, created_at, available_at)
       select $1, unnest($2::uuid[]), $3, '{}', 3, $4, now(), now()`,
      [A.infra, [uuid(), uuid(), uuid()], A.channel, A.user],
    )
    await app.query('commit')
    const after = await admin.query<{ enqueued: number }>(
      'select sum(enqueued)::int as enqueued from messaging_queue_minutes where infrastructure_id = $1',
      [A.infra],
    )
    expect(after.rows).toEqual([{ enqueued: 7 + 3 }])
    const b = await admin.query<{ enqueued: number }>(
      'select sum(enqueued)::int as enqueued from messaging_queue_minutes where infrastructure_id = $1',
      [B.infra],
    )
    expect(b.rows).toEqual([{ enqueued: 7 }])
  })

  it('counts a delivery once and writes nothing for a receipt that moves it on (processed -> confirmed)', async () => {
    const id = uuid()
    const minute = () =>
      app.query<{ ctid: string; delivered: number; closed: number }>(
        `select ctid::text, delivered, closed from messaging_queue_minutes
          where infrastructure_id = $1 and minute = date_trunc('minute', messaging_now()) and slot = pg_backend_pid() % 16`,
        [A.infra],
      )
    await as(app, claims('service'), async () => {
      await app.query(
        `insert into messaging_outbox (infrastructure_id, id, channel_id, payload, max_attempts, created_by, created_at, available_at)
         values ($1, $2, $3, '{}', 3, $4, now(), now())`,
        [A.infra, id, A.channel, A.user],
      )
      const set = (assignments: string) =>
        app.query(`update messaging_outbox set ${assignments} where infrastructure_id = $1 and id = $2`, [
          A.infra,
          id,
        ])
      await set(
        "status = 'processing', attempts = 1, lease_token = gen_random_uuid(), leased_until = now() + interval '1 minute'",
      )
      await set("status = 'processed', lease_token = null, leased_until = null, settled_at = now()")
      const delivered = (await minute()).rows
      expect(delivered).toMatchObject([{ delivered: 1, closed: 1 }])
      await set("status = 'confirmed'")
      // The same row version: the receipt's statement wrote no upsert of zeros.
      expect((await minute()).rows).toEqual(delivered)
    })
  })
})
