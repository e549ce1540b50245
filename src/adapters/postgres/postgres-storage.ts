import { AsyncLocalStorage } from 'node:async_hooks'
import { Kysely, PostgresDialect, sql, type Transaction } from 'kysely'
import pg from 'pg'
import { StorageError } from '../../domain/errors.js'
import type { SecurityEvent } from '../../domain/security-log.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { SecurityLogFilter } from '../../ports/security-log.js'
import type { MessagingStorage, PruneOptions, Repositories, UnitOfWork } from '../../ports/unit-of-work.js'
import { classify, sqlState } from './errors.js'
import { PostgresAuditLog } from './postgres-audit-log.js'
import { PostgresCategoryRepository } from './postgres-category-repository.js'
import { PostgresChannelRepository } from './postgres-channel-repository.js'
import { claimsOf } from './postgres-enqueue.js'
import { PostgresInboxRepository } from './postgres-inbox-repository.js'
import { PostgresMembershipRepository } from './postgres-membership-repository.js'
import { PostgresOutboxRepository } from './postgres-outbox-repository.js'
import { PostgresPreferenceRepository } from './postgres-preference-repository.js'
import { PostgresProfileRepository } from './postgres-profile-repository.js'
import { listSecurityEvents, PostgresSecurityLog } from './postgres-security-log.js'
import { PostgresTemplateRepository } from './postgres-template-repository.js'
import type { MessagingDatabase } from './schema.js'

export { claimsOf } from './postgres-enqueue.js'

import { createPostgresWakeSignal, type PostgresWakeSignal } from './wake-signal.js'

/** A `pg` client the host holds, inside a transaction it began (`pool.connect()` then `BEGIN`). */
export type HostClient = pg.PoolClient | pg.Client

/** Something the module can run its statements on inside the host's own transaction. */
// biome-ignore lint/suspicious/noExplicitAny: a transaction over any host database type; the module only touches its own tables
export type HostTransaction = Transaction<any> | HostClient

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

const isKysely = (x: unknown): x is Kysely<MessagingDatabase> =>
  typeof x === 'object' && x !== null && typeof (x as { selectFrom?: unknown }).selectFrom === 'function'

/** A kysely instance over one client the host holds; releasing it does nothing (the host releases). */
function kyselyOverClient(client: HostClient): Kysely<MessagingDatabase> {
  return new Kysely<MessagingDatabase>({
    dialect: new PostgresDialect({
      pool: {
        connect: async () =>
          Object.assign(Object.create(null), {
            query: (...args: unknown[]) => (client.query as (...a: unknown[]) => unknown)(...args),
            release: () => undefined,
          }),
        end: async () => undefined,
      },
    }),
  })
}

const repositories = (db: Kysely<MessagingDatabase>): Repositories => ({
  channels: new PostgresChannelRepository(db),
  members: new PostgresMembershipRepository(db),
  outbox: new PostgresOutboxRepository(db),
  audit: new PostgresAuditLog(db),
  security: new PostgresSecurityLog(db),
  inbox: new PostgresInboxRepository(db),
  templates: new PostgresTemplateRepository(db),
  profiles: new PostgresProfileRepository(db),
  categories: new PostgresCategoryRepository(db),
  preferences: new PostgresPreferenceRepository(db),
})

/** A string as an SQL literal, whatever `standard_conforming_strings` says (as pg's escapeLiteral). */
function quoteLiteral(s: string): string {
  const quoted = `'${s.replace(/'/g, "''").replace(/\\/g, '\\\\')}'`
  return s.includes('\\') ? ` E${quoted}` : quoted
}

const setClaims = (db: Kysely<MessagingDatabase>, claims: string) =>
  sql`select set_config('messaging.claims', ${claims}, true)`.execute(db)

/** The host's own transaction, joined: the claims are set in a savepoint and put back after. */
async function runInHostTransaction<T>(
  db: Kysely<MessagingDatabase>,
  scope: TenantScope,
  work: (repos: Repositories) => Promise<T>,
): Promise<T> {
  let previous: string | null
  try {
    // Rolling back to the savepoint also restores the claims the host had set before.
    await sql`savepoint messaging_unit_of_work`.execute(db)
    const r = await sql<{ v: string | null }>`select current_setting('messaging.claims', true) as v`.execute(
      db,
    )
    previous = r.rows[0]?.v ?? null
    await setClaims(db, claimsOf(scope))
  } catch (e) {
    throw classify(e)
  }
  let result: T
  try {
    result = await work(repositories(db))
  } catch (e) {
    await sql`rollback to savepoint messaging_unit_of_work`.execute(db).catch(() => undefined)
    throw e
  }
  try {
    await sql`release savepoint messaging_unit_of_work`.execute(db)
    await setClaims(db, previous ?? '')
  } catch (e) {
    throw classify(e)
  }
  return result
}

/** A pool the adapter runs units of work on, with what its login may become. */
interface LoginPool {
  readonly db: Kysely<MessagingDatabase>
  /** null: not checked (allowPrivilegedRole). Set once the check has reached the server. */
  roles: LoginRoles | null
}

/**
 * Where a scope's unit of work runs, and the role it switches to there (null: none, the
 * login already has the role's privileges).
 */
function routeOf(
  scope: TenantScope,
  main: LoginPool,
  worker: LoginPool | undefined,
): { db: Kysely<MessagingDatabase>; role: 'messaging_app' | 'messaging_worker' | null } {
  if (scope.isFleet) {
    const c = worker ?? main
    if (c.roles === null) return { db: c.db, role: null }
    if (c.roles.worker === 'inherit') return { db: c.db, role: null }
    if (c.roles.worker === 'member') return { db: c.db, role: 'messaging_worker' }
    throw new StorageError(
      'a fleet worker runs as messaging_worker: pass workerConnectionString or workerPool (a login granted messaging_worker) to createPostgresStorage',
      { misconfigured: true },
    )
  }
  if (main.roles === null) return { db: main.db, role: null }
  // The worker's policies see every tenant: a login that holds them serves the fleet only.
  if (main.roles.worker === 'inherit' || main.roles.app === null) {
    throw new StorageError(
      "this connection is the fleet worker's (messaging_worker): it serves TenantScope.fleet only; connect as a messaging_app login for other scopes",
      { misconfigured: true },
    )
  }
  if (main.roles.app === 'member') return { db: main.db, role: 'messaging_app' }
  return { db: main.db, role: null }
}

class PostgresUnitOfWork implements UnitOfWork {
  constructor(
    private readonly main: LoginPool,
    private readonly worker: LoginPool | undefined,
    private readonly joined: AsyncLocalStorage<Kysely<MessagingDatabase>>,
    private readonly ready: () => Promise<void>,
  ) {}

  async run<T>(scope: TenantScope, work: (repos: Repositories) => Promise<T>): Promise<T> {
    const host = this.joined.getStore()
    if (host) {
      if (scope.isFleet) throw new StorageError('a fleet worker does not join a host transaction')
      return runInHostTransaction(host, scope, work)
    }
    await this.ready()
    const { db, role } = routeOf(scope, this.main, this.worker)
    // One transaction per unit of work; the claims are its first statement, local to it
    // (set_config(..., true)), so nothing leaks to the next user of a pooled connection.
    // So is the role switch (SET LOCAL ends with the transaction).
    let workFailed = false
    try {
      return await db.connection().execute(async (conn) => {
        // BEGIN, the role switch and the claims go in one round trip (a simple-protocol
        // batch, so the claims are a quoted literal): round trips are what a unit of work
        // costs on a small server (G1 in BENCHMARKS.md).
        const opening = [
          'begin',
          ...(role ? [`set local role ${role}`] : []),
          `select set_config('messaging.claims', ${quoteLiteral(claimsOf(scope))}, true)`,
        ].join('; ')
        let result: T
        try {
          await sql.raw(opening).execute(conn)
          try {
            result = await work(repositories(conn))
          } catch (e) {
            workFailed = true
            throw e
          }
          await sql.raw('commit').execute(conn)
        } catch (e) {
          await sql
            .raw('rollback')
            .execute(conn)
            .catch(() => undefined)
          throw e
        }
        return result
      })
    } catch (e) {
      // The work's own errors pass through untouched; BEGIN, the claims and COMMIT are ours.
      if (workFailed) throw e
      throw classify(e)
    }
  }

  /**
   * One autocommit statement that carries its own claims (`messaging_enqueue`): no BEGIN,
   * no COMMIT, one round trip. Inside a host's transaction, or on a login that must switch
   * role first, it is an ordinary unit of work.
   */
  async runStatement<T>(scope: TenantScope, work: (repos: Repositories) => Promise<T>): Promise<T> {
    if (this.joined.getStore() || scope.isFleet) return this.run(scope, work)
    await this.ready()
    const { db, role } = routeOf(scope, this.main, this.worker)
    if (role !== null) return this.run(scope, work)
    return work(repositories(db))
  }
}

class BoundUnitOfWork implements UnitOfWork {
  constructor(private readonly db: Kysely<MessagingDatabase>) {}
  run<T>(scope: TenantScope, work: (repos: Repositories) => Promise<T>): Promise<T> {
    return runInHostTransaction(this.db, scope, work)
  }
}

interface RoleCheckRow {
  role: string
  superuser: boolean
  bypassrls: boolean
  migrated: boolean
  owner: boolean
  app: boolean
  app_member: boolean
  worker: boolean
  worker_member: boolean
}

/**
 * What a login may be, per app role: `inherit` (it has the role's privileges, and the
 * role's policies apply to it, in every statement), `member` (NOINHERIT: only after
 * `SET ROLE`), or null.
 */
export interface LoginRoles {
  readonly app: 'inherit' | 'member' | null
  readonly worker: 'inherit' | 'member' | null
}

/**
 * Refuses a connection role for which row-level security would not hold, or that the
 * policies do not know, and says which app roles it holds. Owner-run migrations pass
 * `allowPrivilegedRole`.
 */
export async function checkRole(db: Kysely<MessagingDatabase>): Promise<LoginRoles> {
  const member = (role: string, mode: 'USAGE' | 'MEMBER') =>
    sql.raw(
      `case when exists (select from pg_roles where rolname = '${role}')
          then pg_has_role(current_user, '${role}', '${mode}') else false end`,
    )
  const { rows } = await sql<RoleCheckRow>`
    select r.rolname as role,
           r.rolsuper as superuser,
           r.rolbypassrls as bypassrls,
           to_regclass('messaging_outbox') is not null as migrated,
           coalesce((select bool_or(pg_has_role(current_user, c.relowner, 'USAGE'))
                       from pg_class c
                      where c.oid in (to_regclass('messaging_channels'), to_regclass('messaging_channel_members'),
                                      to_regclass('messaging_outbox'), to_regclass('messaging_audit_log'))),
                    false) as owner,
           ${member('messaging_app', 'USAGE')} as app,
           ${member('messaging_app', 'MEMBER')} as app_member,
           ${member('messaging_worker', 'USAGE')} as worker,
           ${member('messaging_worker', 'MEMBER')} as worker_member
      from pg_roles r
     where r.rolname = current_user`.execute(db)
  const r = rows[0]
  if (!r) throw new StorageError('cannot read the connection role')
  const refuse = (why: string) =>
    new StorageError(
      `refusing to run as role "${r.role}": ${why}; row-level security would not protect tenants. ` +
        'Connect as a login role granted messaging_app (allowPrivilegedRole is for migrations only).',
      { misconfigured: true },
    )
  if (r.superuser) throw refuse('it is a superuser')
  if (r.bypassrls) throw refuse('it has BYPASSRLS')
  if (!r.migrated) throw new StorageError('the messaging tables are missing: apply the sql/ migrations first')
  if (r.owner) throw refuse('it owns the messaging tables')
  if (!r.app_member && !r.worker_member) {
    throw new StorageError(`role "${r.role}" is not a member of messaging_app (nor messaging_worker)`, {
      misconfigured: true,
    })
  }
  // Policies apply to every role whose privileges the login has: with both, the worker's
  // see-everything policies would hold in every tenant's unit of work.
  if (r.app && r.worker) {
    throw refuse(
      'it inherits both messaging_app and messaging_worker (use two logins, or a NOINHERIT login that the adapter switches with SET LOCAL ROLE)',
    )
  }
  const mode = (inherit: boolean, member: boolean) => (inherit ? 'inherit' : member ? 'member' : null)
  return { app: mode(r.app, r.app_member), worker: mode(r.worker, r.worker_member) }
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
    const k = new Kysely<MessagingDatabase>({ dialect: new PostgresDialect({ pool }) })
    if (own) {
      // An idle connection the server drops (restart, terminated backend) is an 'error'
      // event on the pool; unhandled, it would end the host's process. The pool has already
      // discarded the client, and the next checkout opens a new one.
      pool.on('error', () => undefined)
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
  const wakeSignal: PostgresWakeSignal | undefined = listenConfig
    ? createPostgresWakeSignal(listenConfig)
    : undefined
  const joined = new AsyncLocalStorage<Kysely<MessagingDatabase>>()
  let closed = false
  const toKysely = (tx: HostTransaction): Kysely<MessagingDatabase> =>
    isKysely(tx) ? (tx as unknown as Kysely<MessagingDatabase>) : kyselyOverClient(tx as HostClient)
  return {
    name: 'postgres',
    db,
    unitOfWork: new PostgresUnitOfWork(main, worker, joined, ready),
    ...(wakeSignal && { wakeSignal }),
    withTransaction: (tx, fn) => joined.run(toKysely(tx), fn),
    bind: (tx) => ({
      name: 'postgres',
      unitOfWork: new BoundUnitOfWork(toKysely(tx)),
      close: async () => undefined,
    }),
    async prune(pruneOptions: PruneOptions): Promise<number> {
      if (closed) throw new StorageError('postgres storage is closed')
      if (!ownerDb) {
        throw new StorageError(
          "prune runs with the owner's rights (the app roles cannot delete): pass ownerConnectionString or ownerPool",
        )
      }
      return pruneBatch(ownerDb, pruneOptions.olderThan, pruneOptions.batchSize ?? 1000).catch((e) =>
        Promise.reject(classify(e)),
      )
    },
    async listSecurityEvents(filter: SecurityLogFilter): Promise<SecurityEvent[]> {
      if (closed) throw new StorageError('postgres storage is closed')
      if (!ownerDb) {
        throw new StorageError(
          "the security log is read with the owner's rights (no app role may read it): pass ownerConnectionString or ownerPool",
        )
      }
      return listSecurityEvents(ownerDb, filter).catch((e: unknown) =>
        Promise.reject(
          (e as { code?: unknown }).code === '42501'
            ? new StorageError(
                "the security log is read with the tables' owner's rights: this connection's role may not read it",
              )
            : classify(e),
        ),
      )
    },
    async close() {
      if (closed) return
      closed = true
      await wakeSignal?.close()
      await Promise.all(owned.map((k) => k.destroy()))
    },
  }
}

/**
 * Retention, as the owner: removes up to `batchSize` settled messages (processed, failed,
 * dead) settled before `olderThan`, with their attempts, in one short statement; returns
 * how many messages went. Call it again until it returns 0.
 *
 * The tenants with settled rows come from a skip scan over messaging_outbox_settled_idx
 * (infrastructure_id, settled_at), and each tenant's oldest settled rows from an index
 * range, so a batch never walks live rows nor what earlier batches removed. Rows are
 * deleted by address. No row lock is taken before the delete: claims never touch settled
 * rows, and a message redriven meanwhile (now pending, at a new address) fails the
 * re-checked conditions and stays. Enqueues and claims never wait for a prune.
 */
async function pruneBatch(
  db: Kysely<MessagingDatabase>,
  olderThan: Date,
  batchSize: number,
): Promise<number> {
  const r = await sql<{ n: number }>`
    WITH RECURSIVE skip (infrastructure_id) AS (
      (SELECT o.infrastructure_id FROM messaging_outbox AS o
        WHERE o.status IN ('processed', 'failed', 'dead')
        ORDER BY o.infrastructure_id LIMIT 1)
      UNION ALL
      SELECT (SELECT o.infrastructure_id FROM messaging_outbox AS o
               WHERE o.status IN ('processed', 'failed', 'dead') AND o.infrastructure_id > s.infrastructure_id
               ORDER BY o.infrastructure_id LIMIT 1)
        FROM skip AS s
       WHERE s.infrastructure_id IS NOT NULL
    ),
    gone AS (
      DELETE FROM messaging_outbox AS o
       WHERE o.ctid = ANY (ARRAY(
               SELECT d.row_id
                 FROM skip AS s
                 CROSS JOIN LATERAL (
                   SELECT x.ctid AS row_id FROM messaging_outbox AS x
                    WHERE x.infrastructure_id = s.infrastructure_id
                      AND x.status IN ('processed', 'failed', 'dead')
                      AND x.settled_at < ${olderThan}
                    ORDER BY x.settled_at
                    LIMIT ${batchSize}) AS d
                WHERE s.infrastructure_id IS NOT NULL
                LIMIT ${batchSize}))
         AND o.status IN ('processed', 'failed', 'dead')
         AND o.settled_at < ${olderThan}
      RETURNING o.infrastructure_id, o.id
    ),
    gone_attempts AS (
      DELETE FROM messaging_delivery_attempts AS a
       USING gone AS g
       WHERE a.infrastructure_id = g.infrastructure_id AND a.message_id = g.id
    )
    SELECT count(*)::int AS n FROM gone`.execute(db)
  return r.rows[0]?.n ?? 0
}
