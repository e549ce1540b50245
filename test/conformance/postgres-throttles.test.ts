import { afterAll } from 'vitest'
import { createPostgresStorage } from '../../src/adapters/postgres/index.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { describeThrottleConformance } from './throttle-conformance.js'

// As a LOGIN role granted messaging_app: the policies of sql/0080 decide. The suite moves
// the database's clock (messaging_now()), which decides the window. A pool of 12 lets the
// racing notifies run in as many transactions at once.
let database: TestDatabase | undefined
afterAll(async () => {
  await database?.drop()
})

describeThrottleConformance('postgres', async () => {
  database = await createTestDatabase('throttles', { clock: true })
  return {
    storage: await createPostgresStorage({ connectionString: database.appUrl, poolSize: 12 }),
    clock: database.clock,
  }
})
