import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { claimsOf, createPostgresStorage, type PostgresStorage } from '../../src/adapters/postgres/index.js'
import { TenantScope } from '../../src/domain/tenant-scope.js'
import {
  createMessaging,
  type Messaging,
  type Principal,
  TenantScopeViolationError,
} from '../../src/index.js'
import { principal, tenant } from '../support/fixtures.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'

/**
 * The enqueue on PostgreSQL is one function taking typed arrays (sql/0045_enqueue_arrays.sql),
 * run as a named prepared statement as `messaging_app` under row-level security. What it
 * does beyond the conformance suites: a replayed key in the middle of a batch, a batch that
 * reaches outside the caller's tenants refused whole by the database itself, the audit
 * answer for each message of a batch, and arrays of unequal length refused.
 */
let db: TestDatabase
let storage: PostgresStorage
let messaging: Messaging
let owner: pg.Client
let app: pg.Client

beforeAll(async () => {
  db = await createTestDatabase('enqueue_arrays')
  // One connection: the prepared statement is looked up on the connection that ran it.
  storage = await createPostgresStorage({ connectionString: db.appUrl, poolSize: 1 })
  messaging = createMessaging({ storage })
  // The superuser: the tables force row-level security even on their owner.
  owner = new pg.Client({ connectionString: db.adminUrl })
  app = new pg.Client({ connectionString: db.appUrl })
  await Promise.all([owner.connect(), app.connect()])
})
afterAll(async () => {
  await Promise.all([owner?.end(), app?.end()])
  await storage?.close()
  await db?.drop()
})

/** A tenant with an infra-wide admin, a member of business A and a channel keyed `orders`. */
async function seeded() {
  const t = tenant()
  const admin = principal('infra_admin', [[t.infra, null]])
  const member = principal('member', [[t.infra, t.bizA]])
  const channel = await messaging.createChannel(admin, {
    infrastructureId: t.infra,
    channelKey: 'orders',
    type: 'in_app',
  })
  return { t, admin, member, channel }
}

/** Rows of the outbox and the audit log's entries of writes of `infra`, read past RLS. */
async function rowsOf(infra: string) {
  const outbox = await owner.query('select id from messaging_outbox where infrastructure_id = $1', [infra])
  // Refusals are audited by design (outcome 'refused'): what must not appear is an entry of a write.
  const audit = await owner.query(
    "select id from messaging_audit_log where infrastructure_id = $1 and outcome = 'ok'",
    [infra],
  )
  return { outbox: outbox.rowCount, audit: audit.rowCount }
}

/** The function called directly, as `messaging_app`, with `claims` and one message per entry. */
function callDirect(
  claims: string,
  messages: { infra: string; business: string | null; channel: string }[],
  trim = 0,
) {
  const col = <T>(f: (m: (typeof messages)[number]) => T) => messages.map(f)
  const none = col(() => null)
  const now = col(() => new Date())
  return app.query(
    `select * from messaging_enqueue_arrays($1, $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::text[],
       $7::jsonb[], $8::jsonb[], $9::text[], $10::int[], $11::uuid[], $12::timestamptz[], $13::timestamptz[],
       $14::bigint[], $15::uuid[], $16::uuid[], $17::text[], $18::uuid[], $19::uuid[], $20::uuid[], $21::text[],
       $22::text[], $23::jsonb[], $24::timestamptz[])`,
    [
      claims,
      col((m) => m.infra),
      col(() => randomUUID()).slice(trim),
      col((m) => m.business),
      col((m) => m.channel),
      none,
      col(() => '{"n":1}'),
      none,
      none,
      col(() => 5),
      col(() => randomUUID()),
      now,
      none,
      col(() => 0),
      none,
      none,
      none,
      none,
      none,
      none,
      none,
      none,
      none,
      none,
    ],
  )
}

const claimsOfPrincipal = (p: Principal) => claimsOf(TenantScope.of(p))

describe('the PostgreSQL enqueue (typed arrays, named prepared statement)', () => {
  it('answers a replayed idempotency key in the middle of a batch with the original message, creating the others', async () => {
    const { t, admin, member } = await seeded()
    const item = (n: number, idempotencyKey?: string) => ({
      infrastructureId: t.infra,
      businessId: t.bizA,
      channelKey: 'orders',
      payload: { n },
      ...(idempotencyKey ? { idempotencyKey } : {}),
    })
    const [first] = await messaging.enqueueMany(member, [item(1, 'order-7')])
    const batch = await messaging.enqueueMany(member, [item(2), item(3, 'order-7'), item(4, 'order-8')])
    expect(batch.map((r) => r.created)).toEqual([true, false, true])
    expect(batch[1]!.message).toEqual(first!.message)
    expect(batch[1]!.message.payload).toEqual({ n: 1 })
    expect(new Set(batch.map((r) => r.message.id)).size).toBe(3)
    // Three messages in all, each named by its batch's one audit entry: the replay wrote nothing.
    expect(await rowsOf(t.infra)).toMatchObject({ outbox: 3 })
    const enqueued = (
      await messaging.listAudit(admin, { infrastructureId: t.infra, action: 'outbox.enqueue' })
    ).flatMap((e) => e.details?.messageIds as string[])
    expect(enqueued.sort()).toEqual([first!.message.id, batch[0]!.message.id, batch[2]!.message.id].sort())
  })

  it('refuses a batch that mixes a tenant the caller may reach with one it may not, whole, writing nothing', async () => {
    const { t, member } = await seeded()
    const other = await seeded()
    const before = { mine: await rowsOf(t.infra), theirs: await rowsOf(other.t.infra) }
    const mine = { infrastructureId: t.infra, businessId: t.bizA, channelKey: 'orders', payload: { n: 1 } }
    for (const outside of [
      { ...mine, businessId: t.bizB },
      { ...mine, infrastructureId: other.t.infra, businessId: other.t.bizA },
    ]) {
      await expect(messaging.enqueueMany(member, [mine, outside, mine])).rejects.toBeInstanceOf(
        TenantScopeViolationError,
      )
    }
    expect({ mine: await rowsOf(t.infra), theirs: await rowsOf(other.t.infra) }).toEqual(before)
  })

  it('is refused by row-level security itself when called past the domain with a message outside the claims', async () => {
    const { t, member, channel } = await seeded()
    const other = await seeded()
    const before = { mine: await rowsOf(t.infra), theirs: await rowsOf(other.t.infra) }
    const claims = claimsOfPrincipal(member)
    const ok = { infra: t.infra, business: t.bizA, channel: channel.id }
    // Another business of the member's infrastructure: its channel is visible, the insert's policy refuses the row.
    await expect(
      callDirect(claims, [ok, { infra: t.infra, business: t.bizB, channel: channel.id }, ok]),
    ).rejects.toMatchObject({ code: '42501' })
    // Another infrastructure: its channel is not even visible, so the batch is answered
    // "channel missing" at that message and nothing of it is written.
    const outside = await callDirect(claims, [
      ok,
      { infra: other.t.infra, business: other.t.bizA, channel: other.channel.id },
      ok,
    ])
    expect(outside.rows.map((r) => r.outcome)).toEqual(['existing', 'channel_missing', 'existing'])
    expect({ mine: await rowsOf(t.infra), theirs: await rowsOf(other.t.infra) }).toEqual(before)
    // The same call inside the claims is accepted: the refusal was the tenant's, not the call's shape.
    const fine = await callDirect(claims, [{ infra: t.infra, business: t.bizA, channel: channel.id }])
    expect(fine.rows.map((r) => r.outcome)).toEqual(['created'])
  })

  it('refuses arrays of unequal length, writing nothing', async () => {
    const { t, member, channel } = await seeded()
    const before = await rowsOf(t.infra)
    const ok = { infra: t.infra, business: t.bizA, channel: channel.id }
    await expect(callDirect(claimsOfPrincipal(member), [ok, ok], 1)).rejects.toMatchObject({ code: '22023' })
    expect(await rowsOf(t.infra)).toEqual(before)
  })

  it('answers "who queued message X" for every message of a batch from the audit log', async () => {
    const { t, admin, member } = await seeded()
    const batch = await messaging.enqueueMany(
      member,
      [1, 2, 3].map((n) => ({
        infrastructureId: t.infra,
        businessId: t.bizA,
        channelKey: 'orders',
        payload: { n },
      })),
    )
    for (const { message } of batch) {
      const [entry, ...more] = await messaging.listAudit(admin, {
        infrastructureId: t.infra,
        targetId: message.id,
      })
      expect(more).toEqual([])
      expect(entry).toMatchObject({
        actorId: member.userId,
        actorRole: 'member',
        outcome: 'ok',
        businessId: t.bizA,
      })
    }
  })

  it("leaves the caller's plan cache mode as it was, inside the caller's transaction", async () => {
    const { t, member, channel } = await seeded()
    const ok = { infra: t.infra, business: t.bizA, channel: channel.id }
    await app.query('begin')
    try {
      for (const batch of [[ok], [ok, ok]]) {
        const r = await callDirect(claimsOfPrincipal(member), batch)
        expect(r.rows.map((x) => x.outcome)).toEqual(batch.map(() => 'created'))
        const mode = await app.query("select current_setting('plan_cache_mode') as mode")
        expect(mode.rows[0].mode).toBe('auto')
      }
    } finally {
      await app.query('rollback')
    }
    expect(await rowsOf(t.infra)).toMatchObject({ outbox: 0 })
    // The generic plan is the function's own setting (sql/0071), on its current argument list.
    const forms = await owner.query(
      "select proconfig from pg_proc where proname = 'messaging_enqueue_arrays' and pg_function_is_visible(oid)",
    )
    expect(forms.rows).toHaveLength(1)
    expect(forms.rows[0].proconfig).toContain('plan_cache_mode=force_generic_plan')
  })

  it('runs the enqueue as a statement prepared once per connection', async () => {
    const { t, member } = await seeded()
    const one = { infrastructureId: t.infra, businessId: t.bizA, channelKey: 'orders', payload: { n: 1 } }
    await messaging.enqueue(member, one)
    await messaging.enqueueMany(member, [one, one])
    // The storage has one connection: the statement it prepared is listed there.
    const rows = await storage.db
      .selectFrom('pg_prepared_statements' as never)
      .select(['name' as never, 'statement' as never])
      .execute()
    const prepared = (rows as unknown as { name: string; statement: string }[]).filter(
      (r) => r.name === 'messaging_enqueue_arrays_2',
    )
    expect(prepared).toHaveLength(1)
    expect(prepared[0]!.statement).toMatch(/from messaging_enqueue_arrays\(/)
  })
})
