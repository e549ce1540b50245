import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import { manualStoreClock } from '../support/store-clock.js'
import { describeQueueHistoryConformance } from './queue-history-conformance.js'

const dir = mkdtempSync(join(tmpdir(), 'messaging-sqlite-queue-history-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describeQueueHistoryConformance('sqlite (file, WAL)', async () => {
  const { clock, control } = manualStoreClock()
  return { storage: createSqliteStorage({ path: join(dir, 'queue-history.db'), clock }), clock: control }
})
