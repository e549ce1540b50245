import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import { describeOrderingConformance } from './ordering-conformance.js'

const dir = mkdtempSync(join(tmpdir(), 'messaging-sqlite-ordering-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describeOrderingConformance('sqlite (file, WAL)', () =>
  createSqliteStorage({ path: join(dir, 'ordering.db') }),
)
