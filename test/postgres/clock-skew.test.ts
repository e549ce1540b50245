import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { readdirSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPostgresStorage, type PostgresStorage } from '../../src/adapters/postgres/index.js'
import { createMessaging, type Messaging } from '../../src/index.js'
import { principal, tenant } from '../support/fixtures.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { crashChannelType } from './crash-support.js'

/**
 * Issue 13, item 2: the database's clock decides, not the worker's. A fleet worker process
 * whose clock runs ten minutes ahead (Debian's libfaketime, `FAKETIME=+10m`, preloaded into
 * it) works beside a healthy one. When every time was the worker's, its "now" was past
 * every lease a healthy worker held and past every message scheduled five minutes ahead,
 * so its first claim took all of them (20 duplicate deliveries in the run that found it).
 * Now leases and due times are compared with the database's now().
 */

const SKEW = '+10m'
const HELD = 20
const SCHEDULED = 5

/** Debian's libfaketime (package libfaketime, pulled in by faketime; .ci/run installs it). */
function libfaketime(): string {
  const candidates = readdirSync('/usr/lib', { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => join('/usr/lib', e.name, 'faketime', 'libfaketime.so.1'))
  const found = candidates.find((p) => spawnSync('test', ['-f', p]).status === 0)
  if (!found) {
    throw new Error('libfaketime.so.1 not found under /usr/lib/*/faketime: install the faketime package')
  }
  return found
}

let db: TestDatabase
let storage: PostgresStorage
let messaging: Messaging
let receiver: Server
let releaseHeld: () => void = () => undefined
const held = new Promise<void>((resolve) => {
  releaseHeld = resolve
})
/** message id -> the workers that delivered it, in arrival order. */
const deliveries = new Map<string, string[]>()
const children: ChildProcess[] = []
/** Worker ids (uuids, as the worker's principal needs) by the name the test gives them. */
const WORKERS = { healthy: randomUUID(), skewed: randomUUID() } as const
const nameOf = (id: string) =>
  (Object.keys(WORKERS) as Array<keyof typeof WORKERS>).find((k) => WORKERS[k] === id) ?? id

beforeAll(async () => {
  db = await createTestDatabase('clock_skew')
  receiver = createServer((req: IncomingMessage, res: ServerResponse) => {
    const id = String(req.headers['x-message'])
    const worker = nameOf(String(req.headers['x-worker']))
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      deliveries.set(id, [...(deliveries.get(id) ?? []), worker])
      const { group } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { group: string }
      // The healthy worker's deliveries of the held group hang until the test lets them go,
      // so it holds those messages under live leases (renewed) all the while.
      if (group === 'held') void held.then(() => res.end('ok'))
      else res.end('ok')
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  storage = await createPostgresStorage({ connectionString: db.appUrl, poolSize: 2 })
  messaging = createMessaging({ storage, channelTypes: [crashChannelType] })
}, 60_000)

afterAll(async () => {
  releaseHeld()
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  await storage?.close()
  await new Promise((resolve) => receiver?.close(resolve))
  await db?.drop()
})

/**
 * A fleet worker process (test/postgres/crash-worker.ts), started through its gate: it is
 * told to go once built, so start-up (seconds on a busy machine) is not part of any wait.
 */
function startWorker(
  name: keyof typeof WORKERS,
  concurrency: number,
  env: NodeJS.ProcessEnv = {},
): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(import.meta.dirname, 'crash-worker.ts'),
      db.workerUrl,
      WORKERS[name],
      String(concurrency),
      '2000',
    ],
    { cwd: process.cwd(), stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } },
  )
  children.push(child)
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker ${name} exited early (${code})`)))
    let out = ''
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString()
      if (out.split('\n').includes('ready')) {
        out = ''
        child.stdin!.write('go\n')
        resolve(child)
      }
    })
  })
}

const until = async (cond: () => Promise<boolean> | boolean, ms: number, what: string) => {
  const deadline = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what} (${deliveries.size} messages reached the receiver)`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const stopped = (c: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    c.removeAllListeners('exit')
    c.once('exit', (code) => resolve(code))
    c.kill('SIGTERM')
  })

describe('a worker whose clock runs ten minutes ahead', () => {
  it('takes no lease a healthy worker still holds and sends nothing scheduled five minutes ahead', async () => {
    const skewed = { LD_PRELOAD: libfaketime(), FAKETIME: SKEW }
    // The tool works here: a process under it reads a clock ten minutes ahead.
    const probe = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(Date.now()))'], {
      env: { ...process.env, ...skewed },
      encoding: 'utf8',
    })
    expect(Number(probe.stdout) - Date.now()).toBeGreaterThan(9 * 60_000)

    const t = tenant()
    const admin = principal('infra_admin', [[t.infra, null]])
    const producer = principal('member', [[t.infra, null]])
    const service = principal('service', [[t.infra, null]])
    await messaging.createChannel(admin, {
      infrastructureId: t.infra,
      channelKey: 'skew',
      type: crashChannelType.type,
      config: { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook` },
    })
    const enqueue = async (group: string, availableAt?: Date) =>
      (
        await messaging.enqueue(producer, {
          infrastructureId: t.infra,
          channelKey: 'skew',
          payload: { group },
          ...(availableAt && { availableAt }),
        })
      ).message.id
    const heldIds: string[] = []
    for (let i = 0; i < HELD; i++) heldIds.push(await enqueue('held'))
    const scheduledIds: string[] = []
    for (let i = 0; i < SCHEDULED; i++)
      scheduledIds.push(await enqueue('scheduled', new Date(Date.now() + 5 * 60_000)))

    // The healthy worker takes all 20 and holds them (its concurrency is 20: it takes nothing else).
    const healthy = await startWorker('healthy', HELD)
    await until(() => heldIds.every((id) => deliveries.has(id)), 120_000, 'the healthy worker to hold all 20')

    // The skewed worker runs beside it. A message due now shows that it claims: once it has
    // delivered that one, it has claimed at least once while every held lease was live and
    // the scheduled messages were five minutes away by the database's clock (by its own,
    // the leases had lapsed ten minutes ago and the scheduled ones were due).
    const skewedWorker = await startWorker('skewed', 8, skewed)
    const control = await enqueue('control')
    await until(() => deliveries.has(control), 120_000, 'a message due now to be delivered')
    // A few more of its claim cycles (it polls every 100 ms) while the leases stay live.
    const more = await enqueue('control')
    await until(() => deliveries.has(more), 120_000, 'a second message due now to be delivered')

    for (const id of heldIds) expect(deliveries.get(id), `held ${id}`).toEqual(['healthy'])
    for (const id of scheduledIds) expect(deliveries.has(id), `scheduled ${id}`).toBe(false)
    // The healthy worker, full, took neither: the skewed one claimed, and claimed only these.
    expect([deliveries.get(control), deliveries.get(more)]).toEqual([['skewed'], ['skewed']])

    // The healthy worker's deliveries finish: each held message was delivered once, by it.
    releaseHeld()
    await until(
      async () => (await messaging.stats(service, { infrastructureId: t.infra }))[0]?.processed === HELD + 2,
      120_000,
      'the held messages to be settled',
    )
    for (const id of heldIds) {
      expect(deliveries.get(id)).toEqual(['healthy'])
      expect(await messaging.getMessage(service, { infrastructureId: t.infra, messageId: id })).toMatchObject(
        {
          status: 'processed',
          attempts: 1,
        },
      )
    }
    for (const id of scheduledIds) {
      expect(deliveries.has(id)).toBe(false)
      expect(await messaging.getMessage(service, { infrastructureId: t.infra, messageId: id })).toMatchObject(
        {
          status: 'pending',
          attempts: 0,
        },
      )
    }
    expect(await Promise.all([stopped(healthy), stopped(skewedWorker)])).toEqual([0, 0])
    // Two worker processes start on a machine that may be busy: start-up has its own budget.
  }, 300_000)
})
