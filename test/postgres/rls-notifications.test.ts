import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { as, refusal } from '../support/rls.js'

/**
 * The notification tables (sql/0021) and the outbox's notification columns under raw SQL,
 * as a LOGIN role granted messaging_app with the claims of tenant A, and as the fleet
 * worker: B's notifications and skips stay out of reach, members read none, a business's
 * grant reaches its business only, nothing changes once written, and only an admin or a
 * worker writes a message that names a notification.
 */
const uuid = () => randomUUID()
const A = { infra: uuid(), bizA: uuid(), bizB: uuid(), channel: uuid(), user: uuid(), admin: uuid() }
const B = { infra: uuid(), channel: uuid(), user: uuid() }
const ids = { aWide: uuid(), aBizA: uuid(), aBizB: uuid(), b: uuid() }
const T = '2026-01-01T00:00:00Z'

type Role = 'member' | 'infra_admin' | 'service'
const claims = (role: Role, grants: Array<[string, string | null]> = [[A.infra, null]], sub = A.admin) =>
  JSON.stringify({
    sub,
    role,
    grants: grants.map(([infrastructure_id, business_id]) => ({ infrastructure_id, business_id })),
  })

let db: TestDatabase
let app: pg.Client
let worker: pg.Client
let admin: pg.Client

const insertNotification = `insert into messaging_notifications (infrastructure_id, id, business_id, category_key, target, data,
    created_by, created_at, recipient_count, message_count, skipped_count)
  values ($1, $2, $3, 'invoice.paid', '{"kind": "users", "count": 1}', '{}', $4, now(), 1, 1, 0)`
const insertSkip = `insert into messaging_notification_skips (infrastructure_id, notification_id, user_id, channel_type,
    business_id, reason, created_at)
  values ($1, $2, $3, 'sms', $4, 'no_address', now())`
const insertMessage = `insert into messaging_outbox (infrastructure_id, id, business_id, channel_id, payload, recipients,
    max_attempts, created_by, created_at, available_at, notification_id, recipient_user_id, category_key)
  values ($1, $2, $3, $4, '{}', $5, 3, $6, now(), now(), $7, $8, 'invoice.paid')`

beforeAll(async () => {
  db = await createTestDatabase('rls_notifications')
  admin = new pg.Client({ connectionString: db.adminUrl })
  app = new pg.Client({ connectionString: db.appUrl })
  worker = new pg.Client({ connectionString: db.workerUrl })
  await Promise.all([admin.connect(), app.connect(), worker.connect()])
  for (const t of [
    { infra: A.infra, channel: A.channel, user: A.user },
    { infra: B.infra, channel: B.channel, user: B.user },
  ]) {
    await admin.query(
      `insert into messaging_channels (infrastructure_id, id, channel_key, type, name, config, created_by, created_at, updated_at)
       values ($1, $2, 'alerts', 'in_app', 'Alerts', '{}', $3, $4, $4)`,
      [t.infra, t.channel, t.user, T],
    )
    await admin.query(
      `insert into messaging_categories (infrastructure_id, category_key, name, channels, created_by, created_at, updated_at)
       values ($1, 'invoice.paid', 'Invoice paid', '{"in_app": {"channelKey": "alerts", "enabled": true}}', $2, $3, $3)`,
      [t.infra, t.user, T],
    )
  }
  await admin.query(
    `insert into messaging_categories (infrastructure_id, category_key, name, created_by, created_at, updated_at)
     values ($1, 'b.only', 'B only', $2, $3, $3)`,
    [B.infra, B.user, T],
  )
  for (const [infra, id, business, channel, user] of [
    [A.infra, ids.aWide, null, A.channel, A.user],
    [A.infra, ids.aBizA, A.bizA, A.channel, A.user],
    [A.infra, ids.aBizB, A.bizB, A.channel, A.user],
    [B.infra, ids.b, null, B.channel, B.user],
  ] as const) {
    await admin.query(insertNotification, [infra, id, business, user])
    await admin.query(insertSkip, [infra, id, user, business])
    await admin.query(insertMessage, [
      infra,
      uuid(),
      business,
      channel,
      JSON.stringify([user]),
      user,
      id,
      user,
    ])
  }
})

afterAll(async () => {
  await Promise.all([admin?.end(), app?.end(), worker?.end()])
  await db?.drop()
})

describe('row-level security of the notification tables, as messaging_app with the claims of tenant A', () => {
  const TABLES = ['messaging_notifications', 'messaging_notification_skips']

  it('enables and forces RLS on both tables, and grants PUBLIC nothing', async () => {
    const r = await admin.query(
      'select relname, relrowsecurity, relforcerowsecurity, relacl::text from pg_class where relname = any($1) order by relname',
      [TABLES],
    )
    expect(r.rows.map((x) => [x.relname, x.relrowsecurity, x.relforcerowsecurity])).toEqual(
      [...TABLES].sort().map((t) => [t, true, true]),
    )
    for (const row of r.rows) expect(row.relacl, row.relname).not.toMatch(/(^|[{,])=/)
  })

  it("shows an admin or a worker A's rows of the businesses its grant reaches; a member none; nothing without claims", async () => {
    const seen = async (c: string) => {
      const n = await app.query('select id from messaging_notifications order by id')
      const s = await app.query(
        'select notification_id from messaging_notification_skips order by notification_id',
      )
      return { c, n: n.rows.map((x) => x.id).sort(), s: s.rows.map((x) => x.notification_id).sort() }
    }
    const allA = [ids.aWide, ids.aBizA, ids.aBizB].sort()
    for (const role of ['infra_admin', 'service'] as const) {
      await as(app, claims(role), async () => {
        expect(await seen(role)).toEqual({ c: role, n: allA, s: allA })
      })
    }
    await as(app, claims('service', [[A.infra, A.bizA]]), async () => {
      expect(await seen('biz')).toEqual({ c: 'biz', n: [ids.aBizA], s: [ids.aBizA] })
    })
    await as(app, claims('member', [[A.infra, null]], A.user), async () => {
      expect(await seen('member')).toEqual({ c: 'member', n: [], s: [] })
    })
    await as(app, null, async () => {
      expect(await seen('none')).toEqual({ c: 'none', n: [], s: [] })
    })
  })

  it("refuses writing B's rows, a member's rows, a skip of another business's notification, and any change", async () => {
    await as(app, claims('service'), async () => {
      expect(await refusal(app, insertNotification, [B.infra, uuid(), null, A.admin])).toBe('42501')
      expect(await refusal(app, insertSkip, [B.infra, ids.b, B.user, null])).toBe('42501')
      // The skip names a notification of business A while claiming business B: the policy's join refuses it.
      expect(await refusal(app, insertSkip, [A.infra, ids.aBizA, uuid(), A.bizB])).toBe('42501')
      // Created by someone else than the caller.
      expect(await refusal(app, insertNotification, [A.infra, uuid(), null, uuid()])).toBe('42501')
      // Append-only: no UPDATE or DELETE privilege at all.
      expect(await refusal(app, 'update messaging_notifications set message_count = 0')).toBe('42501')
      expect(await refusal(app, 'delete from messaging_notification_skips')).toBe('42501')
      expect(await refusal(app, 'truncate messaging_notifications')).toBe('42501')
      expect(await refusal(app, insertNotification, [A.infra, uuid(), null, A.admin])).toBe('no error')
    })
    await as(app, claims('member', [[A.infra, null]], A.user), async () => {
      expect(await refusal(app, insertNotification, [A.infra, uuid(), null, A.user])).toBe('42501')
    })
    // A's notification never names B's category: the composite foreign key has no such row.
    await as(app, claims('service'), async () => {
      expect(
        await refusal(
          app,
          `insert into messaging_notifications (infrastructure_id, id, category_key, target, data, created_by,
             created_at, recipient_count, message_count, skipped_count)
           values ($1, $2, 'b.only', '{"kind": "users", "count": 0}', '{}', $3, now(), 0, 0, 0)`,
          [A.infra, uuid(), A.admin],
        ),
      ).toBe('23503')
    })
  })

  it('lets only an admin or a worker write an outbox message that names a notification', async () => {
    const row = (business: string | null) => [
      A.infra,
      uuid(),
      business,
      A.channel,
      JSON.stringify([A.user]),
      A.user,
      ids.aWide,
      A.user,
    ]
    await as(app, claims('member', [[A.infra, null]], A.user), async () => {
      expect(await refusal(app, insertMessage, row(null))).toBe('42501')
      // A plain message it may still append.
      expect(
        await refusal(
          app,
          `insert into messaging_outbox (infrastructure_id, id, channel_id, payload, max_attempts, created_by, created_at, available_at)
           values ($1, $2, $3, '{}', 3, $4, now(), now())`,
          [A.infra, uuid(), A.channel, A.user],
        ),
      ).toBe('no error')
      // The notification columns are written once: nobody changes them.
      expect(await refusal(app, 'update messaging_outbox set notification_id = null')).toBe('42501')
    })
    await as(app, claims('service'), async () => {
      expect(await refusal(app, insertMessage, row(null))).toBe('no error')
      expect(await refusal(app, 'update messaging_outbox set recipient_user_id = $1', [uuid()])).toBe('42501')
      // The columns hang together: a notification without its recipient is refused by the check.
      expect(
        await refusal(
          app,
          `insert into messaging_outbox (infrastructure_id, id, channel_id, payload, max_attempts, created_by, created_at,
             available_at, notification_id)
           values ($1, $2, $3, '{}', 3, $4, now(), now(), $5)`,
          [A.infra, uuid(), A.channel, A.user, ids.aWide],
        ),
      ).toBe('23514')
    })
  })

  it('lets the fleet worker read every tenant and write nothing', async () => {
    await as(worker, null, async () => {
      for (const table of TABLES) {
        const r = await worker.query(`select distinct infrastructure_id from ${table}`)
        expect(r.rows.map((x) => x.infrastructure_id).sort(), table).toEqual([A.infra, B.infra].sort())
      }
      expect(await refusal(worker, insertNotification, [A.infra, uuid(), null, A.admin])).toBe('42501')
      expect(await refusal(worker, insertSkip, [A.infra, ids.aWide, uuid(), null])).toBe('42501')
    })
  })
})
