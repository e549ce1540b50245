import { afterAll } from 'vitest'
import { createPostgresStorage } from '../../src/adapters/postgres/index.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { describeDigestConformance } from './digest-conformance.js'

// As a LOGIN role granted messaging_app: the policies of sql/0100 decide. The suite moves the
// database's clock (messaging_now()), which decides when a digest's window ends.
const databases: TestDatabase[] = []
afterAll(async () => {
  await Promise.all(databases.map((d) => d.drop()))
})

describeDigestConformance('postgres', async () => {
  const database = await createTestDatabase('digests', { clock: true })
  databases.push(database)
  return {
    storage: await createPostgresStorage({
      connectionString: database.appUrl,
      ownerConnectionString: database.adminUrl,
      poolSize: 6,
    }),
    clock: database.clock,
  }
})
