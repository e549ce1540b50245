import { Kysely, PostgresDialect, sql, type Transaction } from 'kysely'
import type pg from 'pg'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { Repositories } from '../../ports/unit-of-work.js'
import { claimsOf } from './claims.js'
import { classify } from './errors.js'
import { repositories } from './repositories.js'
import type { MessagingDatabase } from './schema.js'
import { isStatementError, UnitSession } from './unit-session.js'

/** A `pg` client the host holds, inside a transaction it began (`pool.connect()` then `BEGIN`). */
export type HostClient = pg.PoolClient | pg.Client

/** Something the module can run its statements on inside the host's own transaction. */
// biome-ignore lint/suspicious/noExplicitAny: a transaction over any host database type; the module only touches its own tables
export type HostTransaction = Transaction<any> | HostClient

export const isKysely = (x: unknown): x is Kysely<MessagingDatabase> =>
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

/** The host's transaction as the kysely instance the module runs on. */
export const hostKysely = (tx: HostTransaction): Kysely<MessagingDatabase> =>
  isKysely(tx) ? (tx as unknown as Kysely<MessagingDatabase>) : kyselyOverClient(tx as HostClient)

const setClaims = (db: Kysely<MessagingDatabase>, claims: string) =>
  sql`select set_config('messaging.claims', ${claims}, true)`.execute(db)

/**
 * A unit of work inside the host's own transaction: the claims are set in a savepoint and
 * put back after, and rolling back to the savepoint (when the work throws) also restores
 * the claims the host had set before. Every error leaves classified.
 */
export async function runInHostTransaction<T>(
  db: Kysely<MessagingDatabase>,
  scope: TenantScope,
  work: (repos: Repositories) => Promise<T>,
): Promise<T> {
  let previous: string | null
  try {
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
    const session = UnitSession.joined(db)
    result = await work(repositories(session.db, session))
  } catch (e) {
    await sql`rollback to savepoint messaging_unit_of_work`.execute(db).catch(() => undefined)
    throw isStatementError(e) ? classify(e) : e
  }
  try {
    await sql`release savepoint messaging_unit_of_work`.execute(db)
    await setClaims(db, previous ?? '')
  } catch (e) {
    throw classify(e)
  }
  return result
}
