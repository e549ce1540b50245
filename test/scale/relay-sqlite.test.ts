import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import { describeRelay } from './relay-suite.js'

// A store on disk keeps channel credentials only sealed: a key, as a host configures one.
process.env.MESSAGING_SECRET_KEYS = `k1:${randomBytes(32).toString('base64')}`

const dir = mkdtempSync(join(tmpdir(), 'messaging-relay-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describeRelay('sqlite', () => createSqliteStorage({ path: join(dir, 'relay.db') }))
