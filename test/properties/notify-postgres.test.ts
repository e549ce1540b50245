import { afterAll } from 'vitest'
import { createPostgresStorage } from '../../src/adapters/postgres/index.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { describeNotifyProperties } from './notify-preferences.js'

// Against a database that holds every recipient table and the outbox to RLS, as a LOGIN
// role granted messaging_app. Fewer runs by default (each command is several round trips);
// PROPERTY_RUNS overrides, as for every adapter.
let database: TestDatabase | undefined
afterAll(async () => {
  await database?.drop()
})

describeNotifyProperties(
  'postgres',
  async () => {
    database = await createTestDatabase('notify_properties')
    return createPostgresStorage({ connectionString: database.appUrl, poolSize: 4 })
  },
  { defaultRuns: 25 },
)
