import { afterAll } from 'vitest'
import { createPostgresStorage } from '../../src/adapters/postgres/index.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { describeIsolationProperties } from './tenant-isolation.js'

// The same model-based properties as memory, against a database that is held to them by
// row-level security, connected as a LOGIN role granted messaging_app. Fewer runs by
// default (each command is a round trip); PROPERTY_RUNS overrides, as for every adapter.
let database: TestDatabase | undefined
afterAll(async () => {
  await database?.drop()
})

describeIsolationProperties(
  'postgres',
  async () => {
    // The model moves time: the database's clock (messaging_now()) moves with it.
    database = await createTestDatabase('properties', { clock: true })
    return {
      storage: await createPostgresStorage({ connectionString: database.appUrl }),
      clock: database.clock,
    }
  },
  { defaultRuns: 100 },
)
