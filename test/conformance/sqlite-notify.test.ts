import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import { describeNotifyConformance } from './notify-conformance.js'

const dir = mkdtempSync(join(tmpdir(), 'messaging-sqlite-notify-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describeNotifyConformance('sqlite (:memory:)', () => createSqliteStorage({ path: ':memory:' }))
describeNotifyConformance('sqlite (file, WAL)', () => createSqliteStorage({ path: join(dir, 'notify.db') }))
