import type pg from 'pg'

/**
 * Loads a large backlog the way a bulk load is done, not the way it is measured: the
 * table's secondary indexes are dropped and built again after the rows are in (a sorted
 * build of a million rows takes seconds; a million index inserts take minutes on two
 * cores), and triggers, foreign-key checks included, are off for the session
 * (`session_replication_role = replica`: the rows are valid by construction). Both systems
 * of a figure get the same treatment; the table is vacuumed and analyzed afterwards.
 */
export async function bulkLoad(c: pg.Client, table: string, load: () => Promise<void>): Promise<void> {
  const [schema, name] = table.includes('.') ? table.split('.') : ['public', table]
  const { rows } = await c.query<{ name: string; def: string }>(
    `select i.indexname as name, i.indexdef as def
       from pg_indexes i
      where i.schemaname = $1 and i.tablename = $2
        and not exists (select 1 from pg_constraint k where k.conname = i.indexname and k.connamespace = $1::regnamespace)`,
    [schema, name],
  )
  await c.query('set session_replication_role = replica')
  await c.query(`set maintenance_work_mem = '1GB'`)
  try {
    for (const r of rows) await c.query(`drop index ${schema}.${r.name}`)
    await load()
    for (const r of rows) await c.query(r.def)
  } finally {
    await c.query('reset session_replication_role')
  }
  await c.query(`vacuum analyze ${table}`)
}

/** Backlogs from this size on are bulk-loaded (G9's million rows); smaller ones go in as rows. */
export const BULK = 200_000
