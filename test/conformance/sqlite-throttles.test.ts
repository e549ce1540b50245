import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import { manualStoreClock } from '../support/store-clock.js'
import { describeQuietHoursConformance } from './quiet-hours-conformance.js'
import { describeThrottleConformance } from './throttle-conformance.js'

const dir = mkdtempSync(join(tmpdir(), 'messaging-sqlite-throttles-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describeThrottleConformance('sqlite (file, WAL)', () => {
  const { clock, control } = manualStoreClock()
  return { storage: createSqliteStorage({ path: join(dir, 'throttles.db'), clock }), clock: control }
})

describeQuietHoursConformance('sqlite (file, WAL)', () => {
  const { clock, control } = manualStoreClock()
  return { storage: createSqliteStorage({ path: join(dir, 'quiet-hours.db'), clock }), clock: control }
})
