import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import { describeRepositoryConformance } from './repository-conformance.js'

const dir = mkdtempSync(join(tmpdir(), 'messaging-sqlite-conformance-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describeRepositoryConformance('sqlite (:memory:)', () => createSqliteStorage({ path: ':memory:' }))
describeRepositoryConformance('sqlite (file, WAL)', () =>
  createSqliteStorage({ path: join(dir, 'conformance.db') }),
)
