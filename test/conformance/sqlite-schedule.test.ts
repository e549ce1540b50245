import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import { describeScheduleConformance } from './schedule-conformance.js'

const dir = mkdtempSync(join(tmpdir(), 'messaging-sqlite-schedule-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describeScheduleConformance('sqlite (file, WAL)', () =>
  createSqliteStorage({ path: join(dir, 'schedule.db') }),
)
