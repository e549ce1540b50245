import { afterAll } from 'vitest'
import { createPostgresStorage } from '../../src/adapters/postgres/index.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { describeNotifyRenderConformance } from './notify-render-conformance.js'

// As a LOGIN role granted messaging_app: the policies of sql/0021 (and the outbox's) decide.
let database: TestDatabase | undefined
afterAll(async () => {
  await database?.drop()
})

describeNotifyRenderConformance('postgres', async () => {
  database = await createTestDatabase('notify_render')
  return createPostgresStorage({ connectionString: database.appUrl, poolSize: 8 })
})
