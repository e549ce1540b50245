import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { as, refusal } from '../support/rls.js'

/**
 * The digests (sql/0100, a channel's since sql/0102) under raw SQL, as a LOGIN role granted messaging_app with the claims
 * of tenant A, and as the fleet worker: B's digests stay out of reach (neither read, added
 * to nor closed), members see none, nobody deletes one, and the worker only closes.
 */
const uuid = () => randomUUID()
const A = { infra: uuid(), user: uuid(), admin: uuid(), digest: uuid() }
const B = { infra: uuid(), user: uuid(), digest: uuid() }

type Role = 'member' | 'infra_admin' | 'service'
const claims = (role: Role, infra = A.infra, sub = A.admin) =>
  JSON.stringify({ sub, role, grants: [{ infrastructure_id: infra, business_id: null }] })

let db: TestDatabase
let app: pg.Client
let worker: pg.Client
let admin: pg.Client

const open = `insert into messaging_digests (infrastructure_id, id, business_id, user_id, category_key, channel_id,
    digest_key, opened_at, closes_at, max_items, item_count, items)
  values ($1, $2, null, $3, 'comment.new', $4, '', now(), now() + interval '10 minutes', 10, 1,
          '[{"notificationId": "n1", "at": 0, "data": {"secret": "x"}}]')`
const digests = (client: pg.Client) =>
  client.query<{ infrastructure_id: string }>('select infrastructure_id from messaging_digests order by 1')
const append = `update messaging_digests set items = items || '[{"data": {}}]', item_count = item_count + 1
  where infrastructure_id = $1`
const close = 'update messaging_digests set closed_at = now() where infrastructure_id = $1'

beforeAll(async () => {
  db = await createTestDatabase('rls_digests')
  admin = new pg.Client({ connectionString: db.adminUrl })
  app = new pg.Client({ connectionString: db.appUrl })
  worker = new pg.Client({ connectionString: db.workerUrl })
  await Promise.all([admin.connect(), app.connect(), worker.connect()])
  for (const t of [A, B]) await admin.query(open, [t.infra, t.digest, t.user, uuid()])
})

afterAll(async () => {
  await Promise.all([admin?.end(), app?.end(), worker?.end()])
  await db?.drop()
})

describe('row-level security of the digests, as messaging_app with the claims of tenant A', () => {
  it('enables and forces RLS, and grants PUBLIC nothing', async () => {
    const r = await admin.query(
      "select relrowsecurity, relforcerowsecurity, relacl::text from pg_class where relname = 'messaging_digests'",
    )
    expect(r.rows[0]).toMatchObject({ relrowsecurity: true, relforcerowsecurity: true })
    expect(r.rows[0].relacl).not.toMatch(/(^|[{,])=/)
  })

  it("shows an admin or a service A's digests only; a member none; nothing without claims", async () => {
    for (const role of ['service', 'infra_admin'] as const) {
      expect((await as(app, claims(role), () => digests(app))).rows).toEqual([{ infrastructure_id: A.infra }])
    }
    expect((await as(app, claims('member', A.infra, A.user), () => digests(app))).rows).toEqual([])
    expect((await as(app, null, () => digests(app))).rows).toEqual([])
  })

  it("neither adds to, closes nor opens B's digests with A's claims; nobody deletes one", async () => {
    await as(app, claims('service'), async () => {
      expect((await app.query(append, [B.infra])).rowCount).toBe(0)
      expect((await app.query(close, [B.infra])).rowCount).toBe(0)
      expect(await refusal(app, open, [B.infra, uuid(), B.user, uuid()])).toBe('42501')
      // Its own, yes.
      expect(await refusal(app, append, [A.infra])).toBe('no error')
      expect(await refusal(app, 'delete from messaging_digests')).toBe('42501')
      // A digest never moves to another tenant, and its group is written once.
      expect(await refusal(app, 'update messaging_digests set infrastructure_id = $1', [B.infra])).toBe(
        '42501',
      )
      expect(await refusal(app, 'update messaging_digests set user_id = $1', [uuid()])).toBe('42501')
    })
    await as(app, claims('member', A.infra, A.user), async () => {
      expect((await app.query(close, [A.infra])).rowCount).toBe(0)
      expect(await refusal(app, open, [A.infra, uuid(), A.user, uuid()])).toBe('42501')
    })
    const b = await admin.query(
      'select item_count, closed_at from messaging_digests where infrastructure_id = $1',
      [B.infra],
    )
    expect(b.rows).toEqual([{ item_count: 1, closed_at: null }])
  })

  it('lets the fleet worker read and close every digest, and change nothing else', async () => {
    await as(worker, null, async () => {
      expect((await digests(worker)).rows.map((x) => x.infrastructure_id).sort()).toEqual(
        [A.infra, B.infra].sort(),
      )
      expect(await refusal(worker, close, [B.infra])).toBe('no error')
      expect(await refusal(worker, append, [B.infra])).toBe('42501')
      expect(await refusal(worker, open, [B.infra, uuid(), B.user, uuid()])).toBe('42501')
      expect(await refusal(worker, 'delete from messaging_digests')).toBe('42501')
    })
  })

  it("keeps a channel's digests (a destination, no user) to their tenant the same way", async () => {
    const openChannel = `insert into messaging_digests (infrastructure_id, id, business_id, user_id, category_key,
        channel_id, destination, digest_key, opened_at, closes_at, max_items, item_count, items)
      values ($1, $2, null, $3, $4, $5, $6, '', now(), now() + interval '10 minutes', 10, 1,
              '[{"notificationId": "m1", "at": 0, "data": {"secret": "y"}}]')`
    const channel = uuid()
    const to = '["ops@example.com"]'
    for (const t of [A, B]) await admin.query(openChannel, [t.infra, uuid(), null, null, channel, to])
    const ofChannels = (client: pg.Client) =>
      client.query<{ infrastructure_id: string }>(
        'select infrastructure_id from messaging_digests where destination is not null order by 1',
      )
    expect((await as(app, claims('service'), () => ofChannels(app))).rows).toEqual([
      { infrastructure_id: A.infra },
    ])
    expect((await as(app, claims('member', A.infra, A.user), () => ofChannels(app))).rows).toEqual([])
    await as(app, claims('service'), async () => {
      const appendB = `${append} and destination is not null`
      expect((await app.query(appendB, [B.infra])).rowCount).toBe(0)
      expect(await refusal(app, openChannel, [B.infra, uuid(), null, null, uuid(), to])).toBe('42501')
      // One open digest per channel, destination and key: a second opener yields.
      expect(await refusal(app, openChannel, [A.infra, uuid(), null, null, channel, to])).toBe('23505')
      expect(
        await refusal(app, openChannel, [A.infra, uuid(), null, null, channel, '["dev@example.com"]']),
      ).toBe('no error')
      // A digest is a category's (user and category) or a channel's (destination), never both or neither.
      expect(await refusal(app, openChannel, [A.infra, uuid(), A.user, 'comment.new', uuid(), to])).toBe(
        '23514',
      )
      expect(await refusal(app, openChannel, [A.infra, uuid(), null, null, uuid(), null])).toBe('23514')
    })
    await as(worker, null, async () => {
      expect(await refusal(worker, `${close} and destination is not null`, [B.infra])).toBe('no error')
      expect(await refusal(worker, openChannel, [B.infra, uuid(), null, null, uuid(), to])).toBe('42501')
    })
  })

  it("keeps a category's digest to the documented bounds", async () => {
    const cat = (digest: string) =>
      admin
        .query(
          `insert into messaging_categories (infrastructure_id, category_key, name, digest, created_by, created_at, updated_at)
           values ($1, $2, 'C', $3::jsonb, $4, now(), now())`,
          [A.infra, `c-${uuid().slice(0, 8)}`, digest, A.admin],
        )
        .then(
          () => 'ok',
          (e: { code: string }) => e.code,
        )
    expect(await cat('{"windowSeconds": 600, "maxItems": 10, "key": null}')).toBe('ok')
    expect(await cat('{"windowSeconds": 600, "maxItems": 10, "key": "thread.id"}')).toBe('ok')
    expect(await cat('{"windowSeconds": 0, "maxItems": 10, "key": null}')).toBe('23514')
    expect(await cat('{"windowSeconds": 600, "maxItems": 1, "key": null}')).toBe('23514')
    expect(await cat('{"windowSeconds": 600, "maxItems": 1001, "key": null}')).toBe('23514')
  })
})

interface PlanNode {
  'Node Type': string
  'Relation Name'?: string
  'Index Name'?: string
  Plans?: PlanNode[]
}
const nodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)]

describe("a notification's digests, found by the item index (sql/0103)", () => {
  it("keeps the index entries to their tenant, and reads a notification's digests through it, not the digest rows", async () => {
    // 5,000 closed digests of tenant A, one item each, with their index entries (as the owner).
    await admin.query(
      `insert into messaging_digests (infrastructure_id, id, business_id, user_id, category_key, channel_id,
         digest_key, opened_at, closes_at, max_items, item_count, items, closed_at)
       select $1, gen_random_uuid(), null, gen_random_uuid(), 'c', gen_random_uuid(), '', now(), now(), 10, 1,
              jsonb_build_array(jsonb_build_object('notificationId', gen_random_uuid()::text, 'at', 0, 'data', '{}'::jsonb)),
              now()
         from generate_series(1, 5000)`,
      [A.infra],
    )
    await admin.query(
      `insert into messaging_digest_items (infrastructure_id, notification_id, digest_id, business_id)
       select d.infrastructure_id, (e ->> 'notificationId')::uuid, d.id, d.business_id
         from messaging_digests as d, jsonb_array_elements(d.items) as e
        where (e ->> 'notificationId') ~ '^[0-9a-f-]{36}$'
       on conflict do nothing`,
    )
    await admin.query('analyze messaging_digests; analyze messaging_digest_items')
    const [{ notification_id: mine }] = (
      await admin.query(
        'select notification_id from messaging_digest_items where infrastructure_id = $1 limit 1',
        [A.infra],
      )
    ).rows
    const byNotification = `select id from messaging_digests
       where infrastructure_id = $1::uuid
         and id in (select i.digest_id from messaging_digest_items as i
                     where i.infrastructure_id = $1::uuid and i.notification_id = $2::uuid)
       order by id`
    await as(app, claims('service'), async () => {
      expect((await app.query(byNotification, [A.infra, mine])).rows).toHaveLength(1)
      const r = await app.query(`explain (format json) ${byNotification}`, [A.infra, mine])
      const plan = nodes((r.rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode }>)[0]!.Plan)
      const on = (rel: string) => plan.filter((n) => n['Relation Name'] === rel)
      expect(on('messaging_digest_items').map((n) => n['Index Name'])).toEqual([
        'messaging_digest_items_pkey',
      ])
      expect(on('messaging_digests').map((n) => [n['Node Type'], n['Index Name']])).toEqual([
        ['Index Scan', 'messaging_digests_pkey'],
      ])
      // B's entries stay B's: neither read nor written with A's claims.
      expect(
        (
          await app.query(
            'select count(*)::int as n from messaging_digest_items where infrastructure_id = $1',
            [B.infra],
          )
        ).rows[0].n,
      ).toBe(0)
      expect(
        await refusal(
          app,
          'insert into messaging_digest_items (infrastructure_id, notification_id, digest_id) values ($1, $2, $3)',
          [B.infra, uuid(), B.digest],
        ),
      ).toBe('42501')
    })
    expect(
      (
        await as(app, claims('member', A.infra, A.user), () =>
          app.query('select count(*)::int as n from messaging_digest_items'),
        )
      ).rows[0].n,
    ).toBe(0)
    const r = await admin.query(
      "select relrowsecurity, relforcerowsecurity from pg_class where relname = 'messaging_digest_items'",
    )
    expect(r.rows[0]).toEqual({ relrowsecurity: true, relforcerowsecurity: true })
  })
})
