import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { as, refusal } from '../support/rls.js'

/**
 * Raw SQL as a LOGIN role granted messaging_app, holding the claims of tenant A: the
 * database itself, not the adapter, must keep B's rows out of reach. Every refusal is an
 * error (privilege or policy) or a statement that matches 0 rows (RETURNING shows it).
 */
const uuid = () => randomUUID()
const A = { infra: uuid(), bizA: uuid(), bizB: uuid(), channel: uuid(), user: uuid() }
const B = { infra: uuid(), biz: uuid(), channel: uuid(), user: uuid() }
const ids = {
  aPending: uuid(),
  aHeld: uuid(),
  aHeldToken: uuid(),
  aBizA: uuid(),
  aBizB: uuid(),
  bPending: uuid(),
  bHeld: uuid(),
  bHeldToken: uuid(),
}
const T = '2026-01-01T00:00:00Z'

type Role = 'member' | 'infra_admin' | 'service'
const claims = (role: Role, grants: Array<[string, string | null]> = [[A.infra, null]], sub = A.user) =>
  JSON.stringify({
    sub,
    role,
    grants: grants.map(([infrastructure_id, business_id]) => ({ infrastructure_id, business_id })),
  })

const TABLES = [
  'messaging_channels',
  'messaging_channel_members',
  'messaging_outbox',
  'messaging_audit_log',
  'messaging_channel_memberships',
] as const

let db: TestDatabase
let app: pg.Client
let worker: pg.Client
let admin: pg.Client

const count = async (client: pg.Client, table: string) =>
  Number((await client.query(`select count(*)::int as n from ${table}`)).rows[0].n)

beforeAll(async () => {
  db = await createTestDatabase('rls')
  admin = new pg.Client({ connectionString: db.adminUrl })
  app = new pg.Client({ connectionString: db.appUrl })
  worker = new pg.Client({ connectionString: db.workerUrl })
  await Promise.all([admin.connect(), app.connect(), worker.connect()])
  // Seed both tenants as the superuser (which RLS does not bind).
  for (const t of [
    { infra: A.infra, channel: A.channel, user: A.user, biz: A.bizA },
    { infra: B.infra, channel: B.channel, user: B.user, biz: B.biz },
  ]) {
    await admin.query(
      `insert into messaging_channels (infrastructure_id, id, channel_key, type, name, config, created_by, created_at, updated_at)
       values ($1, $2, 'alerts', 'in_app', 'Alerts', '{}', $3, $4, $4)`,
      [t.infra, t.channel, t.user, T],
    )
    await admin.query(
      `insert into messaging_channel_members (infrastructure_id, channel_id, user_id, business_id, added_by, created_at, updated_at)
       values ($1, $2, $3, $4, $3, $5, $5)`,
      [t.infra, t.channel, t.user, t.biz, T],
    )
    await admin.query(
      `insert into messaging_audit_log (infrastructure_id, actor_id, id, actor_role, action, target_type, outcome, at)
       values ($1, $2, $3, 'infra_admin', 'channel.create', 'channel', 'ok', $4)`,
      [t.infra, t.user, uuid(), T],
    )
  }
  const msg = (infra: string, channel: string, id: string, business: string | null, held?: string) =>
    admin.query(
      `insert into messaging_outbox (infrastructure_id, id, business_id, channel_id, payload, max_attempts, created_by, created_at,
                                     status, attempts, available_at, lease_token, leased_until)
       values ($1, $2, $3, $4, '{"text":"secret"}', 3, $5, $6, $7, $8, $6, $9, $10)`,
      [
        infra,
        id,
        business,
        channel,
        A.user,
        T,
        held ? 'processing' : 'pending',
        held ? 1 : 0,
        held ?? null,
        held ? '2099-01-01T00:00:00Z' : null,
      ],
    )
  await msg(A.infra, A.channel, ids.aPending, null)
  await msg(A.infra, A.channel, ids.aHeld, null, ids.aHeldToken)
  await msg(A.infra, A.channel, ids.aBizA, A.bizA)
  await msg(A.infra, A.channel, ids.aBizB, A.bizB)
  await msg(B.infra, B.channel, ids.bPending, null)
  await msg(B.infra, B.channel, ids.bHeld, null, ids.bHeldToken)
})

afterAll(async () => {
  await Promise.all([admin?.end(), app?.end(), worker?.end()])
  await db?.drop()
})

describe('row-level security, as messaging_app with the claims of tenant A', () => {
  it("connects as a role that is neither superuser, BYPASSRLS nor the tables' owner", async () => {
    const r = await app.query(`select rolsuper, rolbypassrls,
        pg_has_role(current_user, (select relowner from pg_class where oid = 'messaging_outbox'::regclass), 'USAGE') as owner,
        pg_has_role(current_user, 'messaging_app', 'USAGE') as app from pg_roles where rolname = current_user`)
    expect(r.rows[0]).toEqual({ rolsuper: false, rolbypassrls: false, owner: false, app: true })
  })

  it("returns only A's rows from every table and the view", async () => {
    for (const role of ['member', 'infra_admin', 'service'] as const) {
      await as(app, claims(role), async () => {
        for (const table of TABLES) {
          const r = await app.query(`select distinct infrastructure_id from ${table}`)
          const expected = table === 'messaging_audit_log' && role === 'member' ? [] : [A.infra]
          expect(
            r.rows.map((x) => x.infrastructure_id),
            `${role} on ${table}`,
          ).toEqual(expected)
        }
      })
    }
    // The superuser sees both tenants: the seed is there, the policies hide it.
    expect(await count(admin, 'messaging_outbox')).toBe(6)
  })

  it("reads none of B's rows by id, and changes none of them", async () => {
    await as(app, claims('service'), async () => {
      expect((await app.query('select * from messaging_outbox where id = $1', [ids.bPending])).rowCount).toBe(
        0,
      )
      expect((await app.query('select * from messaging_channels where id = $1', [B.channel])).rowCount).toBe(
        0,
      )
      const acked = await app.query(
        `update messaging_outbox set status = 'processed', lease_token = null, leased_until = null, settled_at = now()
          where id = $1 and lease_token = $2 returning id`,
        [ids.bHeld, ids.bHeldToken],
      )
      expect(acked.rowCount).toBe(0)
    })
    await as(app, claims('infra_admin'), async () => {
      const renamed = await app.query(
        "update messaging_channels set name = 'pwned' where infrastructure_id = $1 returning id",
        [B.infra],
      )
      expect(renamed.rowCount).toBe(0)
      const optedIn = await app.query(
        'update messaging_channel_members set opted_in = true where user_id = $1 returning 1',
        [B.user],
      )
      expect(optedIn.rowCount).toBe(0)
      expect(
        (await app.query('delete from messaging_channel_members where user_id = $1 returning 1', [B.user]))
          .rowCount,
      ).toBe(0)
    })
    const b = await admin.query('select name from messaging_channels where id = $1', [B.channel])
    expect(b.rows).toEqual([{ name: 'Alerts' }])
  })

  it("refuses rows written with B's infrastructure_id, and moving a row to B", async () => {
    await as(app, claims('infra_admin'), async () => {
      expect(
        await refusal(
          app,
          `insert into messaging_channels (infrastructure_id, id, channel_key, type, name, created_by, created_at, updated_at)
           values ($1, $2, 'intruder', 'in_app', 'x', $3, now(), now())`,
          [B.infra, uuid(), A.user],
        ),
      ).toBe('42501')
      expect(
        await refusal(
          app,
          `insert into messaging_channel_members (infrastructure_id, channel_id, user_id, added_by, created_at, updated_at)
           values ($1, $2, $3, $3, now(), now())`,
          [B.infra, B.channel, A.user],
        ),
      ).toBe('42501')
      expect(
        await refusal(
          app,
          `insert into messaging_outbox (infrastructure_id, id, channel_id, payload, max_attempts, created_by, created_at, available_at)
           values ($1, $2, $3, '{}', 3, $4, now(), now())`,
          [B.infra, uuid(), B.channel, A.user],
        ),
      ).toBe('42501')
      // The tenant columns are not updatable at all (column privileges), so no row moves.
      expect(await refusal(app, 'update messaging_channels set infrastructure_id = $1', [B.infra])).toBe(
        '42501',
      )
      expect(await refusal(app, 'update messaging_outbox set infrastructure_id = $1', [B.infra])).toBe(
        '42501',
      )
      expect(await refusal(app, 'update messaging_outbox set business_id = $1', [A.bizB])).toBe('42501')
      expect(
        await refusal(app, 'update messaging_channel_members set infrastructure_id = $1', [B.infra]),
      ).toBe('42501')
    })
  })

  it("never links A's member to B's channel: the composite foreign key has no such row", async () => {
    await as(app, claims('infra_admin'), async () => {
      expect(
        await refusal(
          app,
          `insert into messaging_channel_members (infrastructure_id, channel_id, user_id, added_by, created_at, updated_at)
           values ($1, $2, $3, $3, now(), now())`,
          [A.infra, B.channel, uuid()],
        ),
      ).toBe('23503')
      expect(
        await refusal(
          app,
          `insert into messaging_outbox (infrastructure_id, id, channel_id, payload, max_attempts, created_by, created_at, available_at)
           values ($1, $2, $3, '{}', 3, $4, now(), now())`,
          [A.infra, uuid(), B.channel, A.user],
        ),
      ).toBe('23503')
    })
  })

  it('refuses a member creating a channel, and a member or admin acking', async () => {
    await as(app, claims('member'), async () => {
      expect(
        await refusal(
          app,
          `insert into messaging_channels (infrastructure_id, id, channel_key, type, name, created_by, created_at, updated_at)
           values ($1, $2, 'mine', 'in_app', 'x', $3, now(), now())`,
          [A.infra, uuid(), A.user],
        ),
      ).toBe('42501')
    })
    for (const role of ['member', 'infra_admin'] as const) {
      await as(app, claims(role), async () => {
        const acked = await app.query(
          `update messaging_outbox set status = 'processed', lease_token = null, leased_until = null, settled_at = now()
            where id = $1 and lease_token = $2 returning id`,
          [ids.aHeld, ids.aHeldToken],
        )
        expect(acked.rowCount, role).toBe(0)
      })
    }
    await as(app, claims('service'), async () => {
      const acked = await app.query(
        `update messaging_outbox set status = 'processed', lease_token = null, leased_until = null, settled_at = now()
          where id = $1 and lease_token = $2 returning id`,
        [ids.aHeld, ids.aHeldToken],
      )
      expect(acked.rowCount).toBe(1) // the bystander check: the service role of A may
    })
  })

  it('refuses forging delivery state on insert', async () => {
    await as(app, claims('service'), async () => {
      expect(
        await refusal(
          app,
          `insert into messaging_outbox (infrastructure_id, id, channel_id, payload, max_attempts, created_by, created_at, available_at, status, settled_at)
           values ($1, $2, $3, '{}', 3, $4, now(), now(), 'processed', now())`,
          [A.infra, uuid(), A.channel, A.user],
        ),
      ).toBe('42501')
    })
  })

  it('refuses updating a payload, deleting or truncating outbox and audit rows', async () => {
    await as(app, claims('service'), async () => {
      for (const col of ['payload', 'recipients', 'channel_id', 'idempotency_key', 'created_by']) {
        expect(await refusal(app, `update messaging_outbox set ${col} = ${col}`), col).toBe('42501')
      }
      expect(await refusal(app, 'delete from messaging_outbox')).toBe('42501')
      expect(await refusal(app, 'delete from messaging_audit_log')).toBe('42501')
      expect(await refusal(app, 'update messaging_audit_log set action = $1', ['x'])).toBe('42501')
      expect(await refusal(app, 'truncate messaging_outbox')).toBe('42501')
      expect(await refusal(app, 'truncate messaging_audit_log')).toBe('42501')
    })
    // TRUNCATE ignores RLS and privileges do not bind the owner: the trigger refuses it anyway.
    await as(admin, null, async () => {
      expect(await refusal(admin, 'truncate messaging_outbox')).toBe('42501')
      expect(await refusal(admin, 'truncate messaging_audit_log')).toBe('42501')
    })
    expect(await count(admin, 'messaging_outbox')).toBe(6)
    expect(await count(admin, 'messaging_audit_log')).toBeGreaterThanOrEqual(2)
  })

  it('lets FOR UPDATE SKIP LOCKED find rows only through the UPDATE policy (service role)', async () => {
    const lock =
      'select id from messaging_outbox where status = $1 order by available_at, id for update skip locked'
    await as(app, claims('service'), async () => {
      expect((await app.query(lock, ['pending'])).rows.map((r) => r.id).sort()).toEqual(
        [ids.aPending, ids.aBizA, ids.aBizB].sort(),
      )
    })
    await as(app, claims('member'), async () => {
      expect(
        (await app.query('select id from messaging_outbox where status = $1', ['pending'])).rowCount,
      ).toBe(3)
      expect((await app.query(lock, ['pending'])).rowCount).toBe(0)
    })
  })

  it('shows a business-scoped principal its business only, and the whole infrastructure to none', async () => {
    await as(app, claims('service', [[A.infra, A.bizA]]), async () => {
      expect((await app.query('select id from messaging_outbox')).rows.map((r) => r.id)).toEqual([ids.aBizA])
      expect(await count(app, 'messaging_channels')).toBe(1)
      expect(
        await refusal(
          app,
          `insert into messaging_outbox (infrastructure_id, id, channel_id, payload, max_attempts, created_by, created_at, available_at)
           values ($1, $2, $3, '{}', 3, $4, now(), now())`,
          [A.infra, uuid(), A.channel, A.user],
        ),
      ).toBe('42501')
    })
  })

  it('appends audit records naming the caller, in an infrastructure it reaches only; refusals elsewhere go to the security log', async () => {
    await as(app, claims('member'), async () => {
      const insert = `insert into messaging_audit_log (infrastructure_id, actor_id, id, actor_role, action, target_type, outcome, error_code, at)
                      values ($1, $2, $3, $4, 'outbox.enqueue', 'message', 'refused', 'FORBIDDEN_ROLE', now())`
      // Under the caller's own name and role, in its own infrastructure...
      expect(await refusal(app, insert, [A.infra, A.user, uuid(), 'member'])).toBe('no error')
      // ...never under someone else's, nor with a role it does not hold, nor in a tenant it
      // has no grant on (an outsider could fill any tenant's trail).
      expect(await refusal(app, insert, [A.infra, B.user, uuid(), 'member'])).toBe('42501')
      expect(await refusal(app, insert, [A.infra, A.user, uuid(), 'infra_admin'])).toBe('42501')
      expect(await refusal(app, insert, [B.infra, A.user, uuid(), 'member'])).toBe('42501')
      // The security log: the app role counts its own refusals through the function, and
      // neither reads nor writes the table itself.
      expect(await refusal(app, 'select count(*) from messaging_security_log', [])).toBe('42501')
      expect(
        await refusal(
          app,
          `insert into messaging_security_log (actor_id, actor_role, window_start, action, error_code, refusals, first_at, last_at, last_infrastructure_id)
           values ($1, 'member', now(), 'x', 'y', 1, now(), now(), $2)`,
          [B.user, B.infra],
        ),
      ).toBe('42501')
    })
    // Committed, so the owner sees it.
    await app.query('begin')
    await app.query("select set_config('messaging.claims', $1, true)", [claims('member')])
    await app.query(`select messaging_record_refusal('channel.create', 'TENANT_SCOPE_VIOLATION', $1, null)`, [
      B.infra,
    ])
    await app.query('commit')
    await as(admin, null, async () => {
      const { rows } = await admin.query(
        'select actor_id, actor_role, action, error_code, refusals::int, last_infrastructure_id from messaging_security_log',
      )
      expect(rows).toEqual([
        {
          actor_id: A.user,
          actor_role: 'member',
          action: 'channel.create',
          error_code: 'TENANT_SCOPE_VIOLATION',
          refusals: 1,
          last_infrastructure_id: B.infra,
        },
      ])
    })
  })

  it('makes the idempotency key unique per (infrastructure, business), a null business included', async () => {
    await as(app, claims('member'), async () => {
      const insert = `insert into messaging_outbox (infrastructure_id, id, business_id, channel_id, payload, max_attempts, created_by, created_at, available_at, idempotency_key)
                      values ($1, $2, $3, $4, '{}', 3, $5, now(), now(), 'k1')`
      expect(await refusal(app, insert, [A.infra, uuid(), null, A.channel, A.user])).toBe('no error')
      expect(await refusal(app, insert, [A.infra, uuid(), null, A.channel, A.user])).toBe('23505')
      expect(await refusal(app, insert, [A.infra, uuid(), A.bizA, A.channel, A.user])).toBe('no error')
    })
  })

  it('refuses an illegal delivery transition whoever writes it (SQLSTATE MSG01)', async () => {
    await as(admin, null, async () => {
      await admin.query(
        "update messaging_outbox set status = 'processed', lease_token = null, leased_until = null where id = $1",
        [ids.aHeld],
      )
      expect(
        await refusal(
          admin,
          "update messaging_outbox set status = 'processing', lease_token = $2, leased_until = now() where id = $1",
          [ids.aHeld, uuid()],
        ),
      ).toBe('MSG01')
    })
  })
})

describe('claims that fail closed', () => {
  const malformed = [
    'not json',
    '[]',
    '"a string"',
    '{}',
    JSON.stringify({ sub: A.user, role: 'member' }),
    JSON.stringify({
      sub: A.user,
      role: 'root',
      grants: [{ infrastructure_id: A.infra, business_id: null }],
    }),
    JSON.stringify({
      sub: 'not-a-uuid',
      role: 'member',
      grants: [{ infrastructure_id: A.infra, business_id: null }],
    }),
    JSON.stringify({ sub: A.user, role: 'member', grants: { infrastructure_id: A.infra } }),
    JSON.stringify({
      sub: A.user,
      role: 'member',
      grants: [{ infrastructure_id: 'nope', business_id: null }],
    }),
    JSON.stringify({
      sub: A.user,
      role: 'member',
      grants: [{ infrastructure_id: A.infra, business_id: 42 }],
    }),
    JSON.stringify({ sub: A.user, role: 'member', grants: [A.infra] }),
  ]

  it('shows nothing with no claims, empty claims or malformed claims, and raises no error', async () => {
    for (const c of [null, '', ...malformed]) {
      await as(app, c, async () => {
        for (const table of TABLES) expect(await count(app, table), `${c} on ${table}`).toBe(0)
      })
    }
  })

  it("shows nothing once the transaction that set the claims has ended (the setting reads '')", async () => {
    await app.query('begin')
    await app.query("select set_config('messaging.claims', $1, true)", [claims('infra_admin')])
    expect(await count(app, 'messaging_outbox')).toBe(4)
    await app.query('commit')
    expect((await app.query("select current_setting('messaging.claims', true) as v")).rows[0].v).toBe('')
    for (const table of TABLES) expect(await count(app, table)).toBe(0)
  })
})

describe('the fleet worker role', () => {
  it("reads every tenant's rows and changes only delivery state", async () => {
    await as(worker, null, async () => {
      expect(await count(worker, 'messaging_outbox')).toBe(6)
      expect(await count(worker, 'messaging_channels')).toBe(2)
      expect(await count(worker, 'messaging_channel_memberships')).toBe(2)
      const renewed = await worker.query(
        "update messaging_outbox set leased_until = leased_until + interval '1 minute' where id = $1 returning id",
        [ids.bHeld],
      )
      expect(renewed.rowCount).toBe(1)
      expect(await refusal(worker, 'update messaging_outbox set payload = payload')).toBe('42501')
      expect(await refusal(worker, 'delete from messaging_outbox')).toBe('42501')
      expect(
        await refusal(
          worker,
          `insert into messaging_outbox (infrastructure_id, id, channel_id, payload, max_attempts, created_by, created_at, available_at)
           values ($1, $2, $3, '{}', 3, $4, now(), now())`,
          [A.infra, uuid(), A.channel, A.user],
        ),
      ).toBe('42501')
      expect(await refusal(worker, "update messaging_channels set name = 'x'")).toBe('42501')
      // The audit trail is read through a tenant's claims, not by the fleet.
      expect(await refusal(worker, 'select * from messaging_audit_log')).toBe('42501')
    })
  })
})
