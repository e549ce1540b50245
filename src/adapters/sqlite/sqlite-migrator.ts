import { createHash } from 'node:crypto'
import type { Database } from 'better-sqlite3'
import { StorageError } from '../../domain/errors.js'
import { SQLITE_MIGRATIONS, type SqliteMigration } from './sqlite-migrations.js'

export const MIGRATIONS_TABLE = 'messaging_migrations'

const checksum = (m: SqliteMigration) => createHash('sha256').update(m.sql).digest('hex')

/**
 * Brings the schema up to date: every migration not yet recorded is applied, once, in one
 * `BEGIN IMMEDIATE` transaction. The write lock is taken before the applied versions are
 * read, so two processes opening one file at once serialise here (the second waits for
 * the busy timeout, then finds everything applied); a failure leaves the file untouched.
 * Refuses a database migrated by a newer version of the module, or one whose applied
 * migration text differs from this version's.
 *
 * @returns the versions this call applied (empty when the schema was current).
 */
export function migrateSqlite(
  db: Database,
  migrations: readonly SqliteMigration[] = SQLITE_MIGRATIONS,
): number[] {
  const applied: number[] = []
  db.exec('BEGIN IMMEDIATE')
  try {
    db.exec(`CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (
      version    INTEGER PRIMARY KEY,
      name       TEXT NOT NULL,
      checksum   TEXT NOT NULL,
      applied_at INTEGER NOT NULL
    ) STRICT`)
    const rows = db.prepare(`SELECT version, checksum FROM ${MIGRATIONS_TABLE}`).all() as Array<{
      version: number
      checksum: string
    }>
    const done = new Map(rows.map((r) => [r.version, r.checksum]))
    const known = new Map(migrations.map((m) => [m.version, m]))
    for (const [version, sum] of done) {
      const m = known.get(version)
      if (!m) throw new StorageError(`sqlite schema version ${version} is newer than this module knows`)
      if (checksum(m) !== sum)
        throw new StorageError(`sqlite migration ${version} differs from the applied one`)
    }
    const record = db.prepare(
      `INSERT INTO ${MIGRATIONS_TABLE} (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)`,
    )
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue
      db.exec(m.sql)
      record.run(m.version, m.name, checksum(m), Date.now())
      applied.push(m.version)
    }
    db.exec('COMMIT')
    return applied
  } catch (e) {
    if (db.inTransaction) db.exec('ROLLBACK')
    throw e
  }
}
