import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { createSqliteStorage, migrateSqlite, SQLITE_MIGRATIONS } from '../../src/adapters/sqlite/index.js'
import { scopeOf, uuid } from '../support/fixtures.js'

const dir = mkdtempSync(join(tmpdir(), 'messaging-sqlite-templates-schema-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const rawCode = (f: () => unknown) => {
  try {
    f()
  } catch (e) {
    return (e as { code?: string }).code
  }
  return 'no error'
}

const insertAudit =
  'insert into messaging_audit_log (infrastructure_id, id, actor_id, actor_role, action, target_type, outcome, at) values (?, ?, ?, ?, ?, ?, ?, ?)'
const insertTemplate =
  'insert into messaging_templates (infrastructure_id, id, category_key, channel_type, locale, version, content, created_by, created_at) values (?, ?, ?, ?, ?, ?, ?, ?, 0)'

describe('the sqlite schema of templates', () => {
  it('migrates a database of the previous version: only the templates migration runs, and what was there stays', async () => {
    const path = join(dir, 'upgrade.db')
    const db = new Database(path)
    const templates = SQLITE_MIGRATIONS.find((m) => m.name === 'templates')!
    migrateSqlite(
      db,
      SQLITE_MIGRATIONS.filter((m) => m.version < templates.version),
    )
    const infra = uuid()
    const actor = uuid()
    const ids = [uuid(), uuid(), uuid()]
    for (const [i, id] of ids.entries()) {
      db.prepare(insertAudit).run(infra, id, actor, 'infra_admin', `channel.step${i}`, 'channel', 'ok', 1000)
    }
    // The templates migration runs, and those after it; nothing before it runs again.
    expect(migrateSqlite(db)).toEqual(
      SQLITE_MIGRATIONS.filter((m) => m.version >= templates.version).map((m) => m.version),
    )
    db.close()

    const storage = createSqliteStorage({ path })
    const admin = scopeOf('infra_admin', [[infra, null]], actor)
    const trail = await storage.unitOfWork.run(admin, (r) =>
      r.audit.list(admin, { infrastructureId: infra, limit: 10 }),
    )
    expect(trail.map((e) => e.id)).toEqual([...ids].reverse())
    const saved = await storage.unitOfWork.run(admin, (r) =>
      r.templates.append(admin, {
        id: uuid(),
        infrastructureId: infra,
        categoryKey: 'invoice.paid',
        channelType: 'sms',
        locale: 'en',
        version: 1,
        content: { text: 'Paid' },
        createdBy: actor,
        createdAt: new Date(2000),
      }),
    )
    expect(await storage.unitOfWork.run(admin, (r) => r.templates.findById(admin, infra, saved.id))).toEqual(
      saved,
    )
    await storage.close()
  })

  it('keeps versions append-only and their keys in the formats of the PostgreSQL schema', () => {
    const db = new Database(':memory:')
    migrateSqlite(db)
    const infra = uuid()
    const row = (
      over: Partial<Record<'category' | 'type' | 'locale' | 'content', string>> & { version?: number } = {},
    ) => [
      infra,
      uuid(),
      over.category ?? 'invoice.paid',
      over.type ?? 'sms',
      over.locale ?? 'de-CH',
      over.version ?? 1,
      over.content ?? '{"text":"x"}',
      uuid(),
    ]
    expect(rawCode(() => db.prepare(insertTemplate).run(...row()))).toBe('no error')
    expect(rawCode(() => db.prepare(insertTemplate).run(...row()))).toBe('SQLITE_CONSTRAINT_UNIQUE')
    expect(rawCode(() => db.prepare(insertTemplate).run(...row({ version: 2 })))).toBe('no error')
    for (const bad of [
      row({ category: 'Invoice.Paid' }),
      row({ category: 'invoice..paid' }),
      row({ category: '.invoice' }),
      row({ type: 'fax' }),
      row({ locale: 'de_CH' }),
      row({ locale: '-de' }),
      row({ content: '[]' }),
      row({ content: 'not json' }),
      row({ version: 0 }),
    ]) {
      expect(
        rawCode(() => db.prepare(insertTemplate).run(...bad)),
        JSON.stringify(bad),
      ).toBe('SQLITE_CONSTRAINT_CHECK')
    }
    expect(rawCode(() => db.prepare('update messaging_templates set content = \'{"text":"y"}\'').run())).toBe(
      'SQLITE_CONSTRAINT_TRIGGER',
    )
    expect(rawCode(() => db.prepare('delete from messaging_templates').run())).toBe(
      'SQLITE_CONSTRAINT_TRIGGER',
    )
    expect(db.prepare('select count(*) as n from messaging_templates').get()).toEqual({ n: 2 })
    db.close()
  })
})
