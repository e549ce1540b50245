import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import { describeDeliveryConformance } from './delivery-conformance.js'

// A store on disk keeps channel credentials only sealed: the suite's channels carry a
// secret, so this run configures a key the way a host does, through the environment.
process.env.MESSAGING_SECRET_KEYS = `k1:${randomBytes(32).toString('base64')}`

const dir = mkdtempSync(join(tmpdir(), 'messaging-sqlite-delivery-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describeDeliveryConformance('sqlite (:memory:)', () => createSqliteStorage({ path: ':memory:' }))
describeDeliveryConformance('sqlite (file, WAL)', () =>
  createSqliteStorage({ path: join(dir, 'delivery.db') }),
)
