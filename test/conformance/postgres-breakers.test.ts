import { afterAll } from 'vitest'
import { createPostgresStorage } from '../../src/adapters/postgres/index.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { describeBreakerConformance } from './breaker-conformance.js'

// Tenant scopes run as a LOGIN role granted messaging_app, the fleet's as one granted
// messaging_worker: the policies of sql/0056 keep tenants apart. The suite moves the
// database's clock (messaging_now()) through the test database's clock.
let database: TestDatabase | undefined
afterAll(async () => {
  await database?.drop()
})

describeBreakerConformance('postgres', async () => {
  database = await createTestDatabase('breakers', { clock: true })
  return {
    storage: await createPostgresStorage({
      connectionString: database.appUrl,
      workerConnectionString: database.workerUrl,
      poolSize: 12,
    }),
    clock: database.clock,
  }
})
