import { AsyncLocalStorage } from 'node:async_hooks'
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { StorageError } from '../../domain/errors.js'
import type { SecurityEvent } from '../../domain/security-log.js'
import { createLocalEventFeed, type EventFeed } from '../../ports/event-feed.js'
import { createLocalInboxFeed, type InboxFeed } from '../../ports/inbox-feed.js'
import type { SecurityLogFilter } from '../../ports/security-log.js'
import type { MessagingStorage, PruneOptions } from '../../ports/unit-of-work.js'
import { createLocalWakeSignal, type WakeSignal } from '../../ports/wake-signal.js'
import { classify, sqlState } from './errors.js'
import { createPostgresEventFeed, type PostgresEventFeed } from './event-feed.js'
import { type HostTransaction, hostKysely, isKysely } from './host-transaction.js'
import { createPostgresInboxFeed, type PostgresInboxFeed } from './inbox-feed.js'
import { namingPool } from './named-statements.js'
import { listSecurityEvents } from './postgres-security-log.js'
import { pruneBatch, pruneEventsBatch } from './prune.js'
import { checkRole } from './role-check.js'
import type { LoginPool } from './role-routing.js'
import type { MessagingDatabase } from './schema.js'
import { BoundUnitOfWork, PostgresUnitOfWork } from './unit-of-work.js'
import { createPostgresWakeSignal, type PostgresWakeSignal } from './wake-signal.js'

export { claimsOf } from './claims.js'
export type { HostClient, HostTransaction } from './host-transaction.js'
export { checkRole, type LoginRoles } from './role-check.js'

type Connection =
  | { readonly connectionString: string; readonly pool?: never; readonly db?: never }
  | { readonly pool: pg.Pool; readonly connectionString?: never; readonly db?: never }
  // biome-ignore lint/suspicious/noExplicitAny: any host database type; the module only touches its own tables
  | { readonly db: Kysely<any>; readonly connectionString?: never; readonly pool?: never }

export type PostgresStorageOptions = Connection & {
  /** Connections of the pool the adapter makes from `connectionString`. Default 10. */
  readonly poolSize?: number
  /**
   * The fleet delivery worker's login (a role granted `messaging_worker`, not
   * `messaging_app`): units of work of `TenantScope.fleet(...)` run on it. Not needed when
   * the main login itself is the worker's, or is a NOINHERIT member of both app roles
   * (each unit of work then does `SET LOCAL ROLE`).
   */
  readonly workerConnectionString?: string
  /** The same as a pool the host owns. */
  readonly workerPool?: pg.Pool
  /**
   * The tables' owner, for `prune` only (the app roles may not delete). Without it `prune`
   * throws StorageError.
   */
  readonly ownerConnectionString?: string
  /** The same as a pool the host owns. */
  readonly ownerPool?: pg.Pool
  /**
   * Where the wake-up signal LISTENs (one dedicated connection, opened while a worker
   * subscribes). Default: `connectionString`, or the settings of `pool`; with only `db` there
   * is no cross-process signal unless this is given, and workers rely on polling. `false`
   * turns it off.
   */
  readonly listenConnectionString?: string | false
  /**
   * Skips the start-up role check, which refuses a superuser, a BYPASSRLS role and the
   * tables' owner (row-level security would not hold for them). For migrations and
   * owner-run maintenance only: never serve requests with it.
   */
  readonly allowPrivilegedRole?: boolean
}

/** The PostgreSQL store, plus the ways to join a transaction the host already holds. */
export interface PostgresStorage extends MessagingStorage {
  readonly name: 'postgres'
  /** The kysely instance the adapter runs on (the host's own when it passed one). */
  readonly db: Kysely<MessagingDatabase>
  /**
   * Runs `fn` with every unit of work of this storage (so every facade call made inside
   * it) joining the host's transaction: the messages commit or roll back with the host's
   * own writes. That is the transactional outbox.
   *
   * @example
   * await db.transaction().execute((trx) =>
   *   storage.withTransaction(trx, async () => {
   *     await trx.insertInto('orders').values(order).execute()
   *     await messaging.enqueue(principal, { infrastructureId, channelKey: 'orders', payload: order })
   *   }),
   * )
   */
  withTransaction<T>(tx: HostTransaction, fn: () => Promise<T>): Promise<T>
  /** A storage whose units of work all run inside `tx` (for `createMessaging` per transaction). */
  bind(tx: HostTransaction): MessagingStorage
}

/**
 * Errors of a server that is not there (yet): no route, refused or reset connections, and
 * a server starting up, shutting down or in recovery (SQLSTATE 57P01-57P03, class 08).
 */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  '57P01',
  '57P02',
  '57P03',
])

function isUnreachable(e: unknown): boolean {
  const code = sqlState(e)
  if (code !== undefined && (UNREACHABLE_CODES.has(code) || code.startsWith('08'))) return true
  // pg's own connection errors carry no code ("Connection terminated unexpectedly").
  return e instanceof Error && !code && /^Connection terminated/.test(e.message)
}

/**
 * The PostgreSQL store: kysely + pg, row-level security on every table, one transaction
 * per unit of work that first sets the scope's claims. Checks its connection role before
 * the first unit of work (see `allowPrivilegedRole`).
 *
 * @example
 * import { createPostgresStorage, migrate } from 'messaging/postgres'
 * await migrate({ connectionString: process.env.OWNER_DATABASE_URL })
 * const storage = await createPostgresStorage({ connectionString: process.env.DATABASE_URL })
 * const messaging = createMessaging({ storage })
 */
export async function createPostgresStorage(options: PostgresStorageOptions): Promise<PostgresStorage> {
  let db: Kysely<MessagingDatabase>
  // Everything the adapter opened itself, closed by close(); a host's pools stay the host's.
  const owned: Kysely<MessagingDatabase>[] = []
  const kyselyOf = (pool: pg.Pool, own: boolean) => {
    const k = new Kysely<MessagingDatabase>({ dialect: new PostgresDialect({ pool: namingPool(pool) }) })
    if (own) {
      // An idle connection the server drops (restart, terminated backend) is an 'error'
      // event on the pool; unhandled, it would end the host's process. The pool has already
      // discarded the client, and the next checkout opens a new one.
      pool.on('error', () => undefined)
      // A connection the server drops while checked out (a unit of work in progress when
      // PostgreSQL is killed) is an 'error' event on the client itself: the pool listens
      // only to idle clients. The unit's query rejects all the same and the pool discards the
      // client on release (it is no longer queryable); unheard, the event ends the process.
      pool.on('connect', (client) => client.on('error', () => undefined))
      owned.push(k)
    }
    return k
  }
  const poolOf = (connectionString: string | undefined, given: pg.Pool | undefined, max: number) =>
    given
      ? kyselyOf(given, false)
      : connectionString
        ? kyselyOf(new pg.Pool({ connectionString, max }), true)
        : undefined
  if (options.db !== undefined) {
    if (!isKysely(options.db)) throw new TypeError('options.db must be a kysely instance')
    db = options.db as Kysely<MessagingDatabase>
  } else {
    db = poolOf(options.connectionString, options.pool, options.poolSize ?? 10)!
  }
  const workerDb = poolOf(options.workerConnectionString, options.workerPool, options.poolSize ?? 10)
  const ownerDb = poolOf(options.ownerConnectionString, options.ownerPool, 2)
  const main: LoginPool = { db, roles: null }
  const worker: LoginPool | undefined = workerDb ? { db: workerDb, roles: null } : undefined
  const checkRoles = async () => {
    if (!options.allowPrivilegedRole) main.roles = await checkRole(db)
    if (worker) {
      const roles = await checkRole(worker.db)
      if (!roles.worker)
        throw new StorageError("the worker connection's login is not a member of messaging_worker", {
          misconfigured: true,
        })
      worker.roles = roles
    }
  }
  // A server that cannot be reached yet (down, starting, restarting) is not a reason to
  // fail: the check runs again before each unit of work until it reaches the server, and
  // those units fail with StorageError (503, worth a retry) meanwhile. So a worker or a
  // server started before its database waits for it. A reachable server that refuses the
  // login's role fails here, at once.
  let unchecked: Promise<void> | null = null
  let deferred = false
  try {
    await checkRoles()
  } catch (e) {
    if (!isUnreachable(e)) {
      await Promise.all(owned.map((k) => k.destroy()))
      throw e instanceof StorageError ? e : classify(e)
    }
    deferred = true
  }
  const ready = async () => {
    if (closed) throw new StorageError('postgres storage is closed')
    if (!deferred) return
    unchecked ??= checkRoles().then(
      () => {
        deferred = false
      },
      (e: unknown) => {
        unchecked = null
        throw e instanceof StorageError ? e : classify(e)
      },
    )
    await unchecked
  }
  const listenConfig: pg.ClientConfig | null =
    options.listenConnectionString === false
      ? null
      : options.listenConnectionString !== undefined
        ? { connectionString: options.listenConnectionString }
        : options.connectionString !== undefined
          ? { connectionString: options.connectionString }
          : options.pool
            ? (options.pool as pg.Pool & { options: pg.ClientConfig }).options
            : null
  // Without a connection to LISTEN on (only `db` given, or turned off) the signal stays
  // within the process, and workers elsewhere rely on polling.
  const crossProcess: PostgresWakeSignal | undefined = listenConfig
    ? createPostgresWakeSignal(listenConfig)
    : undefined
  const wakeSignal: WakeSignal = crossProcess ?? createLocalWakeSignal()
  // The live inbox listens on its own connection (one per process), on the same terms.
  const inboxListener: PostgresInboxFeed | undefined = listenConfig
    ? createPostgresInboxFeed(listenConfig)
    : undefined
  const inboxFeed: InboxFeed = inboxListener ?? createLocalInboxFeed()
  // The event streams likewise (a connection of their own, opened with the first stream).
  const eventListener: PostgresEventFeed | undefined = listenConfig
    ? createPostgresEventFeed(listenConfig)
    : undefined
  const eventFeed: EventFeed = eventListener ?? createLocalEventFeed()
  const joined = new AsyncLocalStorage<Kysely<MessagingDatabase>>()
  let closed = false
  const prune = async (pruneOptions: PruneOptions): Promise<number> => {
    if (closed) throw new StorageError('postgres storage is closed')
    if (!ownerDb) {
      throw new StorageError(
        "prune runs with the owner's rights (the app roles cannot delete): pass ownerConnectionString or ownerPool",
      )
    }
    try {
      const removed = await pruneBatch(ownerDb, pruneOptions)
      // Events go by their own time, a batch per statement until none is older (the count
      // returned stays the messages').
      const batch = pruneOptions.batchSize ?? 1000
      while ((await pruneEventsBatch(ownerDb, pruneOptions)) >= batch) {}
      return removed
    } catch (e) {
      throw classify(e)
    }
  }
  const readSecurityLog = async (filter: SecurityLogFilter): Promise<SecurityEvent[]> => {
    if (closed) throw new StorageError('postgres storage is closed')
    if (!ownerDb) {
      throw new StorageError(
        "the security log is read with the owner's rights (no app role may read it): pass ownerConnectionString or ownerPool",
      )
    }
    try {
      return await listSecurityEvents(ownerDb, filter)
    } catch (e) {
      // 42501: the given owner connection is in fact an app role, which may not read the log.
      throw (e as { code?: unknown }).code === '42501'
        ? new StorageError(
            "the security log is read with the tables' owner's rights: this connection's role may not read it",
          )
        : classify(e)
    }
  }
  return {
    name: 'postgres',
    persistent: true,
    db,
    unitOfWork: new PostgresUnitOfWork(main, worker, joined, ready),
    wakeSignal,
    inboxFeed,
    eventFeed,
    withTransaction: (tx, fn) => joined.run(hostKysely(tx), fn),
    bind: (tx) => ({
      name: 'postgres',
      persistent: true,
      unitOfWork: new BoundUnitOfWork(hostKysely(tx)),
      wakeSignal,
      inboxFeed,
      eventFeed,
      prune,
      listSecurityEvents: readSecurityLog,
      close: async () => undefined,
    }),
    prune,
    listSecurityEvents: readSecurityLog,
    async close() {
      if (closed) return
      closed = true
      await crossProcess?.close()
      await inboxListener?.close()
      await eventListener?.close()
      await Promise.all(owned.map((k) => k.destroy()))
    },
  }
}
