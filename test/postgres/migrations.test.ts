import { execFile } from 'node:child_process'
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { migrate, readMigrations, SQL_DIRECTORY } from '../../src/adapters/postgres/index.js'
import { StorageError } from '../../src/index.js'
import { createTestDatabase, providedPostgres, type TestDatabase } from '../support/postgres.js'

const run = promisify(execFile)
const databases: TestDatabase[] = []
afterAll(async () => {
  for (const d of databases) await d.drop()
})

async function emptyDatabase(label: string): Promise<TestDatabase> {
  const d = await createTestDatabase(label, { empty: true })
  databases.push(d)
  return d
}

/** Everything the sql/ files define, as sorted text: columns, indexes, policies, triggers, functions, RLS flags, grants. */
async function catalog(url: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    const r = await c.query<{ line: string }>(`
      select 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
             || ' ' || coalesce(column_default, '') || ' ' || coalesce(collation_name, '') as line
        from information_schema.columns where table_name like 'messaging\\_%' and table_name <> 'messaging_migrations'
      union all
      select 'index ' || indexdef from pg_indexes where tablename like 'messaging\\_%' and tablename <> 'messaging_migrations'
      union all
      select 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
        from pg_constraint where conrelid::regclass::text like 'messaging\\_%' and conrelid::regclass::text <> 'messaging_migrations'
      union all
      select 'policy ' || tablename || ' ' || policyname || ' ' || cmd::text || ' ' || roles::text || ' '
             || coalesce(qual, '') || ' ' || coalesce(with_check, '') from pg_policies
      union all
      select 'trigger ' || tgrelid::regclass::text || ' ' || tgname from pg_trigger where not tgisinternal
      union all
      select 'function ' || p.oid::regprocedure::text || ' ' || l.lanname || ' ' || p.provolatile::text || ' ' || p.prosecdef::text
        from pg_proc p join pg_language l on l.oid = p.prolang
       where p.pronamespace = 'public'::regnamespace
      union all
      select 'relation ' || relname || ' ' || relkind::text || ' rls=' || relrowsecurity::text || ' force=' || relforcerowsecurity::text
             || ' acl=' || coalesce(relacl::text, '') || ' options=' || coalesce(reloptions::text, '')
        from pg_class where relname like 'messaging\\_%' and relname not like 'messaging\\_migrations%'
                        and relnamespace = 'public'::regnamespace
      order by 1`)
    return r.rows.map((x) => x.line)
  } finally {
    await c.end()
  }
}

const psqlBinary = () => {
  const { bindir } = providedPostgres()
  return bindir ? join(bindir, 'psql') : 'psql'
}

describe('the sql/ files and the migrator', () => {
  it('apply with psql -f, in lexical order, onto an empty database, as a non-superuser owner', async () => {
    const d = await emptyDatabase('psql')
    const files = await readMigrations()
    expect(files.map((f) => f.name)).toEqual([...files.map((f) => f.name)].sort())
    expect(files.length).toBeGreaterThanOrEqual(5)
    const args = ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', d.ownerUrl]
    for (const f of files) args.push('-f', join(SQL_DIRECTORY, f.name))
    await run(psqlBinary(), args)
    const viaMigrator = await emptyDatabase('via_migrator')
    expect((await migrate({ connectionString: viaMigrator.ownerUrl })).applied).toEqual(
      files.map((f) => f.name),
    )
    const a = await catalog(d.ownerUrl)
    expect(a.length).toBeGreaterThan(80)
    expect(a).toEqual(await catalog(viaMigrator.ownerUrl))
    expect(a).toContain(
      'relation messaging_outbox r rls=true force=true acl={messaging_test_owner=arwdDxt/messaging_test_owner,messaging_app=ar/messaging_test_owner,messaging_worker=r/messaging_test_owner} options={fillfactor=85}',
    )
    expect(a).toContain(
      'relation messaging_channel_memberships v rls=false force=false acl={messaging_test_owner=arwdDxt/messaging_test_owner,messaging_app=r/messaging_test_owner,messaging_worker=r/messaging_test_owner} options={security_invoker=true}',
    )
  })

  it('changes nothing when run twice', async () => {
    const d = await emptyDatabase('twice')
    const first = await migrate({ connectionString: d.ownerUrl })
    expect(first.applied.length).toBeGreaterThanOrEqual(5)
    const before = await catalog(d.ownerUrl)
    expect(await migrate({ connectionString: d.ownerUrl })).toEqual({ applied: [] })
    expect(await catalog(d.ownerUrl)).toEqual(before)
  })

  it('applies each file once when two processes migrate at the same moment', async () => {
    const d = await emptyDatabase('concurrent')
    const script = join(import.meta.dirname, 'migrate-process.ts')
    const both = await Promise.all(
      [1, 2].map(() =>
        run(process.execPath, ['--import', 'tsx', script, d.ownerUrl], { cwd: process.cwd() }),
      ),
    )
    const applied = both.map((r) => JSON.parse(r.stdout) as string[])
    const names = (await readMigrations()).map((f) => f.name)
    // One of them did everything; the other waited on the advisory lock and found nothing to do.
    expect(applied.flat().sort()).toEqual(names)
    expect(applied.map((a) => a.length).sort((x, y) => x - y)).toEqual([0, names.length])
    const c = new pg.Client({ connectionString: d.ownerUrl })
    await c.connect()
    const rows = await c.query('select name from messaging_migrations order by name')
    await c.end()
    expect(rows.rows.map((r) => r.name)).toEqual(names)
  })

  it('refuses a file that changed after it was applied', async () => {
    const d = await emptyDatabase('changed')
    await migrate({ connectionString: d.ownerUrl })
    const dir = mkdtempSync(join(tmpdir(), 'messaging-sql-'))
    try {
      cpSync(SQL_DIRECTORY, dir, { recursive: true })
      writeFileSync(join(dir, '0003_tables.sql'), '-- edited after release\n', { flag: 'a' })
      await expect(migrate({ connectionString: d.ownerUrl, directory: dir })).rejects.toBeInstanceOf(
        StorageError,
      )
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
