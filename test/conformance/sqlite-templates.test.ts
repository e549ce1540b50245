import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import { describeTemplateConformance } from './template-conformance.js'

const dir = mkdtempSync(join(tmpdir(), 'messaging-sqlite-templates-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describeTemplateConformance('sqlite (:memory:)', () => createSqliteStorage({ path: ':memory:' }))
describeTemplateConformance('sqlite (file, WAL)', () =>
  createSqliteStorage({ path: join(dir, 'templates.db') }),
)
