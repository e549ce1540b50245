import { randomBytes } from 'node:crypto'
import { afterAll } from 'vitest'
import { createPostgresStorage } from '../../src/adapters/postgres/index.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { describeRelay } from './relay-suite.js'

// The store keeps channel credentials only sealed: a key, as a host configures one.
process.env.MESSAGING_SECRET_KEYS = `k1:${randomBytes(32).toString('base64')}`

let database: TestDatabase | undefined
afterAll(async () => {
  await database?.drop()
})

describeRelay('postgres', async () => {
  database = await createTestDatabase('relay')
  return createPostgresStorage({
    connectionString: database.appUrl,
    workerConnectionString: database.workerUrl,
    poolSize: 8,
  })
})
