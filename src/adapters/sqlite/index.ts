/**
 * `messaging/sqlite`: the embedded SQLite store (better-sqlite3 + kysely), the default when
 * no storage is configured. See docs/sqlite.md.
 */
export { SQLITE_MIGRATIONS, type SqliteMigration } from './sqlite-migrations.js'
export { migrateSqlite } from './sqlite-migrator.js'
export { createSqliteStorage, type SqliteStorage, type SqliteStorageOptions } from './sqlite-storage.js'
