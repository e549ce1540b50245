import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import { describeNotifyRenderConformance } from './notify-render-conformance.js'

const dir = mkdtempSync(join(tmpdir(), 'messaging-sqlite-notify-render-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describeNotifyRenderConformance('sqlite (:memory:)', () => createSqliteStorage({ path: ':memory:' }))
describeNotifyRenderConformance('sqlite (file, WAL)', () =>
  createSqliteStorage({ path: join(dir, 'notify-render.db') }),
)
