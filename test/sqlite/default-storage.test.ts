import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Container } from 'inversify'
import { afterAll, describe, expect, it } from 'vitest'
import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import {
  createMessaging,
  MESSAGING_TYPES,
  type MessagingStorage,
  messagingModule,
  ValidationError,
} from '../../src/index.js'
import { principal, uuid } from '../support/fixtures.js'

const dir = mkdtempSync(join(tmpdir(), 'messaging-sqlite-default-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('sqlite is the default store', () => {
  it('wires SQLite when no storage is configured', async () => {
    const container = new Container()
    container.loadSync(messagingModule())
    const storage = container.get<MessagingStorage>(MESSAGING_TYPES.Storage)
    expect(storage.name).toBe('sqlite')
    await storage.close()
  })

  it('runs the module end to end on a SQLite file, and finds its data again after a restart', async () => {
    const path = join(dir, 'messaging.db')
    const infrastructureId = uuid()
    const admin = principal('infra_admin', [[infrastructureId, null]])
    const worker = principal('service', [[infrastructureId, null]])
    const first = createMessaging({ sqlitePath: path })
    await first.createChannel(admin, { infrastructureId, channelKey: 'ops-alerts', type: 'in_app' })
    const { message } = await first.enqueue(admin, {
      infrastructureId,
      channelKey: 'ops-alerts',
      payload: { text: 'disk 91% full' },
      idempotencyKey: 'disk-91',
    })
    await first.close()
    expect(existsSync(path)).toBe(true)

    const second = createMessaging({ sqlitePath: path })
    const again = await second.enqueue(admin, {
      infrastructureId,
      channelKey: 'ops-alerts',
      payload: { text: 'disk 91% full' },
      idempotencyKey: 'disk-91',
    })
    expect(again).toMatchObject({ created: false, message: { id: message.id } })
    const [held] = await second.claim(worker, { infrastructureId })
    expect(held).toMatchObject({ id: message.id, status: 'processing', attempts: 1 })
    expect(
      await second.ack(worker, {
        infrastructureId,
        messageId: message.id,
        leaseToken: held!.leaseToken,
        outcome: 'processed',
      }),
    ).toMatchObject({ acked: true, status: 'processed' })
    await second.close()
  })

  it('refuses a storage and a sqlitePath together', () => {
    expect(() => createMessaging({ storage: createMemoryStorage(), sqlitePath: ':memory:' })).toThrow(
      ValidationError,
    )
  })

  it('loads better-sqlite3 only when the default store is used, never on import', async () => {
    const root = fileURLToPath(new URL('../..', import.meta.url))
    const script = fileURLToPath(new URL('./child-root-import.ts', import.meta.url))
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script], { cwd: root })
    expect(JSON.parse(stdout)).toEqual({ afterImport: false, withOwnStorage: false, withDefault: true })
  })
})
