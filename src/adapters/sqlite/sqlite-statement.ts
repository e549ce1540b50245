import { CompiledQuery, type Kysely, type QueryResult, type RawBuilder, sql } from 'kysely'

/**
 * A statement compiled once and run once per row of a batch with that row's values in their
 * slots. kysely builds and compiles a statement on every call; for the drain's per-row
 * statements (lease, settle, attempt) that cost the process more than SQLite spent running
 * them, and a set-based form over a JSON list cost SQLite more than the rows themselves
 * (BENCHMARKS.md, G11). The slots are found by marker values, so the statement's text and its
 * other parameters (the scope's grants) are exactly what kysely compiled.
 */
export function perRow<K extends string, D, R = unknown>(
  db: Kysely<D>,
  keys: readonly K[],
  build: (slot: Readonly<Record<K, RawBuilder<unknown>>>) => RawBuilder<R>,
): (values: Readonly<Record<K, unknown>>) => Promise<QueryResult<R>> {
  const marker = (k: K) => `\u0000slot:${k}\u0000`
  const slot = Object.fromEntries(keys.map((k) => [k, sql.val(marker(k))])) as Record<K, RawBuilder<unknown>>
  const compiled = build(slot).compile(db)
  const positions = keys.map((k) => {
    const at = compiled.parameters.flatMap((p, i) => (p === marker(k) ? [i] : []))
    // A slot used twice or dropped by the builder would bind the wrong value: refuse at once.
    if (at.length !== 1) throw new Error(`perRow: slot ${k} appears ${at.length} times in the statement`)
    return at[0]!
  })
  return (values) => {
    const parameters = [...compiled.parameters]
    keys.forEach((k, i) => {
      parameters[positions[i]!] = values[k]
    })
    return db.executeQuery<R>(CompiledQuery.raw(compiled.sql, parameters))
  }
}
