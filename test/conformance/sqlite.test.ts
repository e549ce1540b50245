import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import { manualStoreClock } from '../support/store-clock.js'
import { describeRepositoryConformance } from './repository-conformance.js'

const dir = mkdtempSync(join(tmpdir(), 'messaging-sqlite-conformance-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

// The suite moves the store's clock (SQLite's is the process clock by default).
describeRepositoryConformance('sqlite (:memory:)', () => {
  const { clock, control } = manualStoreClock()
  return { storage: createSqliteStorage({ path: ':memory:', clock }), clock: control }
})
describeRepositoryConformance('sqlite (file, WAL)', () => {
  const { clock, control } = manualStoreClock()
  return { storage: createSqliteStorage({ path: join(dir, 'conformance.db'), clock }), clock: control }
})
