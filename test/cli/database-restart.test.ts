import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { createPostgresStorage, migrate } from '../../src/adapters/postgres/index.js'
import { createMessaging, type Messaging, type MessagingStorage, type Principal } from '../../src/index.js'
import { createSecretBox, secretKeysFromEnv } from '../../src/secrets/index.js'
import { startThrowawayServer, type ThrowawayServer } from '../support/postgres-server.js'
import { until } from '../support/transports.js'

const BIN = fileURLToPath(new URL('../../bin/messaging.mjs', import.meta.url))

/** How long a child process may take to log its start on a loaded 2-core machine: its own budget. */
const START_BUDGET_MS = 90_000
/** The worker's lease: a delivery whose settle was lost with the database comes back after this. */
const LEASE_MS = 2_000
const CONCURRENCY = 4

interface Child {
  readonly process: ChildProcess
  readonly err: () => string
  readonly exit: Promise<number | null>
}

function spawnCli(args: string[], extraEnv: Record<string, string>): Child {
  const { DATABASE_URL: _, MESSAGING_SECRET_KEYS: __, ...env } = process.env
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...env, ...extraEnv },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let err = ''
  child.stderr!.on('data', (c: Buffer) => {
    err += c.toString()
  })
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  return { process: child, err: () => err, exit }
}

const logLines = (child: Child) =>
  child
    .err()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string })

let server: ThrowawayServer | undefined
let storage: MessagingStorage | undefined
let receiver: Server | undefined
let worker: Child | undefined
afterAll(async () => {
  if (worker && worker.process.exitCode === null) worker.process.kill('SIGKILL')
  await storage?.close()
  await new Promise((resolve) => (receiver ? receiver.close(resolve) : resolve(undefined)))
  server?.stop()
})

describe('a worker outlives its database being killed and restarted', () => {
  it('keeps running through a crash of PostgreSQL mid-delivery, and every message accepted before and after is delivered', async () => {
    // Commits wait for their WAL to reach the operating system (synchronous_commit on; the
    // tests' other servers turn it off for speed). Off, a crash of the server lost the settles
    // of the last few hundred milliseconds, and how many deliveries then went again was a
    // matter of timing (10 once, against the bound of 8 below). On, only the deliveries whose
    // settle had not committed when the server died can go again: those the worker held.
    server = await startThrowawayServer({
      settings: { fsync: 'off', synchronous_commit: 'on', full_page_writes: 'off', max_connections: '200' },
    })
    const su = new pg.Client({ connectionString: server.url })
    await su.connect()
    try {
      await su.query('create database messaging')
    } finally {
      await su.end()
    }
    const owner = new URL(server.url)
    owner.pathname = '/messaging'
    await migrate({ connectionString: owner.toString() })
    const setup = new pg.Client({ connectionString: owner.toString() })
    await setup.connect()
    try {
      await setup.query('create role app login in role messaging_app')
      await setup.query('create role fleet login in role messaging_worker')
    } finally {
      await setup.end()
    }
    const urlFor = (user: string) => {
      const u = new URL(owner)
      u.username = user
      return u.toString()
    }

    // The receiver counts every delivery of every message (by its webhook-id).
    const received = new Map<string, number>()
    receiver = createServer((req, res) => {
      const id = String(req.headers['webhook-id'])
      req.resume()
      req.on('end', () => {
        received.set(id, (received.get(id) ?? 0) + 1)
        res.writeHead(204).end()
      })
    })
    await new Promise<void>((resolve) => receiver!.listen(0, '127.0.0.1', resolve))
    const port = (receiver.address() as AddressInfo).port

    const key = `k1:${randomBytes(32).toString('base64')}`
    const infra = randomUUID()
    const admin: Principal = {
      userId: randomUUID(),
      role: 'infra_admin',
      grants: [{ infrastructureId: infra, businessId: null }],
    }
    storage = await createPostgresStorage({ connectionString: urlFor('app') })
    const messaging: Messaging = createMessaging({
      storage,
      secrets: createSecretBox(secretKeysFromEnv({ MESSAGING_SECRET_KEYS: key })),
      destinations: { allowedRanges: ['127.0.0.0/8'], allowedPorts: [port] },
    })
    const channel = await messaging.createChannel(admin, {
      infrastructureId: infra,
      channelKey: 'hooks',
      type: 'webhook',
      maxAttempts: 25,
      config: {
        url: `http://127.0.0.1:${port}/in`,
        secrets: [`whsec_${randomBytes(24).toString('base64')}`],
      },
    })
    const enqueue = async (from: number, count: number) => {
      const results = await messaging.enqueueMany(
        admin,
        Array.from({ length: count }, (_, i) => ({
          infrastructureId: infra,
          channelId: channel.id,
          payload: { i: from + i },
        })),
      )
      return results.map((r) => r.message.id)
    }
    const ids = await enqueue(0, 80)

    worker = spawnCli(
      [
        'worker',
        '--database-url',
        urlFor('fleet'),
        '--poll-ms',
        '50',
        '--lease-ms',
        String(LEASE_MS),
        '--concurrency',
        String(CONCURRENCY),
        '--allow-http',
        '--allow-range',
        '127.0.0.0/8',
        '--allow-port',
        String(port),
      ],
      { MESSAGING_SECRET_KEYS: key },
    )
    await until(() => logLines(worker!).some((l) => l.msg === 'worker started'), START_BUDGET_MS, 50)

    // Killed mid-run: some messages delivered, others not yet.
    await until(() => received.size >= 10, 60_000, 5)
    server.crash()
    await until(
      () => logLines(worker!).some((l) => l.msg === 'store unavailable; claiming again with capped backoff'),
      60_000,
      50,
    ).catch((e) => {
      throw new Error(`${e}\n${worker!.err()}`)
    })
    expect(received.size).toBeLessThan(ids.length)
    expect(worker.process.exitCode).toBeNull()

    // Back: the same data recovered from the WAL, the worker claims again by itself.
    server.restart()
    await until(
      async () => {
        try {
          ids.push(...(await enqueue(80, 20)))
          return true
        } catch {
          return false // the test's own pool meets the dead connections first
        }
      },
      60_000,
      100,
    )
    await until(() => logLines(worker!).some((l) => l.msg === 'store available again; claiming'), 60_000, 50)
    await until(
      async () => {
        const listed = await messaging.listMessages(admin, { infrastructureId: infra, limit: 500 })
        return listed.filter((m) => m.status === 'processed').length === ids.length
      },
      120_000,
      100,
    )

    // Every message reached the receiver. A delivery sent while the database went down may
    // have been sent again once its lease lapsed (at least once), but only those in flight.
    for (const id of ids) expect(received.get(id), id).toBeGreaterThanOrEqual(1)
    const repeats = [...received.values()].reduce((n, c) => n + c - 1, 0)
    expect(repeats).toBeLessThanOrEqual(CONCURRENCY * 2)
    expect(worker.process.exitCode).toBeNull()

    // Only SIGTERM ends it, cleanly.
    worker.process.kill('SIGTERM')
    expect(await worker.exit, worker.err()).toBe(0)
  }, 400_000)
})
