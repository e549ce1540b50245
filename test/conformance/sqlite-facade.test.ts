import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import { describeFacadeConformance } from './facade-conformance.js'

const dir = mkdtempSync(join(tmpdir(), 'messaging-sqlite-facade-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describeFacadeConformance('sqlite (:memory:)', () => createSqliteStorage({ path: ':memory:' }))
describeFacadeConformance('sqlite (file, WAL)', () => createSqliteStorage({ path: join(dir, 'facade.db') }))
