import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import { describeTransportDelivery } from './transports-conformance.js'

const dir = mkdtempSync(join(tmpdir(), 'messaging-transports-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describeTransportDelivery('sqlite', () => createSqliteStorage({ path: join(dir, 'transports.db') }))
