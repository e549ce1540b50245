import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { StorageError } from '../../domain/errors.js'

/**
 * The `sql/` folder shipped with the package, next to `src/` and `dist/`: the nearest one
 * above this module, which sits three levels down in a checkout (src/adapters/postgres) and
 * four in a build (dist/esm/adapters/postgres, dist/cjs/...).
 */
export const SQL_DIRECTORY = findSqlDirectory(dirname(fileURLToPath(import.meta.url)))

function findSqlDirectory(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'sql')
    if (existsSync(join(candidate, '0001_roles.sql'))) return `${candidate}/`
    if (dirname(dir) === dir) return fileURLToPath(new URL('../../../sql/', import.meta.url))
  }
}

/** Any number, as long as every migrator of the module uses the same: "mesg". */
const MIGRATION_LOCK = 0x6d657367

export interface MigrateOptions {
  /** The owner's connection: migrations create tables, roles' grants and policies. */
  readonly connectionString?: string
  readonly pool?: pg.Pool
  readonly client?: pg.Client | pg.PoolClient
  /** Where the `NNNN_*.sql` files are. Default: the package's `sql/`. */
  readonly directory?: string
}

export interface MigrationFile {
  readonly name: string
  readonly sql: string
  readonly checksum: string
}

/** The migration files in lexical order, the order psql applies them in. */
export async function readMigrations(directory: string = SQL_DIRECTORY): Promise<MigrationFile[]> {
  const names = (await readdir(directory)).filter((n) => /^\d{4}_[\w-]+\.sql$/.test(n)).sort()
  return Promise.all(
    names.map(async (name) => {
      const text = await readFile(`${directory.replace(/\/$/, '')}/${name}`, 'utf8')
      return { name, sql: text, checksum: createHash('sha256').update(text).digest('hex') }
    }),
  )
}

/**
 * Applies the `sql/` files not applied yet, in order, each in its own transaction together
 * with its row in `messaging_migrations`. A session advisory lock makes concurrent runs
 * (several processes starting at once) take turns: the second finds everything applied and
 * changes nothing. A file changed after it was applied is refused, not re-run.
 *
 * Run it as the tables' owner (or a superuser), not as the application's role.
 *
 * @example
 * const { applied } = await migrate({ connectionString: process.env.OWNER_DATABASE_URL })
 */
export async function migrate(options: MigrateOptions): Promise<{ applied: string[] }> {
  const files = await readMigrations(options.directory)
  let pool: pg.Pool | undefined
  let client: pg.Client | pg.PoolClient
  let release: () => Promise<void>
  if (options.client) {
    client = options.client
    release = async () => undefined
  } else {
    if (!options.pool) pool = new pg.Pool({ connectionString: options.connectionString, max: 1 })
    const c = await (options.pool ?? pool)!.connect()
    client = c
    release = async () => {
      c.release()
      await pool?.end()
    }
  }
  const applied: string[] = []
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK])
    try {
      await client.query(`create table if not exists messaging_migrations (
        name text primary key,
        checksum text not null,
        applied_at timestamptz not null default now())`)
      await client.query('revoke all on messaging_migrations from public')
      const done = new Map(
        (
          await client.query<{ name: string; checksum: string }>(
            'select name, checksum from messaging_migrations',
          )
        ).rows.map((r) => [r.name, r.checksum]),
      )
      for (const file of files) {
        const seen = done.get(file.name)
        if (seen !== undefined) {
          if (seen !== file.checksum) {
            throw new StorageError(
              `migration ${file.name} changed after it was applied; add a new file instead`,
            )
          }
          continue
        }
        await client.query('begin')
        try {
          // Simple-protocol query: the file's statements run as psql would run them.
          await client.query(file.sql)
          await client.query('insert into messaging_migrations (name, checksum) values ($1, $2)', [
            file.name,
            file.checksum,
          ])
          await client.query('commit')
        } catch (e) {
          await client.query('rollback').catch(() => undefined)
          throw e
        }
        applied.push(file.name)
      }
    } finally {
      await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined)
    }
  } finally {
    await release()
  }
  return { applied }
}
