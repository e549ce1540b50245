import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import { describeEventEndpointsConformance } from './event-endpoints-conformance.js'
import { describeEventsConformance } from './events-conformance.js'

const dir = mkdtempSync(join(tmpdir(), 'messaging-sqlite-events-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describeEventsConformance('sqlite (file, WAL)', () => createSqliteStorage({ path: join(dir, 'events.db') }))

describeEventEndpointsConformance('sqlite (file, WAL)', () =>
  createSqliteStorage({ path: join(dir, 'endpoints.db') }),
)
