import { AsyncLocalStorage } from 'node:async_hooks'
import { Kysely, PostgresDialect, sql, type Transaction } from 'kysely'
import pg from 'pg'
import { StorageError } from '../../domain/errors.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { MessagingStorage, Repositories, UnitOfWork } from '../../ports/unit-of-work.js'
import { classify } from './errors.js'
import { PostgresAuditLog } from './postgres-audit-log.js'
import { PostgresChannelRepository } from './postgres-channel-repository.js'
import { PostgresMembershipRepository } from './postgres-membership-repository.js'
import { PostgresOutboxRepository } from './postgres-outbox-repository.js'
import type { MessagingDatabase } from './schema.js'

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

/** The claims JSON the policies read: `{"sub","role","grants":[{"infrastructure_id","business_id"}]}`. */
export function claimsOf(scope: TenantScope): string {
  return JSON.stringify({
    sub: scope.principal.userId,
    role: scope.principal.role,
    grants: scope.principal.grants.map((g) => ({
      infrastructure_id: g.infrastructureId,
      business_id: g.businessId,
    })),
  })
}

const repositories = (db: Kysely<MessagingDatabase>): Repositories => ({
  channels: new PostgresChannelRepository(db),
  members: new PostgresMembershipRepository(db),
  outbox: new PostgresOutboxRepository(db),
  audit: new PostgresAuditLog(db),
})

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

class PostgresUnitOfWork implements UnitOfWork {
  constructor(
    private readonly db: Kysely<MessagingDatabase>,
    private readonly joined: AsyncLocalStorage<Kysely<MessagingDatabase>>,
    private readonly ready: () => Promise<void>,
  ) {}

  async run<T>(scope: TenantScope, work: (repos: Repositories) => Promise<T>): Promise<T> {
    const host = this.joined.getStore()
    if (host) return runInHostTransaction(host, scope, work)
    await this.ready()
    // One transaction per unit of work; the claims are its first statement, local to it
    // (set_config(..., true)), so nothing leaks to the next user of a pooled connection.
    let workFailed = false
    try {
      return await this.db.transaction().execute(async (trx) => {
        await setClaims(trx, claimsOf(scope))
        try {
          return await work(repositories(trx))
        } catch (e) {
          workFailed = true
          throw e
        }
      })
    } catch (e) {
      // The work's own errors pass through untouched; BEGIN, the claims and COMMIT are ours.
      if (workFailed) throw e
      throw classify(e)
    }
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
  worker: boolean
}

/**
 * Refuses a connection role for which row-level security would not hold, or that the
 * policies do not know. Owner-run migrations pass `allowPrivilegedRole`.
 */
export async function checkRole(db: Kysely<MessagingDatabase>): Promise<void> {
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
           case when exists (select from pg_roles where rolname = 'messaging_app')
                then pg_has_role(current_user, 'messaging_app', 'USAGE') else false end as app,
           case when exists (select from pg_roles where rolname = 'messaging_worker')
                then pg_has_role(current_user, 'messaging_worker', 'USAGE') else false end as worker
      from pg_roles r
     where r.rolname = current_user`.execute(db)
  const r = rows[0]
  if (!r) throw new StorageError('cannot read the connection role')
  const refuse = (why: string) =>
    new StorageError(
      `refusing to run as role "${r.role}": ${why}; row-level security would not protect tenants. ` +
        'Connect as a login role granted messaging_app (allowPrivilegedRole is for migrations only).',
    )
  if (r.superuser) throw refuse('it is a superuser')
  if (r.bypassrls) throw refuse('it has BYPASSRLS')
  if (!r.migrated) throw new StorageError('the messaging tables are missing: apply the sql/ migrations first')
  if (r.owner) throw refuse('it owns the messaging tables')
  if (!r.app && !r.worker) {
    throw new StorageError(`role "${r.role}" is not a member of messaging_app (nor messaging_worker)`)
  }
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
  let ownPool: pg.Pool | undefined
  if (options.db !== undefined) {
    if (!isKysely(options.db)) throw new TypeError('options.db must be a kysely instance')
    db = options.db as Kysely<MessagingDatabase>
  } else {
    if (!options.pool) {
      ownPool = new pg.Pool({ connectionString: options.connectionString, max: options.poolSize ?? 10 })
    }
    const pool = options.pool ?? ownPool!
    db = new Kysely<MessagingDatabase>({ dialect: new PostgresDialect({ pool }) })
  }
  try {
    if (!options.allowPrivilegedRole) await checkRole(db)
  } catch (e) {
    if (ownPool) await ownPool.end()
    throw e instanceof StorageError ? e : classify(e)
  }
  const joined = new AsyncLocalStorage<Kysely<MessagingDatabase>>()
  let closed = false
  const toKysely = (tx: HostTransaction): Kysely<MessagingDatabase> =>
    isKysely(tx) ? (tx as unknown as Kysely<MessagingDatabase>) : kyselyOverClient(tx as HostClient)
  return {
    name: 'postgres',
    db,
    unitOfWork: new PostgresUnitOfWork(db, joined, async () => {
      if (closed) throw new StorageError('postgres storage is closed')
    }),
    withTransaction: (tx, fn) => joined.run(toKysely(tx), fn),
    bind: (tx) => ({
      name: 'postgres',
      unitOfWork: new BoundUnitOfWork(toKysely(tx)),
      close: async () => undefined,
    }),
    async close() {
      if (closed) return
      closed = true
      // Only what the adapter opened; a host's pool or kysely instance stays the host's.
      if (ownPool) await db.destroy()
    },
  }
}
