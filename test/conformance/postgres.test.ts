import { afterAll } from 'vitest'
import { createPostgresStorage } from '../../src/adapters/postgres/index.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { describeRepositoryConformance } from './repository-conformance.js'

// One database for the file, connected as a LOGIN role granted messaging_app (not a
// superuser, not the owner): the policies, not the adapter, keep tenants apart. The suite
// moves the database's clock (messaging_now()) through the test database's clock.
let database: TestDatabase | undefined
afterAll(async () => {
  await database?.drop()
})

describeRepositoryConformance('postgres', async () => {
  database = await createTestDatabase('conformance', { clock: true })
  return {
    storage: await createPostgresStorage({ connectionString: database.appUrl, poolSize: 12 }),
    clock: database.clock,
  }
})
