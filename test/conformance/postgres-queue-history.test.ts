import { afterAll } from 'vitest'
import { createPostgresStorage } from '../../src/adapters/postgres/index.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { describeQueueHistoryConformance } from './queue-history-conformance.js'

// Requests as a LOGIN role granted messaging_app (not a superuser, not the owner): the
// policies decide what a caller reads; the rollup is written by the outbox's triggers
// (sql/0120); prune as the tables' owner. The suite moves the database's clock.
let database: TestDatabase | undefined
afterAll(async () => {
  await database?.drop()
})

describeQueueHistoryConformance('postgres', async () => {
  database = await createTestDatabase('queue_history', { clock: true })
  return {
    storage: await createPostgresStorage({
      connectionString: database.appUrl,
      ownerConnectionString: database.adminUrl,
      poolSize: 4,
    }),
    clock: database.clock,
  }
})
