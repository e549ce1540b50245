/**
 * The PostgreSQL adapter: `createPostgresStorage` for the application's role, `migrate`
 * for the owner. The SQL contract (tables, roles, claims, policies) is in `sql/` and
 * documented in docs/sql.md.
 */
export { classify, sqlState } from './errors.js'
export {
  createPostgresEventFeed,
  EVENT_FEED_APPLICATION_NAME,
  EVENTS_CHANNEL,
  type PostgresEventFeed,
} from './event-feed.js'
export {
  createPostgresInboxFeed,
  INBOX_CHANNEL,
  INBOX_FEED_APPLICATION_NAME,
  type PostgresInboxFeed,
} from './inbox-feed.js'
export {
  type MigrateOptions,
  type MigrationFile,
  migrate,
  readMigrations,
  SQL_DIRECTORY,
} from './migrator.js'
export {
  checkRole,
  claimsOf,
  createPostgresStorage,
  type HostClient,
  type HostTransaction,
  type LoginRoles,
  type PostgresStorage,
  type PostgresStorageOptions,
} from './postgres-storage.js'
export type { MessagingDatabase } from './schema.js'
export {
  createPostgresWakeSignal,
  type PostgresWakeSignal,
  WAKE_APPLICATION_NAME,
  WAKE_CHANNEL,
} from './wake-signal.js'
