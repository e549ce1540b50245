import { afterAll } from 'vitest'
import { createPostgresStorage } from '../../src/adapters/postgres/index.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { describeQuietHoursConformance } from './quiet-hours-conformance.js'
import { describeThrottleConformance } from './throttle-conformance.js'

// As a LOGIN role granted messaging_app: the policies of sql/0080 decide. The suites move
// the database's clock (messaging_now()), which decides the throttle's window and when a
// held message is due. A pool of 12 lets the racing notifies run in as many transactions
// at once; the worker runs as the service principal.
const databases: TestDatabase[] = []
afterAll(async () => {
  await Promise.all(databases.map((d) => d.drop()))
})

const clocked = (name: string) => async () => {
  const database = await createTestDatabase(name, { clock: true })
  databases.push(database)
  return {
    storage: await createPostgresStorage({ connectionString: database.appUrl, poolSize: 12 }),
    clock: database.clock,
  }
}

describeThrottleConformance('postgres', clocked('throttles'))
describeQuietHoursConformance('postgres', clocked('quiet_hours'))
