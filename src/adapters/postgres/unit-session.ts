import {
  type CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryResult,
  sql,
} from 'kysely'
import { StorageError } from '../../domain/errors.js'
import type { MessagingDatabase } from './schema.js'

/** Where a repository runs a statement that sets its own claims and is atomic by itself. */
export interface SelfContainedStatements {
  selfContained<T>(run: (db: Kysely<MessagingDatabase>) => Promise<T>): Promise<T>
}

/**
 * Errors that came out of a statement of a unit of work. The unit of work classifies these
 * (and only these) into the module's errors at its boundary: an error the work raised
 * itself (a domain error, or any other) passes through as it was thrown.
 */
const statementErrors = new WeakSet<object>()

const marked = (e: unknown): unknown => {
  if (typeof e === 'object' && e !== null) statementErrors.add(e)
  return e
}

export const isStatementError = (e: unknown): boolean =>
  typeof e === 'object' && e !== null && statementErrors.has(e)

/** `run`, its rejection marked as a statement error. */
const statement = <T>(run: Promise<T>): Promise<T> => run.catch((e) => Promise.reject(marked(e)))

interface Deferred<T> {
  readonly promise: Promise<T>
  resolve(value: T): void
  reject(reason: unknown): void
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void
  let reject!: (reason: unknown) => void
  const promise = new Promise<T>((a, b) => {
    resolve = a
    reject = b
  })
  return { promise, resolve, reject }
}

/** A kysely driver over one connection the unit already holds; transactions are the unit's own. */
class UnitDriver implements Driver {
  constructor(private readonly connection: DatabaseConnection) {}
  async init(): Promise<void> {}
  async acquireConnection(): Promise<DatabaseConnection> {
    return this.connection
  }
  async beginTransaction(): Promise<void> {
    throw new StorageError('a unit of work is its own transaction')
  }
  async commitTransaction(): Promise<void> {
    throw new StorageError('a unit of work is its own transaction')
  }
  async rollbackTransaction(): Promise<void> {
    throw new StorageError('a unit of work is its own transaction')
  }
  async releaseConnection(): Promise<void> {}
  async destroy(): Promise<void> {}
}

/**
 * One unit of work's statements on its connection, opened lazily: a unit whose whole work
 * is one self-contained statement runs it alone in autocommit, one round trip; any other
 * unit runs in a transaction that opens (BEGIN, role, claims) before its first statement.
 *
 * The unit decides when `work(repos)` returns, synchronously: it is one self-contained
 * statement exactly when that statement was the first call and the promise the work
 * returned is that statement's own promise, so the work can do nothing after it. A work
 * written `(r) => r.outbox.enqueueMany(scope, commands)` is one; `async (r) => { ... }` never
 * is (its promise is its own), and runs in a transaction. The repositories' other
 * statements go through `db`, which holds them until the transaction is open.
 */
export class UnitSession implements SelfContainedStatements {
  /** The repositories' connection: every statement waits for the transaction to open. */
  readonly db: Kysely<MessagingDatabase>
  private readonly open = deferred<void>()
  private decided = false
  private lone: (Deferred<unknown> & { run(db: Kysely<MessagingDatabase>): Promise<unknown> }) | undefined
  private calls = 0

  /** A session on a connection whose transaction is already open (a host's, joined). */
  static joined(conn: Kysely<MessagingDatabase>): UnitSession {
    const session = new UnitSession(conn)
    session.decided = true
    session.open.resolve()
    return session
  }

  constructor(private readonly conn: Kysely<MessagingDatabase>) {
    // Kept from rejecting unobserved: a unit may fail to open before any statement waits.
    this.open.promise.catch(() => undefined)
    const gated: DatabaseConnection = {
      executeQuery: async <R>(query: CompiledQuery): Promise<QueryResult<R>> => {
        this.calls++
        await this.open.promise
        return statement(conn.executeQuery<R>(query as CompiledQuery<R>))
      },
      streamQuery: () => {
        throw new StorageError('streaming is not supported in a unit of work')
      },
    }
    this.db = new Kysely<MessagingDatabase>({
      dialect: {
        createAdapter: () => new PostgresAdapter(),
        createDriver: () => new UnitDriver(gated),
        createIntrospector: (db) => new PostgresIntrospector(db),
        createQueryCompiler: () => new PostgresQueryCompiler(),
      },
    })
  }

  selfContained<T>(run: (db: Kysely<MessagingDatabase>) => Promise<T>): Promise<T> {
    this.calls++
    if (!this.decided && this.calls === 1) {
      const d = deferred<T>()
      this.lone = { ...(d as Deferred<unknown>), run }
      return d.promise
    }
    return this.open.promise.then(() => statement(run(this.conn)))
  }

  /** Whether `result` (what the work returned) is its one self-contained statement and nothing else. */
  isLoneStatement(result: Promise<unknown>): boolean {
    return this.lone !== undefined && this.calls === 1 && result === this.lone.promise
  }

  /** Runs the lone statement in autocommit; a statement the work still sends is refused. */
  runAlone(): void {
    this.decided = true
    this.open.reject(new StorageError('a unit of work that ran as one statement made another call'))
    const lone = this.lone!
    statement(lone.run(this.conn)).then(lone.resolve, lone.reject)
  }

  /** Opens the transaction (`opening` is BEGIN and what goes with it, one round trip), then lets the statements run. */
  async openTransaction(opening: string): Promise<void> {
    this.decided = true
    try {
      await statement(sql.raw(opening).execute(this.conn))
    } catch (e) {
      this.open.reject(e)
      this.lone?.reject(e)
      throw e
    }
    this.open.resolve()
    const lone = this.lone
    if (lone) statement(lone.run(this.conn)).then(lone.resolve, lone.reject)
  }
}
