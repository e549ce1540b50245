import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import { describeIsolationProperties } from './tenant-isolation.js'

const dir = mkdtempSync(join(tmpdir(), 'messaging-sqlite-properties-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describeIsolationProperties('sqlite (:memory:)', () => createSqliteStorage({ path: ':memory:' }), {
  defaultRuns: 200,
})
describeIsolationProperties(
  'sqlite (file, WAL)',
  () => createSqliteStorage({ path: join(dir, 'properties.db') }),
  {
    defaultRuns: 200,
  },
)
