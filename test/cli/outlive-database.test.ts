import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { createPostgresStorage, migrate } from '../../src/adapters/postgres/index.js'
import { createMessaging, type MessagingStorage, type Principal, StorageError } from '../../src/index.js'
import { freePort, startThrowawayServer, type ThrowawayServer } from '../support/postgres-server.js'
import { until } from '../support/transports.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const BIN = join(ROOT, 'bin/messaging.mjs')

/** How long a child process may take to print its first line on a loaded 2-core machine: its own budget, before the scenario's clock. */
const START_BUDGET_MS = 90_000
/** The scenario: the database comes up this long after the worker and the server. */
const DOWN_FOR_MS = 10_000

interface Child {
  readonly process: ChildProcess
  readonly out: () => string
  readonly err: () => string
  readonly exit: Promise<number | null>
}

function spawnCli(args: string[]): Child {
  const { DATABASE_URL: _, MESSAGING_SECRET_KEYS: __, ...env } = process.env
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString()
  })
  child.stderr!.on('data', (c: Buffer) => {
    err += c.toString()
  })
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  return { process: child, out: () => out, err: () => err, exit }
}

const logLines = (child: Child) =>
  child
    .err()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string; err?: string; failedClaims?: number; workerId?: string })

let server: ThrowawayServer | undefined
const children: Child[] = []
const dir = mkdtempSync(join(tmpdir(), 'messaging-outlive-'))
let storage: MessagingStorage | undefined
afterAll(async () => {
  for (const c of children) if (c.process.exitCode === null) c.process.kill('SIGKILL')
  await storage?.close()
  server?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('the worker and the server outlive their database', () => {
  it('start while PostgreSQL is down, answer 503 with Retry-After, log once per state change, and deliver every message once it appears 10 s later', async () => {
    // The port is chosen first; nothing listens on it until the server starts.
    const port = await freePort()
    const url = (user: string) => `postgres://${user}@127.0.0.1:${port}/messaging`
    const infra = randomUUID()
    const admin: Principal = {
      userId: randomUUID(),
      role: 'infra_admin',
      grants: [{ infrastructureId: infra, businessId: null }],
    }
    const token = `tok_${randomBytes(16).toString('hex')}`
    const tokens = join(dir, 'tokens.json')
    writeFileSync(tokens, JSON.stringify({ [token]: admin }))

    // The library: a storage over a server that is not there yet is created all the same;
    // its units of work fail with StorageError (503, worth a retry) until the server is up.
    storage = await createPostgresStorage({ connectionString: url('app') })
    const messaging = createMessaging({ storage })
    await expect(messaging.listChannels(admin, { infrastructureId: infra })).rejects.toBeInstanceOf(
      StorageError,
    )

    // A fleet worker (the messaging_worker login), the one that delivers, and the HTTP
    // server (the app's login), each given its own start-up budget.
    const worker = spawnCli(['worker', '--database-url', url('fleet'), '--poll-ms', '100'])
    const serve = spawnCli([
      'serve',
      '--database-url',
      url('app'),
      '--port',
      '0',
      '--tokens',
      tokens,
      '--no-worker',
    ])
    children.push(worker, serve)
    await until(
      () => logLines(worker).some((l) => l.msg === 'store unavailable; claiming again with capped backoff'),
      START_BUDGET_MS,
      50,
    )
    await until(() => /listening on (\S+)/.test(serve.out()), START_BUDGET_MS, 50)
    const base = /listening on (\S+)/.exec(serve.out())![1]!
    const get = () =>
      fetch(`${base}/channels?infrastructureId=${infra}`, { headers: { authorization: `Bearer ${token}` } })

    // Meanwhile: a problem document with a stable code and Retry-After, every time.
    for (let i = 0; i < 5; i++) {
      const res = await get()
      expect(res.status).toBe(503)
      expect(res.headers.get('retry-after')).toBe('5')
      expect(res.headers.get('content-type')).toBe('application/problem+json')
      expect(await res.json()).toMatchObject({ status: 503, code: 'STORAGE_FAILURE' })
    }

    // The database appears 10 s after the processes are up; they are still running then.
    await new Promise((resolve) => setTimeout(resolve, DOWN_FOR_MS))
    expect(worker.process.exitCode).toBeNull()
    expect(serve.process.exitCode).toBeNull()
    server = await startThrowawayServer({ port })
    const su = new pg.Client({ connectionString: server.url })
    await su.connect()
    try {
      await su.query('create database messaging')
    } finally {
      await su.end()
    }
    const owner = `postgres://postgres@127.0.0.1:${port}/messaging`
    await migrate({ connectionString: owner })
    const setup = new pg.Client({ connectionString: owner })
    await setup.connect()
    try {
      // Each login with its roles in one statement: no login exists without its grant.
      await setup.query('create role app login in role messaging_app')
      await setup.query('create role fleet login in role messaging_worker')
    } finally {
      await setup.end()
    }

    // The same storage works now; so does the server.
    const channel = await messaging.createChannel(admin, {
      infrastructureId: infra,
      channelKey: 'alerts',
      type: 'in_app',
    })
    await messaging.addMember(admin, { infrastructureId: infra, channelId: channel.id, userId: admin.userId })
    const ids: string[] = []
    for (let i = 0; i < 20; i++) {
      const { message } = await messaging.enqueue(admin, {
        infrastructureId: infra,
        channelId: channel.id,
        payload: { i },
      })
      ids.push(message.id)
    }
    await until(async () => (await get()).status === 200, 60_000, 100)
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${base}/queue`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ infrastructureId: infra, channelKey: 'alerts', payload: { http: i } }),
      })
      expect(res.status).toBe(201)
      ids.push(((await res.json()) as { message: { id: string } }).message.id)
    }

    // Every message delivered.
    await until(
      async () =>
        (await messaging.listMessages(admin, { infrastructureId: infra, limit: 100 })).filter(
          (m) => m.status === 'processed',
        ).length === ids.length,
      60_000,
      100,
    )
    expect(await messaging.countUnread(admin, { infrastructureId: infra })).toEqual({ unread: ids.length })
    // By the worker process started before the database, each at its first attempt.
    const workerId = logLines(worker).find((l) => l.msg === 'worker started')?.workerId
    for (const id of ids) {
      const attempts = await messaging.listAttempts(admin, { infrastructureId: infra, messageId: id })
      expect(attempts.map((a) => [a.workerId, a.outcome])).toEqual([[workerId, 'delivered']])
    }

    // The worker process says it is back once its next try (at most 5 s after the last) claims.
    await until(() => logLines(worker).some((l) => l.msg === 'store available again; claiming'), 30_000, 50)

    // Only SIGTERM ends them, cleanly.
    worker.process.kill('SIGTERM')
    serve.process.kill('SIGTERM')
    expect(await worker.exit, worker.err()).toBe(0)
    expect(await serve.exit, serve.err()).toBe(0)

    // Logged once per state change, not once per try: each "unavailable" line gives a
    // reason other than the one before it (refused, then the login not there yet ...), and
    // the worker tried more often than it said so.
    const claims = 'store unavailable; claiming again with capped backoff'
    const requests = 'store unavailable; answering 503 with Retry-After until it is back'
    for (const [child, msg] of [
      [worker, claims],
      [serve, requests],
    ] as const) {
      const down = logLines(child).filter((l) => l.msg === msg)
      expect(down.length, child.err()).toBeGreaterThanOrEqual(1)
      for (let i = 1; i < down.length; i++) expect(down[i]!.err, child.err()).not.toBe(down[i - 1]!.err)
      expect(down[0]!.err).toContain('ECONNREFUSED')
    }
    // Five refused requests, one line.
    expect(logLines(serve).filter((l) => l.msg === requests && l.err?.includes('ECONNREFUSED'))).toHaveLength(
      1,
    )
    const workerLines = logLines(worker)
    const back = workerLines.filter((l) => l.msg === 'store available again; claiming')
    expect(back).toHaveLength(1)
    const downLines = workerLines.filter((l) => l.msg === claims).length
    expect(back[0]!.failedClaims).toBeGreaterThan(downLines)
    expect(logLines(serve).filter((l) => l.msg === 'store available again')).toHaveLength(1)
    // Nothing secret or noisy: no stack traces in the lines.
    expect(worker.err() + serve.err()).not.toMatch(/\n\s+at /)
  }, 300_000)
})
