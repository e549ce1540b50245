import { type ChildProcess, spawn } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPostgresStorage, type PostgresStorage } from '../../src/adapters/postgres/index.js'
import { createMessaging } from '../../src/index.js'
import { principal, tenant, uuid } from '../support/fixtures.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { untilProgressing } from '../support/progress.js'
import { crashChannelType } from './crash-support.js'

/**
 * Issue 6's crash test: three fleet worker processes deliver 2,000 messages to a receiver
 * on loopback; one is killed with SIGKILL mid-run. Once its leases lapse (2 s) the others
 * deliver what it held: every message arrives at least once, and the only duplicates are
 * messages the killed worker had sent but not acked.
 */
const MESSAGES = 2000
const WORKERS = 3
const CONCURRENCY = 8
const LEASE_MS = 2000
const TENANTS = 4
/**
 * Start-up of the worker processes (tsx compiling, pg pools, the role check): seconds on an
 * idle machine, far more on a loaded 2-core one. It has its own budget, spent in beforeAll
 * before the test's clock starts; the workers deliver nothing until they are told to go.
 */
const STARTUP_BUDGET_MS = 100_000

let db: TestDatabase
let admin: pg.Client
let storage: PostgresStorage
let receiver: Server
const received = new Map<string, string[]>()
let total = 0
const children: ChildProcess[] = []
/** Per worker id, the messages whose lease it reported lost ("lost <id>" lines). */
const lost = new Map<string, Set<string>>()
const workerIds = Array.from({ length: WORKERS }, () => uuid())
let procs: ChildProcess[] = []

beforeAll(async () => {
  db = await createTestDatabase('crash')
  admin = new pg.Client({ connectionString: db.adminUrl })
  await admin.connect()
  receiver = createServer((req, res) => {
    const id = String(req.headers['x-message'])
    const worker = String(req.headers['x-worker'])
    req.resume()
    req.on('end', () => {
      total++
      received.set(id, [...(received.get(id) ?? []), worker])
      // A receiver that takes a moment, so the run lasts long enough to be cut.
      setTimeout(() => res.end('ok'), 15)
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  storage = await createPostgresStorage({ connectionString: db.appUrl, poolSize: 2 })
  const startup = setTimeout(() => {
    for (const c of children) c.kill('SIGKILL')
  }, STARTUP_BUDGET_MS)
  try {
    procs = await Promise.all(workerIds.map(startWorker))
  } finally {
    clearTimeout(startup)
  }
}, STARTUP_BUDGET_MS + 20_000)

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  await storage?.close()
  await new Promise((resolve) => receiver?.close(resolve))
  await admin?.end()
  await db?.drop()
})

function startWorker(workerId: string): Promise<ChildProcess> {
  // node --import tsx: one process, so SIGKILL reaches the worker itself (the tsx CLI would
  // put a parent process in between that relays signals).
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(import.meta.dirname, 'crash-worker.ts'),
      db.workerUrl,
      workerId,
      String(CONCURRENCY),
      String(LEASE_MS),
    ],
    { cwd: process.cwd(), stdio: ['pipe', 'pipe', 'inherit'] },
  )
  children.push(child)
  return new Promise((resolve, reject) => {
    child.once('exit', (code, signal) =>
      reject(new Error(`worker ${workerId} exited before it was ready (${code ?? signal})`)),
    )
    let out = ''
    const lostHere = new Set<string>()
    lost.set(workerId, lostHere)
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString()
      const lines = out.split('\n')
      out = lines.pop()!
      for (const line of lines) {
        if (line === 'ready') resolve(child)
        else if (line.startsWith('lost ')) lostHere.add(line.slice(5))
      }
    })
  })
}

/** Waits while deliveries keep arriving; fails when none arrives for 30 s. */
const until = (cond: () => Promise<boolean> | boolean, what: string) =>
  untilProgressing(cond, () => total, what)

describe('crash safety', () => {
  it('loses nothing when a worker is killed mid-run, and duplicates only what it held unacked', async () => {
    const messaging = createMessaging({ storage, channelTypes: [crashChannelType] })
    const { port } = receiver.address() as AddressInfo
    const tenants = Array.from({ length: TENANTS }, () => tenant().infra)
    const adminP = principal(
      'infra_admin',
      tenants.map((t) => [t, null]),
    )
    const channels: string[] = []
    for (const t of tenants) {
      const c = await messaging.createChannel(adminP, {
        infrastructureId: t,
        channelKey: 'receiver',
        type: 'crash_http',
        config: { url: `http://127.0.0.1:${port}/in` },
      })
      channels.push(c.id)
    }
    // The messages, in one statement (the owner seeds; the workers run as messaging_worker).
    await admin.query(
      `insert into messaging_outbox (infrastructure_id, id, channel_id, payload, max_attempts, created_by, created_at, available_at)
       select ($1::uuid[])[g % ${TENANTS} + 1], gen_random_uuid(), ($2::uuid[])[g % ${TENANTS} + 1],
              jsonb_build_object('n', g), 10, $3, now(), now()
         from generate_series(1, ${MESSAGES}) g`,
      [tenants, channels, uuid()],
    )
    const ids = new Set(
      (await admin.query<{ id: string }>('select id from messaging_outbox')).rows.map((r) => r.id),
    )
    expect(ids.size).toBe(MESSAGES)

    // Every worker is up (beforeAll waited for each one's ready line): the clock starts now.
    const started = Date.now()
    for (const p of procs) p.stdin!.write('go\n')
    const [victimId] = workerIds
    const victim = procs[0]!
    // Cut the victim while it is busy: a fifth of the run done, and it has sent something.
    await until(
      () => total >= MESSAGES / 5 && [...received.values()].some((w) => w.includes(victimId!)),
      'the run to get going',
    )
    victim.removeAllListeners('exit')
    const killed = new Promise((resolve) => victim.once('exit', resolve))
    victim.kill('SIGKILL')
    await killed
    const killedAt = Date.now()
    const processed = async () =>
      (
        await admin.query<{ n: number }>(
          "select count(*)::int as n from messaging_outbox where status = 'processed'",
        )
      ).rows[0]!.n
    await until(async () => (await processed()) === MESSAGES, 'every message to be processed')
    const done = Date.now()
    for (const p of procs.slice(1)) {
      p.removeAllListeners('exit')
      const exited = new Promise((resolve) => p.once('exit', resolve))
      p.kill('SIGTERM')
      await exited
    }

    // What the victim had acked: its attempt records (written in the ack's transaction).
    const acked = new Set(
      (
        await admin.query<{ message_id: string }>(
          'select message_id from messaging_delivery_attempts where worker_id = $1',
          [victimId],
        )
      ).rows.map((r) => r.message_id),
    )
    const sentByVictim = [...received].filter(([, w]) => w.includes(victimId!)).map(([id]) => id)
    const heldUnacked = new Set(sentByVictim.filter((id) => !acked.has(id)))
    // Held at the kill: what it sent and never acked, less what it had lost before (a lease
    // that lapsed while it lived, which a loaded machine causes: at-least-once, not the kill).
    const heldAtKill = [...heldUnacked].filter((id) => !lost.get(victimId!)!.has(id))
    const duplicates = [...received].filter(([, w]) => w.length > 1).map(([id]) => id)
    const counts = {
      messages: MESSAGES,
      arrived: received.size,
      deliveries: total,
      duplicates: duplicates.length,
      victimSent: sentByVictim.length,
      victimAcked: acked.size,
      victimHeldUnacked: heldUnacked.size,
      victimLostBeforeKill: lost.get(victimId!)!.size,
      survivorsLost: workerIds.slice(1).reduce((n, w) => n + lost.get(w)!.size, 0),
      msToKill: killedAt - started,
      msAfterKillToDone: done - killedAt,
    }
    console.log('crash test', counts)

    expect([...received.keys()].every((id) => ids.has(id))).toBe(true)
    expect(received.size).toBe(MESSAGES) // none lost
    expect(await processed()).toBe(MESSAGES)
    // Every duplicate was sent by a worker that never acked it: the victim's unacked sends,
    // or a lease some worker reported lost. At the kill the victim held at most as many as
    // it had deliveries in flight.
    const lostAnywhere = new Set([...lost.values()].flatMap((l) => [...l]))
    for (const id of duplicates) expect(heldUnacked.has(id) || lostAnywhere.has(id), id).toBe(true)
    expect(heldAtKill.length).toBeLessThanOrEqual(CONCURRENCY)
    // What it held went out again from a survivor once its leases lapsed (how soon is
    // printed above, not asserted: a loaded machine makes it slower, not wrong).
    for (const id of heldUnacked)
      expect(
        received.get(id)!.some((w) => w !== victimId),
        id,
      ).toBe(true)
    // A stalled run fails within 30 s (see until); this only bounds a hang.
  }, 300_000)
})
