import { randomBytes } from 'node:crypto'
import { afterAll } from 'vitest'
import { createPostgresStorage } from '../../src/adapters/postgres/index.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { describeDeliveryConformance } from './delivery-conformance.js'

// The store keeps channel credentials only sealed: the suite's channels carry a secret, so
// this run configures a key the way a host does, through the environment.
process.env.MESSAGING_SECRET_KEYS = `k1:${randomBytes(32).toString('base64')}`

// One database for the file. Tenant-scoped units of work run as a LOGIN role granted
// messaging_app (not a superuser, not the owner); the fleet worker's as a LOGIN role granted
// messaging_worker; prune as the tables' owner.
let database: TestDatabase | undefined
afterAll(async () => {
  await database?.drop()
})

describeDeliveryConformance('postgres', async () => {
  database = await createTestDatabase('delivery')
  return createPostgresStorage({
    connectionString: database.appUrl,
    workerConnectionString: database.workerUrl,
    ownerConnectionString: database.adminUrl,
    poolSize: 12,
  })
})
