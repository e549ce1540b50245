import { afterAll } from 'vitest'
import { createPostgresStorage } from '../../src/adapters/postgres/index.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { describeTemplateConformance } from './template-conformance.js'

// One database for the file, connected as a LOGIN role granted messaging_app (not a
// superuser, not the owner): the policies keep each tenant's templates its own.
let database: TestDatabase | undefined
afterAll(async () => {
  await database?.drop()
})

describeTemplateConformance('postgres', async () => {
  database = await createTestDatabase('templates')
  return createPostgresStorage({ connectionString: database.appUrl, poolSize: 8 })
})
