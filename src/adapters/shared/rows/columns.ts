/**
 * What differs between the SQL stores in a row: how a time, a flag and a JSON value are
 * kept. SQLite keeps epoch milliseconds, 0/1 and JSON text; PostgreSQL timestamptz (a Date
 * from `pg`), boolean and jsonb (parsed by `pg`, written as text cast to jsonb). Everything
 * else in a row is the same on both, so the row types and mappers of this folder are
 * written once over these kinds, and each store lends its own `Columns`.
 */
export interface ColumnKinds {
  /** A time as the driver returns and takes it. */
  readonly time: unknown
  /** A boolean as the driver returns and takes it. */
  readonly flag: unknown
  /** A JSON value as a statement takes it. */
  readonly jsonIn: unknown
  /** Whether the driver returns JSON as text (true) or parsed (false). */
  readonly jsonText: boolean
}

/** Reading (`read`) or writing (`write`) a row: only JSON columns differ between the two. */
export type Mode = 'read' | 'write'

/** A JSON column holding a `T`: text on a store that returns JSON as text, else `T` parsed. */
export type Json<K extends ColumnKinds, T, M extends Mode = 'read'> = M extends 'write'
  ? K['jsonIn']
  : K['jsonText'] extends true
    ? string
    : T

/** A store's conversions between its column kinds and the domain's values. */
export interface Columns<K extends ColumnKinds> {
  time(v: K['time']): Date
  toTime(d: Date): K['time']
  flag(v: K['flag']): boolean
  toFlag(b: boolean): K['flag']
  json<T>(v: Json<K, T>): T
  toJson(v: unknown): K['jsonIn']
}

/** The nullable forms, built from a store's `Columns`. */
export const timeOrNull = <K extends ColumnKinds>(c: Columns<K>, v: K['time'] | null): Date | null =>
  v === null ? null : c.time(v)
export const toTimeOrNull = <K extends ColumnKinds>(c: Columns<K>, d: Date | null): K['time'] | null =>
  d === null ? null : c.toTime(d)
