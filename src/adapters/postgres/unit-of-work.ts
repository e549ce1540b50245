import type { AsyncLocalStorage } from 'node:async_hooks'
import { type Kysely, sql } from 'kysely'
import { StorageError } from '../../domain/errors.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { Repositories, UnitOfWork } from '../../ports/unit-of-work.js'
import { claimsOf, quoteLiteral } from './claims.js'
import { classify } from './errors.js'
import { runInHostTransaction } from './host-transaction.js'
import { repositories } from './repositories.js'
import { type LoginPool, routeOf } from './role-routing.js'
import type { MessagingDatabase } from './schema.js'
import { isStatementError, UnitSession } from './unit-session.js'

/**
 * One transaction per unit of work, on the login its scope routes to, that first switches
 * role where needed and sets the scope's claims; or, inside `withTransaction`, a savepoint
 * in the host's transaction. This is the one place where statement errors are classified
 * into the module's errors (repositories classify only where they know more).
 */
export class PostgresUnitOfWork implements UnitOfWork {
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
    const failed: { by?: unknown } = {}
    try {
      return await db.connection().execute((conn) => this.inSession(conn, scope, role, work, failed))
    } catch (e) {
      // The one place database errors become the module's: a statement's, a connection
      // that could not be had, BEGIN or COMMIT. What the work threw itself passes untouched.
      if (e === failed.by && !isStatementError(e)) throw e
      throw classify(e)
    }
  }

  private async inSession<T>(
    conn: Kysely<MessagingDatabase>,
    scope: TenantScope,
    role: string | null,
    work: (repos: Repositories) => Promise<T>,
    failed: { by?: unknown },
  ): Promise<T> {
    const session = new UnitSession(conn)
    let pending: Promise<T>
    try {
      pending = work(repositories(session.db, session))
    } catch (e) {
      pending = Promise.reject(e)
    }
    // Noted before anyone awaits it (so never reported as unhandled while the transaction
    // opens), and awaited below.
    pending.catch((e) => {
      failed.by = e
    })
    // A lone enqueue sets its own claims (messaging_enqueue_arrays): one autocommit round trip.
    // A login that must switch role first needs a transaction for SET LOCAL.
    if (role === null && session.isLoneStatement(pending)) {
      session.runAlone()
      return pending
    }
    // BEGIN, the role switch and the claims go in one round trip (a simple-protocol batch,
    // so the claims are a quoted literal): round trips are what a unit of work costs on a
    // small server (G1 in BENCHMARKS.md). The claims and the role are local to the
    // transaction, so nothing leaks to the next user of a pooled connection.
    const opening = [
      'begin',
      ...(role ? [`set local role ${role}`] : []),
      `select set_config('messaging.claims', ${quoteLiteral(claimsOf(scope))}, true)`,
    ].join('; ')
    try {
      await session.openTransaction(opening)
      const result = await pending
      await sql.raw('commit').execute(conn)
      return result
    } catch (e) {
      await sql
        .raw('rollback')
        .execute(conn)
        .catch(() => undefined)
      throw e
    }
  }
}

/** A unit of work that always joins one host transaction (`PostgresStorage.bind`). */
export class BoundUnitOfWork implements UnitOfWork {
  constructor(private readonly db: Kysely<MessagingDatabase>) {}
  run<T>(scope: TenantScope, work: (repos: Repositories) => Promise<T>): Promise<T> {
    return runInHostTransaction(this.db, scope, work)
  }
}
