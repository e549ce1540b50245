import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { as, refusal } from '../support/rls.js'

/**
 * The template tables under raw SQL as a LOGIN role granted messaging_app, holding the
 * claims of tenant A: the database itself, not the adapter, keeps B's templates and
 * settings out of reach, lets only A's infra_admin append (under its own name), and lets
 * nobody change or remove a version.
 */
const uuid = () => randomUUID()
const A = { infra: uuid(), admin: uuid(), template: uuid() }
const B = { infra: uuid(), admin: uuid(), template: uuid() }
const TABLES = ['messaging_templates', 'messaging_template_settings'] as const

type Role = 'member' | 'infra_admin' | 'service'
const claims = (role: Role, infra = A.infra, sub = A.admin) =>
  JSON.stringify({ sub, role, grants: [{ infrastructure_id: infra, business_id: null }] })

let db: TestDatabase
let app: pg.Client
let worker: pg.Client
let admin: pg.Client

const insertTemplate = `insert into messaging_templates
  (infrastructure_id, id, category_key, channel_type, locale, version, content, created_by, created_at)
  values ($1, $2, 'invoice.paid', 'sms', $3, $4, '{"text":"hi"}', $5, now())`
const insertSettings = `insert into messaging_template_settings (infrastructure_id, default_locale, updated_by, updated_at)
  values ($1, 'de', $2, now())`

const count = async (client: pg.Client, table: string) =>
  Number((await client.query(`select count(*)::int as n from ${table}`)).rows[0].n)

beforeAll(async () => {
  db = await createTestDatabase('rls_templates')
  admin = new pg.Client({ connectionString: db.adminUrl })
  app = new pg.Client({ connectionString: db.appUrl })
  worker = new pg.Client({ connectionString: db.workerUrl })
  await Promise.all([admin.connect(), app.connect(), worker.connect()])
  // Seed both tenants as the superuser (which RLS does not bind).
  for (const t of [A, B]) {
    await admin.query(insertTemplate, [t.infra, t.template, 'en', 1, t.admin])
    await admin.query(insertSettings, [t.infra, t.admin])
  }
})

afterAll(async () => {
  await Promise.all([admin?.end(), app?.end(), worker?.end()])
  await db?.drop()
})

describe('templates under row-level security, as messaging_app with the claims of tenant A', () => {
  it("returns only A's rows from both tables, whatever the role", async () => {
    for (const role of ['member', 'infra_admin', 'service'] as const) {
      await as(app, claims(role), async () => {
        for (const table of TABLES) {
          const r = await app.query(`select distinct infrastructure_id from ${table}`)
          expect(
            r.rows.map((x) => x.infrastructure_id),
            `${role} on ${table}`,
          ).toEqual([A.infra])
        }
        expect(
          (await app.query('select id from messaging_templates where id = $1', [B.template])).rowCount,
        ).toBe(0)
      })
    }
    expect(await count(admin, 'messaging_templates')).toBe(2)
  })

  it('shows nothing without claims, with malformed claims, or once the transaction ended', async () => {
    for (const c of [null, '', 'not json', JSON.stringify({ sub: A.admin, role: 'root', grants: [] })]) {
      await as(app, c, async () => {
        for (const table of TABLES) expect(await count(app, table), `${c} on ${table}`).toBe(0)
      })
    }
  })

  it("appends for A's infra_admin under its own name, and for nobody else", async () => {
    await as(app, claims('infra_admin'), async () => {
      expect(await refusal(app, insertTemplate, [A.infra, uuid(), 'de', 1, A.admin])).toBe('no error')
      // Another tenant, another author, or a version the key already has.
      expect(await refusal(app, insertTemplate, [B.infra, uuid(), 'de', 1, A.admin])).toBe('42501')
      expect(await refusal(app, insertTemplate, [A.infra, uuid(), 'fr', 1, B.admin])).toBe('42501')
      expect(await refusal(app, insertTemplate, [A.infra, uuid(), 'en', 1, A.admin])).toBe('23505')
    })
    for (const role of ['member', 'service'] as const) {
      await as(app, claims(role), async () => {
        expect(await refusal(app, insertTemplate, [A.infra, uuid(), 'it', 1, A.admin]), role).toBe('42501')
      })
    }
  })

  it('lets nobody change, remove or truncate a version, the owner included for TRUNCATE', async () => {
    await as(app, claims('infra_admin'), async () => {
      expect(await refusal(app, `update messaging_templates set content = '{"text":"pwned"}'`)).toBe('42501')
      expect(await refusal(app, 'update messaging_templates set version = version + 1')).toBe('42501')
      expect(await refusal(app, 'update messaging_templates set infrastructure_id = $1', [B.infra])).toBe(
        '42501',
      )
      expect(await refusal(app, 'delete from messaging_templates')).toBe('42501')
      expect(await refusal(app, 'truncate messaging_templates')).toBe('42501')
      expect(await refusal(app, 'delete from messaging_template_settings')).toBe('42501')
    })
    await as(admin, null, async () => {
      expect(await refusal(admin, 'truncate messaging_templates')).toBe('42501')
    })
    const r = await admin.query('select content from messaging_templates where id = $1', [A.template])
    expect(r.rows).toEqual([{ content: { text: 'hi' } }])
  })

  it("changes A's settings for its infra_admin only, under its own name, and never B's", async () => {
    await as(app, claims('infra_admin'), async () => {
      const own = await app.query(
        "update messaging_template_settings set default_locale = 'fr', updated_by = $1 returning infrastructure_id",
        [A.admin],
      )
      expect(own.rows).toEqual([{ infrastructure_id: A.infra }])
      const theirs = await app.query(
        "update messaging_template_settings set default_locale = 'fr', updated_by = $1 where infrastructure_id = $2 returning 1",
        [A.admin, B.infra],
      )
      expect(theirs.rowCount).toBe(0)
      expect(
        await refusal(app, "update messaging_template_settings set default_locale = 'fr', updated_by = $1", [
          B.admin,
        ]),
      ).toBe('42501')
      expect(
        await refusal(app, 'update messaging_template_settings set infrastructure_id = $1', [B.infra]),
      ).toBe('42501')
      expect(await refusal(app, insertSettings, [B.infra, A.admin])).toBe('42501')
    })
    await as(app, claims('member'), async () => {
      const r = await app.query(
        "update messaging_template_settings set default_locale = 'fr', updated_by = $1 returning 1",
        [A.admin],
      )
      expect(r.rowCount).toBe(0)
      expect(await refusal(app, insertSettings, [A.infra, A.admin])).toBe('42501')
    })
    const b = await admin.query(
      'select default_locale from messaging_template_settings where infrastructure_id = $1',
      [B.infra],
    )
    expect(b.rows).toEqual([{ default_locale: 'de' }])
  })
})

describe('templates and the fleet worker role', () => {
  it("reads every tenant's templates and settings, and writes neither", async () => {
    await as(worker, null, async () => {
      expect(await count(worker, 'messaging_templates')).toBe(2)
      expect(await count(worker, 'messaging_template_settings')).toBe(2)
      expect(await refusal(worker, insertTemplate, [A.infra, uuid(), 'nl', 1, A.admin])).toBe('42501')
      expect(await refusal(worker, `update messaging_templates set content = '{}'`)).toBe('42501')
      expect(await refusal(worker, "update messaging_template_settings set default_locale = 'x'")).toBe(
        '42501',
      )
      expect(await refusal(worker, 'delete from messaging_templates')).toBe('42501')
    })
  })
})
