import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import { manualStoreClock } from '../support/store-clock.js'
import { describeBreakerConformance } from './breaker-conformance.js'

const dir = mkdtempSync(join(tmpdir(), 'messaging-sqlite-breakers-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describeBreakerConformance('sqlite (file, WAL)', () => {
  const { clock, control } = manualStoreClock()
  return { storage: createSqliteStorage({ path: join(dir, 'breakers.db'), clock }), clock: control }
})
