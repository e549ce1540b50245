import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPostgresStorage } from '../../src/adapters/postgres/index.js'
import { createMessaging, type Messaging, type Principal } from '../../src/index.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { until } from '../support/transports.js'
import { runCli } from './support.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

const cli = runCli

describe('the command line on PostgreSQL', () => {
  let db: TestDatabase
  let messaging: Messaging | undefined
  beforeAll(async () => {
    db = await createTestDatabase('cli', { empty: true })
  })
  afterAll(async () => {
    await messaging?.close()
    await db?.drop()
  })

  it('migrates as the owner (once), then operates the queue through DATABASE_URL as the app and worker roles', async () => {
    const first = await cli({ DATABASE_URL: db.ownerUrl }, 'migrate')
    expect(first.code, first.err).toBe(0)
    expect(first.out).toMatch(/^applied 0001_\w+\.sql, /)
    // The log line names the server, never the password.
    expect(first.err).not.toContain(new URL(db.ownerUrl).password)
    expect(await cli({ DATABASE_URL: db.ownerUrl }, 'migrate')).toMatchObject({
      code: 0,
      out: 'already up to date\n',
    })

    const infra = randomUUID()
    const admin: Principal = {
      userId: randomUUID(),
      role: 'infra_admin',
      grants: [{ infrastructureId: infra, businessId: null }],
    }
    messaging = createMessaging({ storage: await createPostgresStorage({ connectionString: db.appUrl }) })
    const channel = await messaging.createChannel(admin, {
      infrastructureId: infra,
      channelKey: 'alerts',
      type: 'in_app',
    })
    await messaging.addMember(admin, { infrastructureId: infra, channelId: channel.id, userId: admin.userId })

    const app = { DATABASE_URL: db.appUrl }
    const enq = await cli(
      app,
      'enqueue',
      '--infra',
      infra,
      '--channel',
      'alerts',
      '--payload',
      '{"title":"deploy done"}',
      '--json',
    )
    expect(enq.code, enq.err).toBe(0)
    const { id } = JSON.parse(enq.out) as { id: string }
    expect(JSON.parse((await cli(app, 'stats', '--infra', infra, '--json')).out)).toEqual([
      expect.objectContaining({ channelId: channel.id, pending: 1 }),
    ])

    // A fleet worker (the messaging_worker role) delivers it, then stops on SIGTERM.
    const { DATABASE_URL: _, ...env } = process.env
    const worker = spawn(process.execPath, [join(ROOT, 'bin/messaging.mjs'), 'worker', '--poll-ms', '50'], {
      cwd: ROOT,
      env: { ...env, DATABASE_URL: db.workerUrl },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let logs = ''
    worker.stderr.on('data', (c: Buffer) => {
      logs += c.toString()
    })
    const exit = new Promise<number | null>((resolve) => worker.on('close', resolve))
    // Start-up (tsx compiling the sources, on a loaded machine) has a budget of its own.
    await until(() => logs.includes('"worker started"'), 90_000, 50)
    await until(
      async () =>
        (await messaging!.getMessage(admin, { infrastructureId: infra, messageId: id })).status ===
        'processed',
      20_000,
      50,
    )
    worker.kill('SIGTERM')
    expect(await exit, logs).toBe(0)
    expect(logs).toContain('"fleet":true')
    expect(logs).not.toContain(new URL(db.workerUrl).password)
    expect(await messaging.countUnread(admin, { infrastructureId: infra })).toEqual({ unread: 1 })

    // An outsider's refusal is counted in the security log, which only the owner reads.
    const outsider: Principal = {
      userId: randomUUID(),
      role: 'member',
      grants: [{ infrastructureId: randomUUID(), businessId: null }],
    }
    await expect(
      messaging.enqueue(outsider, { infrastructureId: infra, channelId: channel.id, payload: 1 }),
    ).rejects.toMatchObject({ code: 'TENANT_SCOPE_VIOLATION' })
    const log = await cli({ DATABASE_URL: db.ownerUrl }, 'security-log', '--actor', outsider.userId, '--json')
    expect(log.code, log.err).toBe(0)
    expect(JSON.parse(log.out)).toMatchObject([
      { actorId: outsider.userId, action: 'outbox.enqueue', refusals: 1, lastInfrastructureId: infra },
    ])
    const asApp = await cli(app, 'security-log')
    expect(asApp.code).toBe(1)
    expect(asApp.err).toContain("the security log is read with the tables' owner's rights")
  }, 150_000)
})
