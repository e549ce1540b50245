import { createRequire } from 'node:module'
import type BetterSqlite3 from 'better-sqlite3'
import {
  Kysely,
  type SqliteDatabase as KyselySqliteDatabase,
  SqliteDialect,
  type SqliteStatement,
  sql,
} from 'kysely'
import { StorageError } from '../../domain/errors.js'
import { minuteOf, QUEUE_HISTORY_KEEP_MS } from '../../domain/queue-history.js'
import type { SecurityEvent } from '../../domain/security-log.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import { type Clock, systemClock } from '../../ports/clock.js'
import { createLocalEventFeed } from '../../ports/event-feed.js'
import { type IdGenerator, randomIds } from '../../ports/id-generator.js'
import { createLocalInboxFeed } from '../../ports/inbox-feed.js'
import type { SecurityLogFilter } from '../../ports/security-log.js'
import type { MessagingStorage, PruneOptions, Repositories, UnitOfWork } from '../../ports/unit-of-work.js'
import { createLocalWakeSignal } from '../../ports/wake-signal.js'
import { cutOff } from '../shared/retention.js'
import { SqliteAuditLog } from './sqlite-audit-log.js'
import { SqliteBreakerRepository } from './sqlite-breaker-repository.js'
import { SqliteCategoryRepository } from './sqlite-category-repository.js'
import { SqliteChannelRepository } from './sqlite-channel-repository.js'
import { SqliteDigestRepository } from './sqlite-digest-repository.js'
import { toStorageError } from './sqlite-errors.js'
import { SqliteEventEndpointRepository } from './sqlite-event-endpoint-repository.js'
import { SqliteEventLog } from './sqlite-event-log.js'
import { SqliteInboxRepository } from './sqlite-inbox-repository.js'
import { SqliteMembershipRepository } from './sqlite-membership-repository.js'
import { migrateSqlite } from './sqlite-migrator.js'
import { SqliteNotificationRepository } from './sqlite-notification-repository.js'
import { SqliteOutboxRepository } from './sqlite-outbox-repository.js'
import { SqlitePreferenceRepository } from './sqlite-preference-repository.js'
import { SqliteProfileRepository } from './sqlite-profile-repository.js'
import { SqliteQueueHistoryRepository } from './sqlite-queue-history-repository.js'
import { SqliteQuietHoursRepository } from './sqlite-quiet-hours-repository.js'
import { SqliteRateBucketRepository } from './sqlite-rate-bucket-repository.js'
import { listSecurityEvents, SqliteSecurityLog } from './sqlite-security-log.js'
import type { SqliteDatabase } from './sqlite-tables.js'
import { SqliteTemplateRepository } from './sqlite-template-repository.js'
import { SqliteThrottleRepository } from './sqlite-throttle-repository.js'

export interface SqliteStorageOptions {
  /** A database file (created when missing), or `':memory:'` for a private in-memory database. */
  readonly path: string
  /** Mints lease tokens. */
  readonly ids?: IdGenerator
  /**
   * The store's clock: leases, due times, retry delays and retention are resolved against
   * it. Default: the process clock. Every process sharing the file runs on one host, so it
   * reads one system clock (docs/sqlite.md); tests hand in a clock they move by hand.
   */
  readonly clock?: Clock
  /**
   * How long a unit of work waits for another process's write lock before failing with a
   * StorageError (SQLite `busy_timeout`). better-sqlite3 is synchronous: the wait blocks
   * this thread, so keep units of work short. Default 5000.
   */
  readonly busyTimeoutMs?: number
  /** Runs the migrator on open (default true). */
  readonly migrate?: boolean
  /** Called with every statement the adapter runs, for logs and tests. Parameters may hold tenant data. */
  readonly onQuery?: (query: { readonly sql: string; readonly parameters: readonly unknown[] }) => void
}

/** Extra capabilities of the SQLite store, for tests and diagnostics. */
export interface SqliteStorage extends MessagingStorage {
  readonly name: 'sqlite'
  /** The SQLite journal mode in effect: `wal` for files, `memory` for `:memory:`. */
  journalMode(): string
  listSecurityEvents(filter: SecurityLogFilter): Promise<SecurityEvent[]>
  /** A copy of every table's rows (rowid order): what a test compares before and after. */
  dump(): Record<string, unknown[]>
}

const isMemoryPath = (path: string) => path === ':memory:' || path === ''

// Loaded on first use, so a host that passes its own storage never loads the native module.
const requireModule = createRequire(import.meta.url)

function openDatabase(options: SqliteStorageOptions): BetterSqlite3.Database {
  const Database = requireModule('better-sqlite3') as typeof BetterSqlite3
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000
  const db = new Database(options.path, { timeout: busyTimeoutMs })
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`)
    // WAL: readers never block the writer and a commit is one append. `:memory:` has no WAL.
    if (!isMemoryPath(options.path)) db.pragma('journal_mode = WAL')
    // Not persistent: every connection must switch it on, or composite foreign keys are ignored.
    db.pragma('foreign_keys = ON')
    if (options.migrate ?? true) migrateSqlite(db)
    return db
  } catch (e) {
    db.close()
    throw toStorageError(e, 'open')
  }
}

/**
 * One unit of work = one SQLite transaction, `BEGIN IMMEDIATE`: it takes the database's
 * single write lock up front, so a claim's select and its lease updates can never be
 * interleaved with another process's, and no transaction fails half-way upgrading a read
 * lock. Within the process, units run one at a time (kysely shares one connection, and
 * two transactions must never interleave on it).
 */
class SqliteUnitOfWork implements UnitOfWork {
  private tail: Promise<unknown> = Promise.resolve()
  closed = false

  constructor(
    private readonly db: Kysely<SqliteDatabase>,
    private readonly raw: BetterSqlite3.Database,
    private readonly ids: IdGenerator,
    private readonly clock: Clock,
  ) {}

  run<T>(_scope: TenantScope, work: (repos: Repositories) => Promise<T>): Promise<T> {
    return this.exclusive((conn) =>
      work({
        channels: new SqliteChannelRepository(conn),
        members: new SqliteMembershipRepository(conn),
        outbox: new SqliteOutboxRepository(conn, this.ids, this.clock),
        audit: new SqliteAuditLog(conn),
        events: new SqliteEventLog(conn, this.clock),
        eventEndpoints: new SqliteEventEndpointRepository(conn, this.clock),
        security: new SqliteSecurityLog(conn),
        inbox: new SqliteInboxRepository(conn),
        templates: new SqliteTemplateRepository(conn),
        profiles: new SqliteProfileRepository(conn),
        categories: new SqliteCategoryRepository(conn),
        preferences: new SqlitePreferenceRepository(conn),
        rateBuckets: new SqliteRateBucketRepository(conn, this.clock),
        throttles: new SqliteThrottleRepository(conn, this.clock),
        queueHistory: new SqliteQueueHistoryRepository(conn, this.clock),
        digests: new SqliteDigestRepository(conn, this.clock),
        time: { now: async () => this.clock.now() },
        quietHours: new SqliteQuietHoursRepository(conn),
        breakers: new SqliteBreakerRepository(conn, this.clock),
        notifications: new SqliteNotificationRepository(conn),
      }),
    )
  }

  /** Runs `work` as one write transaction, after every unit queued before it. */
  exclusive<T>(work: (conn: Kysely<SqliteDatabase>) => Promise<T>): Promise<T> {
    const result = this.tail.then(() => this.transaction(work))
    this.tail = result.catch(() => undefined)
    return result
  }

  /** Resolves once every unit queued so far has finished. */
  drain(): Promise<unknown> {
    return this.tail
  }

  private transaction<T>(work: (conn: Kysely<SqliteDatabase>) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new StorageError('sqlite storage is closed'))
    return this.db.connection().execute(async (conn) => {
      try {
        await sql`begin immediate`.execute(conn)
      } catch (e) {
        throw toStorageError(e, 'begin')
      }
      try {
        const out = await work(conn)
        await sql`commit`.execute(conn)
        return out
      } catch (e) {
        if (this.raw.inTransaction) await sql`rollback`.execute(conn)
        throw toStorageError(e, 'statement')
      }
    })
  }
}

/**
 * kysely prepares every statement anew; the adapter's statement texts are few and fixed
 * (grants travel as JSON parameters), so a small cache of prepared statements saves the
 * parse and plan of each: a claim-and-ack cycle on a WAL file went from 1.6 to 1.3 ms,
 * 2,000 single-message enqueues from 0.93 to 0.78 s.
 */
function cachingStatements(raw: BetterSqlite3.Database, size = 200): KyselySqliteDatabase {
  const cache = new Map<string, SqliteStatement>()
  return {
    close: () => raw.close(),
    prepare(text) {
      let stmt = cache.get(text)
      if (stmt) {
        cache.delete(text)
      } else {
        stmt = raw.prepare(text) as unknown as SqliteStatement
        if (cache.size >= size) cache.delete(cache.keys().next().value!)
      }
      cache.set(text, stmt)
      return stmt
    },
  }
}

/**
 * Retention, with the store owner's rights: removes settled messages (processed, failed,
 * dead, cancelled) settled before `olderThan`, their attempts first, at most `batchSize`. Every tenant:
 * this is maintenance, not a tenant's call, so its statements carry no tenant scope (they
 * say so). The gate row exists only inside this transaction; the append-only triggers let
 * deletes of settled rows through while it does.
 */
async function prune(db: Kysely<SqliteDatabase>, options: PruneOptions, now: Date): Promise<number> {
  const limit = Math.max(0, Math.floor(options.batchSize ?? 1000))
  const olderThan = cutOff(options.olderThan, now).getTime()
  const settled = sql`select ${sql.ref('infrastructure_id')}, ${sql.ref('id')} from ${sql.table('messaging_outbox')} where ${sql.ref('status')} in ('processed', 'failed', 'dead', 'cancelled', 'confirmed', 'bounced') and ${sql.ref('settled_at')} < ${olderThan} order by ${sql.ref('settled_at')}, ${sql.ref('infrastructure_id')}, ${sql.ref('id')} limit ${limit}`
  await sql`insert into ${sql.table('messaging_retention_gate')} (${sql.ref('id')}) values (1) ${RETENTION}`.execute(
    db,
  )
  await sql`delete from ${sql.table('messaging_delivery_attempts')} where (${sql.ref('infrastructure_id')}, ${sql.ref('message_id')}) in (${settled}) ${RETENTION}`.execute(
    db,
  )
  // A digest goes with its delivery message, which has its id.
  await sql`delete from ${sql.table('messaging_digests')} where (${sql.ref('infrastructure_id')}, ${sql.ref('id')}) in (${settled}) ${RETENTION}`.execute(
    db,
  )
  const removed =
    await sql`delete from ${sql.table('messaging_outbox')} where (${sql.ref('infrastructure_id')}, ${sql.ref('id')}) in (${settled}) ${RETENTION}`.execute(
      db,
    )
  await sql`delete from ${sql.table('messaging_queue_minutes')} where ${sql.ref('minute')} < ${minuteOf(now.getTime() - QUEUE_HISTORY_KEEP_MS)} ${RETENTION}`.execute(
    db,
  )
  await sql`delete from ${sql.table('messaging_retention_gate')} ${RETENTION}`.execute(db)
  return Number(removed.numAffectedRows ?? 0n)
}

/** Up to `batchSize` delivery events older than the cut-off, oldest first; returns how many went. */
async function pruneEvents(db: Kysely<SqliteDatabase>, options: PruneOptions, now: Date): Promise<number> {
  const limit = Math.max(0, Math.floor(options.batchSize ?? 1000))
  const olderThan = cutOff(options.olderThan, now).getTime()
  const events =
    await sql`delete from ${sql.table('messaging_events')} where ${sql.ref('seq')} in (select ${sql.ref('seq')} from ${sql.table('messaging_events')} where ${sql.ref('occurred_at')} < ${olderThan} order by ${sql.ref('seq')} limit ${limit}) ${RETENTION}`.execute(
      db,
    )
  return Number(events.numAffectedRows ?? 0n)
}

/** Marks the retention statements: the only ones that run without a tenant scope. */
const RETENTION = sql.raw('/* retention: store owner, every tenant */')

/**
 * The embedded store: the module's zero-setup default. Same tables, keys and rules as the
 * PostgreSQL schema; tenant scope is part of every statement the adapter writes (SQLite
 * has no row-level security), and claims are atomic across processes sharing the file.
 * Opening is synchronous: the schema is migrated before this returns.
 *
 * @example
 * import { createMessaging } from 'messaging'
 * import { createSqliteStorage } from 'messaging/sqlite'
 * const messaging = createMessaging({ storage: createSqliteStorage({ path: './messaging.db' }) })
 */
export function createSqliteStorage(options: SqliteStorageOptions): SqliteStorage {
  const raw = openDatabase(options)
  const onQuery = options.onQuery
  const db = new Kysely<SqliteDatabase>({
    dialect: new SqliteDialect({ database: cachingStatements(raw) }),
    ...(onQuery && {
      log: (event) => onQuery({ sql: event.query.sql, parameters: event.query.parameters }),
    }),
  })
  const clock = options.clock ?? systemClock
  const uow = new SqliteUnitOfWork(db, raw, options.ids ?? randomIds, clock)
  let closing: Promise<void> | undefined
  return {
    name: 'sqlite',
    persistent: !isMemoryPath(options.path),
    unitOfWork: uow,
    wakeSignal: createLocalWakeSignal(),
    inboxFeed: createLocalInboxFeed(),
    eventFeed: createLocalEventFeed(),
    journalMode: () => String(raw.pragma('journal_mode', { simple: true })),
    prune: async (options) => {
      const removed = await uow.exclusive((conn) => prune(conn, options, clock.now()))
      // Events in units of their own, a batch each, so no one transaction holds the file long.
      const batch = Math.max(1, Math.floor(options.batchSize ?? 1000))
      while ((await uow.exclusive((conn) => pruneEvents(conn, options, clock.now()))) >= batch) {}
      return removed
    },
    listSecurityEvents: (filter) => uow.exclusive((conn) => listSecurityEvents(conn, filter)),
    dump: () => {
      const tables = raw
        .prepare(
          "select name from sqlite_schema where type = 'table' and name not like 'sqlite_%' order by name",
        )
        .pluck()
        .all() as string[]
      return Object.fromEntries(
        tables.map((t) => [t, raw.prepare(`select * from "${t}" order by rowid`).all()]),
      )
    },
    close() {
      closing ??= (async () => {
        uow.closed = true
        await uow.drain()
        await db.destroy()
      })()
      return closing
    },
  }
}
