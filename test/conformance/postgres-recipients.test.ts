import { afterAll } from 'vitest'
import { createPostgresStorage } from '../../src/adapters/postgres/index.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { describeRecipientsConformance } from './recipients-conformance.js'

// Connected as a LOGIN role granted messaging_app: the policies of sql/0020, not the
// adapter, keep each member to its own profile and choices.
let database: TestDatabase | undefined
afterAll(async () => {
  await database?.drop()
})

describeRecipientsConformance('postgres', async () => {
  database = await createTestDatabase('recipients')
  return createPostgresStorage({ connectionString: database.appUrl, poolSize: 8 })
})
