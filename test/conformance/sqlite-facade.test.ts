import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { createSqliteStorage, type SqliteStorage } from '../../src/adapters/sqlite/index.js'
import type { MessagingStorage } from '../../src/index.js'
import { describeFacadeConformance } from './facade-conformance.js'

const dir = mkdtempSync(join(tmpdir(), 'messaging-sqlite-facade-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

// Every table but the module-level security log.
const tenantTables = async (storage: MessagingStorage) => {
  const { messaging_security_log: _security, ...tables } = (storage as SqliteStorage).dump()
  return tables
}

describeFacadeConformance('sqlite (:memory:)', () => createSqliteStorage({ path: ':memory:' }), {
  tenantTables,
})
describeFacadeConformance('sqlite (file, WAL)', () => createSqliteStorage({ path: join(dir, 'facade.db') }), {
  tenantTables,
})
