import { afterAll } from 'vitest'
import { createPostgresStorage } from '../../src/adapters/postgres/index.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { describeEventEndpointsConformance } from './event-endpoints-conformance.js'
import { describeEventsConformance } from './events-conformance.js'

// Tenant-scoped units of work run as a LOGIN role granted messaging_app (not a superuser,
// not the owner); the fleet worker's as one granted messaging_worker; prune as the owner.
let database: TestDatabase | undefined
let endpointsDatabase: TestDatabase | undefined
afterAll(async () => {
  await database?.drop()
  await endpointsDatabase?.drop()
})

describeEventsConformance('postgres', async () => {
  database = await createTestDatabase('events')
  return createPostgresStorage({
    connectionString: database.appUrl,
    workerConnectionString: database.workerUrl,
    ownerConnectionString: database.adminUrl,
    poolSize: 8,
  })
})

describeEventEndpointsConformance('postgres', async () => {
  endpointsDatabase = await createTestDatabase('endpoints')
  return createPostgresStorage({
    connectionString: endpointsDatabase.appUrl,
    workerConnectionString: endpointsDatabase.workerUrl,
    ownerConnectionString: endpointsDatabase.adminUrl,
    poolSize: 8,
  })
})
