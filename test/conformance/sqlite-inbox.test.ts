import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import { describeInboxConformance } from './inbox-conformance.js'

const dir = mkdtempSync(join(tmpdir(), 'messaging-sqlite-inbox-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describeInboxConformance('sqlite (:memory:)', () => createSqliteStorage({ path: ':memory:' }))
describeInboxConformance('sqlite (file, WAL)', () => createSqliteStorage({ path: join(dir, 'inbox.db') }))
