import { afterAll } from 'vitest'
import { createPostgresStorage } from '../../src/adapters/postgres/index.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { describeFacadeConformance } from './facade-conformance.js'

// One database for the file. Units of work run as a LOGIN role granted messaging_app (not a
// superuser, not the owner); prune as the tables' owner.
let database: TestDatabase | undefined
afterAll(async () => {
  await database?.drop()
})

describeFacadeConformance('postgres', async () => {
  database = await createTestDatabase('facade')
  return createPostgresStorage({
    connectionString: database.appUrl,
    ownerConnectionString: database.adminUrl,
    poolSize: 8,
  })
})
