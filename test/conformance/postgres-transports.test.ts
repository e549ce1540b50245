import { afterAll } from 'vitest'
import { createPostgresStorage } from '../../src/adapters/postgres/index.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { describeTransportDelivery } from './transports-conformance.js'

let database: TestDatabase | undefined
afterAll(async () => {
  await database?.drop()
})

describeTransportDelivery('postgres', async () => {
  database = await createTestDatabase('transports')
  return createPostgresStorage({ connectionString: database.appUrl })
})
