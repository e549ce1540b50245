import pg from 'pg'
import { afterAll } from 'vitest'
import { createPostgresStorage } from '../../src/adapters/postgres/index.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { describeFacadeConformance } from './facade-conformance.js'

// One database for the file. Units of work run as a LOGIN role granted messaging_app (not a
// superuser, not the owner); prune and the security log as the tables' owner.
let database: TestDatabase | undefined
afterAll(async () => {
  await database?.drop()
})

describeFacadeConformance(
  'postgres',
  async () => {
    database = await createTestDatabase('facade')
    return createPostgresStorage({
      connectionString: database.appUrl,
      ownerConnectionString: database.adminUrl,
      poolSize: 8,
    })
  },
  {
    // Every row of every table but the module-level security log, read as the owner (past
    // row-level security), each table's rows in a stable order.
    tenantTables: async () => {
      const owner = new pg.Client({ connectionString: database!.adminUrl })
      await owner.connect()
      try {
        const { rows: tables } = await owner.query<{ name: string }>(
          `select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = current_schema() and c.relkind = 'r' and c.relname <> 'messaging_security_log'
            order by 1`,
        )
        const out: Record<string, string[]> = {}
        for (const { name } of tables) {
          const { rows } = await owner.query<{ r: string }>(
            `select row_to_json(t)::text as r from "${name}" t`,
          )
          out[name] = rows.map((x) => x.r).sort()
        }
        return out
      } finally {
        await owner.end()
      }
    },
  },
)
