import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import { manualStoreClock } from '../support/store-clock.js'
import { describeIsolationProperties } from './tenant-isolation.js'

const dir = mkdtempSync(join(tmpdir(), 'messaging-sqlite-properties-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describeIsolationProperties(
  'sqlite (:memory:)',
  () => {
    const { clock, control } = manualStoreClock()
    return { storage: createSqliteStorage({ path: ':memory:', clock }), clock: control }
  },
  { defaultRuns: 200 },
)
describeIsolationProperties(
  'sqlite (file, WAL)',
  () => {
    const { clock, control } = manualStoreClock()
    return { storage: createSqliteStorage({ path: join(dir, 'properties.db'), clock }), clock: control }
  },
  { defaultRuns: 200 },
)
