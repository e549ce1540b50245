import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { claimsOf, createPostgresStorage, type PostgresStorage } from '../../src/adapters/postgres/index.js'
import { isFanOut } from '../../src/adapters/postgres/postgres-fanout.js'
import { TenantScope } from '../../src/domain/tenant-scope.js'
import { createMessaging, type Messaging, type Principal } from '../../src/index.js'
import type { EnqueueCommand } from '../../src/ports/outbox-repository.js'
import { principal, tenant } from '../support/fixtures.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'

/**
 * A notify's fan-out on PostgreSQL is one call of `messaging_enqueue_fanout`
 * (sql/0072_enqueue_fanout.sql): the values its messages share sent once, five arrays for
 * what differs. What it must keep of the per-message enqueue: the rows it writes, the
 * channel rules (missing or disabled: nothing written), the caller's policies, and arrays of
 * one length. The notify conformance suite holds its results to the other stores'.
 */
let db: TestDatabase
let storage: PostgresStorage
let messaging: Messaging
let owner: pg.Client
let app: pg.Client

beforeAll(async () => {
  db = await createTestDatabase('enqueue_fanout')
  // One connection: the prepared statement is listed on the connection that ran it.
  storage = await createPostgresStorage({
    connectionString: db.appUrl,
    poolSize: 1,
    listenConnectionString: false,
  })
  messaging = createMessaging({ storage })
  owner = new pg.Client({ connectionString: db.adminUrl })
  app = new pg.Client({ connectionString: db.appUrl })
  await Promise.all([owner.connect(), app.connect()])
})
afterAll(async () => {
  await Promise.all([owner?.end(), app?.end()])
  await storage?.close()
  await db?.drop()
})

/** A tenant with an in-app channel (max attempts 7), an email channel, a category over both and `n` profiles. */
async function seeded(n: number) {
  const t = tenant()
  const root = principal('infra_admin', [[t.infra, null]])
  const service = principal('service', [[t.infra, null]])
  const alerts = await messaging.createChannel(root, {
    infrastructureId: t.infra,
    channelKey: 'alerts',
    type: 'in_app',
    maxAttempts: 7,
  })
  const mail = await messaging.createChannel(root, {
    infrastructureId: t.infra,
    channelKey: 'mail',
    type: 'email',
    config: { from: 'news@example.com' },
  })
  await messaging.createCategory(root, {
    infrastructureId: t.infra,
    key: 'digest.weekly',
    name: 'Weekly digest',
    channels: { in_app: { channelKey: 'alerts' }, email: { channelKey: 'mail' } },
  })
  const users = Array.from({ length: n }, () => randomUUID())
  for (const [k, userId] of users.entries()) {
    await owner.query(
      `insert into messaging_profiles (infrastructure_id, user_id, email, created_at, updated_at, updated_by)
       values ($1, $2, $3, now(), now(), $4)`,
      [t.infra, userId, `u${k}@example.com`, root.userId],
    )
  }
  return { t, root, service, alerts, mail, users }
}

/** The function called directly as `messaging_app` under `claims`, one message per channel id given. */
function callDirect(claims: string, infra: string, channels: string[], trim = 0) {
  const n = channels.length
  return app.query(
    `select channel_id, outcome, max_attempts from messaging_enqueue_fanout($1, $2::uuid, null::uuid,
       '{"n":1}'::jsonb, $3::uuid, now(), null::timestamptz, 0::bigint, 5, null::smallint, null::text, null::text,
       $4::uuid, 'digest.weekly', $5::uuid[], $6::uuid[], $7::uuid[], $8::text[], $9::uuid[])`,
    [
      claims,
      infra,
      randomUUID(),
      randomUUID(),
      Array.from({ length: n }, () => randomUUID()),
      channels,
      Array.from({ length: n - trim }, () => randomUUID()),
      Array.from({ length: n }, (_, k) => `u${k}@example.com`),
      Array.from({ length: n }, () => null),
    ],
  )
}

const claimsOfPrincipal = (p: Principal) => claimsOf(TenantScope.of(p))
const outboxCount = async (infra: string) =>
  Number(
    (
      await owner.query('select count(*)::int as n from messaging_outbox where infrastructure_id = $1', [
        infra,
      ])
    ).rows[0].n,
  )

describe("a notify's fan-out on PostgreSQL (messaging_enqueue_fanout)", () => {
  it('writes each message as the per-message enqueue would, in one prepared statement', async () => {
    const { t, service, alerts, mail, users } = await seeded(3)
    const { notification: n } = await messaging.notify(service, {
      infrastructureId: t.infra,
      category: 'digest.weekly',
      to: { users },
      data: { week: 14 },
      priority: 'high',
    })
    expect(n).toMatchObject({ messageCount: 6, skippedCount: 0 })
    const rows = (
      await owner.query(
        `select o.*, o.available_at <= now() as due, o.created_at = $3 as at_notify
           from messaging_outbox as o where infrastructure_id = $1 and notification_id = $2
          order by recipient_user_id, channel_id`,
        [t.infra, n.id, n.createdAt],
      )
    ).rows
    expect(rows).toHaveLength(6)
    for (const r of rows) {
      const k = users.indexOf(r.recipient_user_id)
      expect(k).toBeGreaterThanOrEqual(0)
      const inApp = r.channel_id === alerts.id
      expect(r).toMatchObject({
        business_id: null,
        payload: { week: 14 },
        recipients: [inApp ? r.recipient_user_id : `u${k}@example.com`],
        idempotency_key: null,
        max_attempts: inApp ? 7 : 5,
        created_by: service.userId,
        status: 'pending',
        attempts: 0,
        category_key: 'digest.weekly',
        template_id: null,
        priority: 0,
        due: true,
        at_notify: true,
      })
      expect([alerts.id, mail.id]).toContain(r.channel_id)
    }
    const prepared = await storage.db
      .selectFrom('pg_prepared_statements' as never)
      .select(['name' as never])
      .execute()
    expect((prepared as unknown as { name: string }[]).map((p) => p.name)).toContain(
      'messaging_enqueue_fanout_1',
    )
  })

  it("enters each recipient once in the recipient index, and lists every recipient's notification", async () => {
    const { t, service, users } = await seeded(4)
    // A fifth user without a profile: skipped, found through the skips' index instead.
    const unknown = randomUUID()
    const { notification: n } = await messaging.notify(service, {
      infrastructureId: t.infra,
      category: 'digest.weekly',
      to: { users: [...users, unknown] },
      data: { week: 15 },
    })
    expect(n).toMatchObject({ messageCount: 8, skippedCount: 1 })
    // Two messages per recipient; the first of each stands for it in the index (sql/0091).
    const rows = (
      await owner.query(
        `select recipient_user_id, count(*)::int as messages, count(*) filter (where recipient_first)::int as first,
                count(*) filter (where recipient_first is null)::int as undecided
           from messaging_outbox where infrastructure_id = $1 and notification_id = $2
          group by recipient_user_id order by recipient_user_id`,
        [t.infra, n.id],
      )
    ).rows
    expect(rows).toEqual(
      [...users].sort().map((u) => ({ recipient_user_id: u, messages: 2, first: 1, undecided: 0 })),
    )
    for (const userId of [...users, unknown]) {
      const listed = await messaging.listNotifications(service, { infrastructureId: t.infra, userId })
      expect(listed.map((x) => x.id)).toEqual([n.id])
    }
    // A lone message of a notification (a user without an email address: in-app only) goes the
    // per-message way: left undecided, so in the index too.
    const noEmail = randomUUID()
    await owner.query(
      `insert into messaging_profiles (infrastructure_id, user_id, created_at, updated_at, updated_by)
       values ($1, $2, now(), now(), $3)`,
      [t.infra, noEmail, service.userId],
    )
    const { notification: lone } = await messaging.notify(service, {
      infrastructureId: t.infra,
      category: 'digest.weekly',
      to: { users: [noEmail] },
      data: { week: 16 },
    })
    expect(lone).toMatchObject({ messageCount: 1, skippedCount: 1 })
    const undecided = await owner.query(
      'select recipient_first from messaging_outbox where infrastructure_id = $1 and notification_id = $2',
      [t.infra, lone.id],
    )
    expect(undecided.rows).toEqual([{ recipient_first: null }])
    const listed = await messaging.listNotifications(service, { infrastructureId: t.infra, userId: noEmail })
    expect(listed.map((x) => x.id)).toEqual([lone.id])
    // The column is written once: the app role cannot change it.
    await expect(
      app.query('update messaging_outbox set recipient_first = true where infrastructure_id = $1', [t.infra]),
    ).rejects.toMatchObject({ code: '42501' })
    // Re-created by sql/0091, the function keeps the generic plan of the per-message enqueue (sql/0071).
    const forms = await owner.query(
      "select proconfig from pg_proc where proname = 'messaging_enqueue_fanout' and pg_function_is_visible(oid)",
    )
    expect(forms.rows).toHaveLength(1)
    expect(forms.rows[0].proconfig).toContain('plan_cache_mode=force_generic_plan')
  })

  it('writes nothing when a channel is missing or disabled, and names it', async () => {
    const { t, root, service, alerts, mail } = await seeded(0)
    await messaging.configureChannel(root, { infrastructureId: t.infra, channelId: mail.id, enabled: false })
    const claims = claimsOfPrincipal(service)
    const disabled = await callDirect(claims, t.infra, [alerts.id, mail.id, alerts.id])
    expect(Object.fromEntries(disabled.rows.map((r) => [r.channel_id, r.outcome]))).toEqual({
      [alerts.id]: 'not_written',
      [mail.id]: 'channel_disabled',
    })
    const ghost = randomUUID()
    const missing = await callDirect(claims, t.infra, [alerts.id, ghost])
    expect(missing.rows.find((r) => r.channel_id === ghost)?.outcome).toBe('channel_missing')
    // Another tenant's channel is missing here: it is looked up in the message's infrastructure.
    const other = await seeded(0)
    const foreign = await callDirect(claims, t.infra, [alerts.id, other.alerts.id])
    expect(foreign.rows.find((r) => r.channel_id === other.alerts.id)?.outcome).toBe('channel_missing')
    expect(await outboxCount(t.infra)).toBe(0)
    const ok = await callDirect(claims, t.infra, [alerts.id, alerts.id])
    expect(ok.rows).toEqual([{ channel_id: alerts.id, outcome: 'created', max_attempts: 7 }])
    expect(await outboxCount(t.infra)).toBe(2)
  })

  it("refuses arrays of different lengths, a member's claims and an outsider's", async () => {
    const { t, alerts } = await seeded(0)
    await expect(
      callDirect(
        claimsOfPrincipal(principal('service', [[t.infra, null]])),
        t.infra,
        [alerts.id, alerts.id],
        1,
      ),
    ).rejects.toMatchObject({ code: '22023' })
    const member = principal('member', [[t.infra, null]])
    await expect(
      callDirect(claimsOfPrincipal(member), t.infra, [alerts.id, alerts.id]),
    ).rejects.toMatchObject({
      code: '42501',
    })
    // Outside the caller's tenants the channel is not there for it: nothing is written.
    const outsider = principal('service', [[randomUUID(), null]])
    const r = await callDirect(claimsOfPrincipal(outsider), t.infra, [alerts.id, alerts.id])
    expect(r.rows.map((x) => x.outcome)).toEqual(['channel_missing'])
    expect(await outboxCount(t.infra)).toBe(0)
  })

  it('takes only a batch whose messages share everything but channel, recipient and template', () => {
    const payload = { week: 14 }
    const at = new Date()
    const command = (over: Partial<EnqueueCommand['message']> = {}, audit: EnqueueCommand['audit'] = null) =>
      ({
        message: {
          id: randomUUID(),
          infrastructureId: 'i',
          businessId: null,
          payload,
          recipients: ['a@example.com'],
          idempotencyKey: null,
          createdBy: 'u',
          createdAt: at,
          notification: { id: 'n', userId: randomUUID(), categoryKey: 'c', templateId: null },
          ...over,
        },
        due: { afterMs: 0 },
        channel: { id: randomUUID() },
        defaultMaxAttempts: 5,
        audit,
      }) as EnqueueCommand
    expect(isFanOut([command(), command()])).toBe(true)
    expect(isFanOut([command()])).toBe(false)
    expect(isFanOut([command(), command({ payload: { week: 14 } })])).toBe(false)
    expect(isFanOut([command(), command({ notification: null })])).toBe(false)
    expect(isFanOut([command(), command({ recipients: ['a@example.com', 'b@example.com'] })])).toBe(false)
    expect(isFanOut([command(), command({ priority: 'low' })])).toBe(false)
    // A field the fan-out does not write (one added later) sends the batch the general way.
    expect(isFanOut([command(), command({ colour: 'red' } as never)])).toBe(false)
    expect(isFanOut([command(), command({ colour: null } as never)])).toBe(true)
  })
})
