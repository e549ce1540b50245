import { type CompiledQuery, Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPostgresStorage, type PostgresStorage } from '../../src/adapters/postgres/index.js'
import { claimsOf } from '../../src/adapters/postgres/postgres-storage.js'
import { at, scopeOf, tenant, uuid } from '../support/fixtures.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'

/**
 * The template reads a notify and a delivery make (the current version of a key, the
 * current versions of a category, a version by id, a history page) on a table holding
 * 300,000 versions of 2,000 other tenants: each walks the unique key's index (or the
 * primary key), never the table, and the newest version comes without a sort.
 */
const OTHER_TENANTS = 2000
const KEYS_PER_TENANT = 30 // 3 categories x 2 channel types x 5 locales
const VERSIONS_PER_KEY = 5

let db: TestDatabase
let admin: pg.Client
let storage: PostgresStorage
const captured: CompiledQuery[] = []
const t = tenant()
const author = scopeOf('infra_admin', [[t.infra, null]])
const key = { infrastructureId: t.infra, categoryKey: 'cat-1', channelType: 'email', locale: 'de' } as const

interface PlanNode {
  'Node Type': string
  'Relation Name'?: string
  'Index Name'?: string
  'Scan Direction'?: string
  Plans?: PlanNode[]
}
const nodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)]

async function planOf(q: { sql: string; parameters: readonly unknown[] }): Promise<PlanNode[]> {
  const c = new pg.Client({ connectionString: db.appUrl })
  await c.connect()
  try {
    await c.query('begin')
    await c.query("select set_config('messaging.claims', $1, true)", [claimsOf(author)])
    const r = await c.query(`explain (format json) ${q.sql}`, q.parameters as unknown[])
    await c.query('rollback')
    return nodes((r.rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode }>)[0]!.Plan)
  } finally {
    await c.end()
  }
}

async function statementOf(work: () => Promise<unknown>): Promise<CompiledQuery> {
  captured.length = 0
  await work()
  const q = captured.find((c) => /from "messaging_templates"/.test(c.sql))
  if (!q) throw new Error(`no template statement: ${captured.map((c) => c.sql).join('\n')}`)
  return q
}

const templateScans = (plan: PlanNode[]) => plan.filter((n) => n['Relation Name'] === 'messaging_templates')

beforeAll(async () => {
  db = await createTestDatabase('plan_templates')
  admin = new pg.Client({ connectionString: db.adminUrl })
  await admin.connect()
  // The other tenants' versions, generated in one statement as the owner.
  await admin.query(`
    insert into messaging_templates (infrastructure_id, id, category_key, channel_type, locale, version, content, created_by, created_at)
    select ('00000000-0000-4000-8000-' || lpad(to_hex(tn), 12, '0'))::uuid, gen_random_uuid(),
           'cat-' || (k % 3), (array['email', 'sms'])[k % 2 + 1], (array['en', 'de', 'fr', 'it', 'es'])[k % 5 + 1],
           v, '{"subject":"s","text":"t"}', gen_random_uuid(), now()
      from generate_series(1, ${OTHER_TENANTS}) tn,
           generate_series(0, ${KEYS_PER_TENANT - 1}) k,
           generate_series(1, ${VERSIONS_PER_KEY}) v`)
  await admin.query('analyze messaging_templates')
  const kysely = new Kysely({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: db.appUrl, max: 2 }) }),
    log: (e) => {
      if (e.level === 'query') captured.push(e.query)
    },
  })
  storage = await createPostgresStorage({ db: kysely })
  for (let v = 1; v <= 3; v++) {
    await storage.unitOfWork.run(author, (r) =>
      r.templates.append(author, {
        id: uuid(),
        ...key,
        version: v,
        content: { subject: `v${v}`, text: 't' },
        createdBy: author.userId,
        createdAt: at(v),
      }),
    )
  }
}, 180_000)

afterAll(async () => {
  await storage?.db.destroy()
  await admin?.end()
  await db?.drop()
})

describe(`template reads among ${(OTHER_TENANTS * KEYS_PER_TENANT * VERSIONS_PER_KEY).toLocaleString('en')} versions of other tenants`, () => {
  it('reads the current version of a key by a backward walk of the unique index, without a sort', async () => {
    const current = await storage.unitOfWork.run(author, (r) => r.templates.findCurrent(author, key))
    expect(current?.version).toBe(3)
    const plan = await planOf(
      await statementOf(() => storage.unitOfWork.run(author, (r) => r.templates.findCurrent(author, key))),
    )
    const scans = templateScans(plan)
    expect(scans.map((s) => [s['Node Type'], s['Index Name'], s['Scan Direction']])).toEqual([
      ['Index Scan', 'messaging_templates_version_unique', 'Backward'],
    ])
    expect(plan.map((n) => n['Node Type'])).not.toContain('Sort')
  })

  it("reads a category's current versions, a version by id and a page of history through indexes", async () => {
    const works: Array<() => Promise<unknown>> = [
      () =>
        storage.unitOfWork.run(author, (r) =>
          r.templates.listCurrent(author, { infrastructureId: t.infra, categoryKey: 'cat-1' }),
        ),
      () => storage.unitOfWork.run(author, (r) => r.templates.findById(author, t.infra, uuid())),
      () =>
        storage.unitOfWork.run(author, (r) => r.templates.listVersions(author, key, { limit: 2, before: 3 })),
    ]
    for (const work of works) {
      const plan = await planOf(await statementOf(work))
      const scans = templateScans(plan)
      expect(scans.length).toBeGreaterThan(0)
      for (const s of scans) expect(s['Node Type']).toMatch(/^Index (Only )?Scan$/)
    }
    const list = await storage.unitOfWork.run(author, (r) =>
      r.templates.listCurrent(author, { infrastructureId: t.infra, categoryKey: 'cat-1' }),
    )
    expect(list.map((v) => v.version)).toEqual([3])
  })
})
