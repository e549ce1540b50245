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

let db: TestDatabase
let admin: pg.Client
let storage: PostgresStorage
let receiver: Server
const received = new Map<string, string[]>()
let total = 0
const children: ChildProcess[] = []

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
}, 60_000)

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
    { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] },
  )
  children.push(child)
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker ${workerId} exited early (${code})`)))
    child.stdout!.on('data', (b: Buffer) => {
      if (b.toString().includes('ready')) resolve(child)
    })
  })
}

const until = async (cond: () => Promise<boolean> | boolean, ms: number, what: string) => {
  const deadline = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

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

    const workerIds = Array.from({ length: WORKERS }, () => uuid())
    const started = Date.now()
    const procs = await Promise.all(workerIds.map(startWorker))
    const [victimId] = workerIds
    const victim = procs[0]!
    // Cut the victim while it is busy: a fifth of the run done, and it has sent something.
    await until(
      () => total >= MESSAGES / 5 && [...received.values()].some((w) => w.includes(victimId!)),
      30_000,
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
    await until(async () => (await processed()) === MESSAGES, 30_000, 'every message to be processed')
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
    const duplicates = [...received].filter(([, w]) => w.length > 1).map(([id]) => id)
    const counts = {
      messages: MESSAGES,
      arrived: received.size,
      deliveries: total,
      duplicates: duplicates.length,
      victimSent: sentByVictim.length,
      victimAcked: acked.size,
      victimHeldUnacked: heldUnacked.size,
      msToKill: killedAt - started,
      msAfterKillToDone: done - killedAt,
    }
    console.log('crash test', counts)

    expect([...received.keys()].every((id) => ids.has(id))).toBe(true)
    expect(received.size).toBe(MESSAGES) // none lost
    expect(await processed()).toBe(MESSAGES)
    // Every duplicate was in the victim's hands, sent but not acked, and there were at most
    // as many of those as it had deliveries in flight.
    for (const id of duplicates) expect(heldUnacked.has(id), id).toBe(true)
    expect(duplicates.length).toBeLessThanOrEqual(heldUnacked.size)
    expect(heldUnacked.size).toBeLessThanOrEqual(CONCURRENCY)
    // The held messages went out again within about one lease of the kill.
    expect(done - killedAt).toBeLessThan(LEASE_MS + 10_000)
  }, 60_000)
})
