import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import { manualStoreClock } from '../support/store-clock.js'
import { describeDigestConformance } from './digest-conformance.js'

const dir = mkdtempSync(join(tmpdir(), 'messaging-sqlite-digests-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describeDigestConformance('sqlite (file, WAL)', () => {
  const { clock, control } = manualStoreClock()
  return { storage: createSqliteStorage({ path: join(dir, 'digests.db'), clock }), clock: control }
})
