import { type RawBuilder, type SqlBool, sql } from 'kysely'

/**
 * Query shapes both SQL stores write the same way: a row's key, a list's optional filters.
 * Raw fragments over column names checked against the shared row types, so either store's
 * kysely builder takes them in `.where(...)`; what differs (SQLite's scope predicate in
 * every statement, PostgreSQL's policies) is added by each store beside them.
 */
type Columns<R> = { [C in keyof R & string]?: unknown }

const equals = (column: string, value: unknown): RawBuilder<SqlBool> =>
  value === null ? sql<SqlBool>`${sql.ref(column)} is null` : sql<SqlBool>`${sql.ref(column)} = ${value}`

const all = (parts: RawBuilder<SqlBool>[]): RawBuilder<SqlBool> =>
  parts.length === 0 ? sql<SqlBool>`1 = 1` : sql<SqlBool>`${sql.join(parts, sql` and `)}`

/** Every column equal to its value (`is null` for null): a key, or part of one. */
export const matching = <R>(values: Columns<R>): RawBuilder<SqlBool> =>
  all(Object.entries(values).map(([c, v]) => equals(c, v)))

/**
 * A list's filters: a column left `undefined` is not filtered, `null` matches null only
 * (a tenant-wide row, not a business's), any other value equals.
 */
export const filtered = <R>(values: Columns<R>): RawBuilder<SqlBool> =>
  all(
    Object.entries(values)
      .filter(([, v]) => v !== undefined)
      .map(([c, v]) => equals(c, v)),
  )
