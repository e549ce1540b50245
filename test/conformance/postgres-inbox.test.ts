import { afterAll } from 'vitest'
import { createPostgresStorage } from '../../src/adapters/postgres/index.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { describeInboxConformance } from './inbox-conformance.js'

// One database for the file, connected as a LOGIN role granted messaging_app (not a
// superuser, not the owner): the policies keep each inbox its user's.
let database: TestDatabase | undefined
afterAll(async () => {
  await database?.drop()
})

describeInboxConformance('postgres', async () => {
  database = await createTestDatabase('inbox')
  return createPostgresStorage({ connectionString: database.appUrl, poolSize: 8 })
})
