import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import { describeRecipientsConformance } from './recipients-conformance.js'

const dir = mkdtempSync(join(tmpdir(), 'messaging-sqlite-recipients-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describeRecipientsConformance('sqlite (:memory:)', () => createSqliteStorage({ path: ':memory:' }))
describeRecipientsConformance('sqlite (file, WAL)', () =>
  createSqliteStorage({ path: join(dir, 'recipients.db') }),
)
