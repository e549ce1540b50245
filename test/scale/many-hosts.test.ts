import type { ChildProcess } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPostgresStorage } from '../../src/adapters/postgres/index.js'
import { migrate } from '../../src/adapters/postgres/migrator.js'
import { createMessaging, type Messaging } from '../../src/index.js'
import { principal } from '../support/fixtures.js'
import { createTestNetwork, type NetnsHost, type TestNetwork } from '../support/netns.js'
import { startThrowawayServer, type ThrowawayServer } from '../support/postgres-server.js'
import { untilProgressing } from '../support/progress.js'

/**
 * Issue 20 item 1: many hosts, one database. Three hosts (network namespaces with their own
 * addresses on a test subnet) each run a delivery worker process against one PostgreSQL that
 * listens on the subnet, and a webhook receiver. 10,000 messages of 100 tenants (one tenant
 * holding half of them as an old backlog) go to receivers across the hosts; one worker is
 * killed with SIGKILL mid-run. Claims are disjoint (every message settled once, by one
 * worker), none is lost, a message reaches a receiver twice only if the killed worker had
 * sent it without acking, and the 99 small tenants are served long before the backlog is.
 */
const MESSAGES = 10_000
const TENANTS = 100
const BACKLOG = 5050 // tenant 0's; the other 99 have 50 each
const SMALL = (MESSAGES - BACKLOG) / (TENANTS - 1)
const CONCURRENCY = 16 // per worker, as host-worker.ts sets it

const root = fileURLToPath(new URL('../..', import.meta.url))
const script = (name: string) => fileURLToPath(new URL(`./hosts/${name}`, import.meta.url))

let network: TestNetwork
let server: ThrowawayServer
let admin: pg.Client
let messaging: Messaging
const password = `pw_${randomBytes(8).toString('hex')}`
const receiverSecret = `whsec_${randomBytes(24).toString('base64')}`
const env = {
  ...process.env,
  MESSAGING_SECRET_KEYS: process.env.MESSAGING_SECRET_KEYS ?? `k1:${randomBytes(32).toString('base64')}`,
  RECEIVER_SECRET: receiverSecret,
}
process.env.MESSAGING_SECRET_KEYS = env.MESSAGING_SECRET_KEYS

beforeAll(async () => {
  network = await createTestNetwork({ hosts: 3 })
  server = await startThrowawayServer({
    listen: [network.gateway],
    hba: [`host all all ${network.subnet} scram-sha-256`],
  })
  admin = new pg.Client({ connectionString: server.url })
  await admin.connect()
  await admin.query('create database messaging_hosts')
  const db = (user: string, host = '127.0.0.1') => {
    const u = new URL(server.url)
    u.hostname = host
    u.username = user
    u.password = user === 'postgres' ? '' : password
    u.pathname = '/messaging_hosts'
    return u.toString()
  }
  await migrate({ connectionString: db('postgres') })
  for (const [role, grant] of [
    ['hosts_app', 'messaging_app'],
    ['hosts_worker', 'messaging_worker'],
  ] as const) {
    await admin.query(`create role ${role} login nosuperuser nobypassrls password '${password}'`)
    await admin.query(`grant ${grant} to ${role}`)
  }
  await admin.end()
  admin = new pg.Client({ connectionString: db('postgres') })
  await admin.connect()
  messaging = createMessaging({
    storage: await createPostgresStorage({ connectionString: db('hosts_app') }),
    // The receivers live on the test subnet: the operator allows it, as for an internal network.
    destinations: { allowedRanges: [network.subnet] },
  })
  workerUrl = db('hosts_worker', network.gateway)
}, 120_000)

let workerUrl = ''
afterAll(async () => {
  await network?.remove()
  await messaging?.close()
  await admin?.end()
  server?.stop()
})

interface Started {
  readonly host: NetnsHost
  readonly proc: ChildProcess
  readonly ready: Promise<void>
  readonly exited: Promise<number | null>
}

/** Runs a script of test/scale/hosts in a host's namespace; `onLine` sees each line it prints. */
function run(host: NetnsHost, name: string, args: string[], onLine: (line: string) => void): Started {
  const proc = host.spawn(process.execPath, ['--import', 'tsx', script(name), ...args], {
    cwd: root,
    env: { ...env, SUBNET: network.subnet },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let err = ''
  proc.stderr!.on('data', (d: Buffer) => {
    err += d.toString()
  })
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)))
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      if (line === 'ready') resolve()
      else onLine(line)
    })
    void exited.then((code) =>
      reject(new Error(`${name} on ${host.name} exited ${code}: ${err.slice(-2000)}`)),
    )
  })
  return { host, proc, ready, exited }
}

describe('many hosts, one database', () => {
  it('delivers 10,000 messages of 100 tenants from three hosts: claims disjoint, none lost, fair, duplicates only from the killed worker', async () => {
    const setupStarted = Date.now()
    // 100 tenants, each with a webhook channel to the receiver on one of the hosts.
    const tenants = Array.from({ length: TENANTS }, () => randomUUID())
    const adminP = principal(
      'infra_admin',
      tenants.map((t) => [t, null]),
    )
    const channels = await Promise.all(
      tenants.map(async (t, i) => {
        const host = network.hosts[i % 3]!
        const c = await messaging.createChannel(adminP, {
          infrastructureId: t,
          channelKey: 'hook',
          type: 'webhook',
          config: { url: `http://${host.address}:8080/in`, secrets: [receiverSecret], timeoutMs: 10_000 },
          maxAttempts: 10,
        })
        return c.id
      }),
    )
    // The messages, in one statement as the tables' owner: tenant 0's backlog the oldest.
    await admin.query(
      `insert into messaging_outbox (infrastructure_id, id, channel_id, payload, max_attempts, created_by, created_at, available_at)
       select ($1::uuid[])[t + 1], gen_random_uuid(), ($2::uuid[])[t + 1], jsonb_build_object('n', g), 10, $3,
              now(), now() - interval '1 hour' + make_interval(secs => g / 1000.0)
         from generate_series(0, ${MESSAGES - 1}) g,
              lateral (select case when g < ${BACKLOG} then 0 else 1 + (g - ${BACKLOG}) % ${TENANTS - 1} end as t) pick`,
      [tenants, channels, randomUUID()],
    )
    const ids = new Set(
      (await admin.query<{ id: string }>('select id from messaging_outbox')).rows.map((r) => r.id),
    )
    expect(ids.size).toBe(MESSAGES)

    // A receiver and a worker on each host.
    const received = new Map<string, string[]>()
    let bad = 0
    let total = 0
    const receivers = network.hosts.map((h) =>
      run(h, 'host-receiver.ts', [h.address, '8080'], (line) => {
        const d = JSON.parse(line) as { id?: string; by?: string; bad?: true }
        if (d.bad) bad++
        else {
          total++
          received.set(d.id!, [...(received.get(d.id!) ?? []), d.by!])
        }
      }),
    )
    const workerIds = network.hosts.map(() => randomUUID())
    /** Per host, the messages whose lease its worker reported lost. */
    const lost = new Map(network.hosts.map((h) => [h.name, new Set<string>()]))
    const workers = network.hosts.map((h, i) =>
      run(h, 'host-worker.ts', [workerUrl, workerIds[i]!, h.name], (line) => {
        if (line.startsWith('lost ')) lost.get(h.name)!.add(line.slice(5))
      }),
    )
    // Start-up has its own budget: nothing is on the clock until every process is ready.
    await Promise.all([...receivers, ...workers].map((p) => p.ready))
    const started = Date.now()
    const msSetup = started - setupStarted
    for (const w of workers) w.proc.stdin!.write('go\n')

    const [victim, ...survivors] = workers as [Started, ...Started[]]
    const explain = async () => {
      const outcomes = await admin.query(
        'select outcome, error_code, count(*)::int as n, avg(duration_ms)::int as ms from messaging_delivery_attempts group by 1, 2',
      )
      const states = await admin.query('select status, count(*)::int as n from messaging_outbox group by 1')
      return `${total} received; attempts ${JSON.stringify(outcomes.rows)}; messages ${JSON.stringify(states.rows)}`
    }
    /** A stalled wait's error, with where the run stood. */
    const explained = (wait: Promise<void>) =>
      wait.catch(async (e: unknown) => {
        throw new Error(`${e instanceof Error ? e.message : String(e)}; ${await explain()}`)
      })
    // Cut the victim while it is busy: a fifth of the run done, and it has sent something.
    await explained(
      untilProgressing(
        () => total >= MESSAGES / 5 && [...received.values()].some((by) => by.includes(victim.host.name)),
        () => total,
        'the run to get going',
      ),
    )
    victim.proc.kill('SIGKILL')
    await victim.exited
    const killedAt = Date.now()
    const processed = async () =>
      (
        await admin.query<{ n: number }>(
          "select count(*)::int as n from messaging_outbox where status = 'processed'",
        )
      ).rows[0]!.n
    let processedNow = 0
    const allProcessed = async () => {
      processedNow = await processed()
      return processedNow === MESSAGES
    }
    await explained(untilProgressing(allProcessed, () => processedNow, 'every message to be processed'))
    const done = Date.now()
    for (const w of survivors) w.proc.kill('SIGTERM')
    expect(await Promise.all(survivors.map((w) => w.exited))).toEqual([0, 0])
    for (const r of receivers) r.proc.kill('SIGTERM')
    await Promise.all(receivers.map((r) => r.exited))

    // Attempts: who settled what, from the database (settled in the ack's transaction).
    const attempts = (
      await admin.query<{ message_id: string; worker_id: string; worker_host: string; outcome: string }>(
        'select message_id, worker_id, worker_host, outcome from messaging_delivery_attempts',
      )
    ).rows
    const deliveredBy = new Map<string, string[]>()
    for (const a of attempts)
      if (a.outcome === 'delivered')
        deliveredBy.set(a.message_id, [...(deliveredBy.get(a.message_id) ?? []), a.worker_id])
    const ackedByVictim = new Set(
      attempts.filter((a) => a.worker_id === workerIds[0]).map((a) => a.message_id),
    )
    const sentByVictim = [...received].filter(([, by]) => by.includes(victim.host.name)).map(([id]) => id)
    const heldUnacked = new Set(sentByVictim.filter((id) => !ackedByVictim.has(id)))
    // Held at the kill: sent and never acked, less what the victim had lost before.
    const heldAtKill = [...heldUnacked].filter((id) => !lost.get(victim.host.name)!.has(id))
    const lostAnywhere = new Set([...lost.values()].flatMap((l) => [...l]))
    const duplicates = [...received].filter(([, by]) => by.length > 1).map(([id]) => id)

    // Fairness, on the database's clock: where the backlog stood when the last small tenant's
    // last message was settled.
    const fairness = (
      await admin.query<{ backlog_done: number }>(
        `with small_done as (select max(settled_at) as at from messaging_outbox where infrastructure_id <> $1)
         select count(*)::int as backlog_done from messaging_outbox, small_done
          where infrastructure_id = $1 and settled_at <= small_done.at`,
        [tenants[0]],
      )
    ).rows[0]!.backlog_done
    const perHost = Object.fromEntries(
      network.hosts.map((h) => [h.name, [...received.values()].filter((by) => by[0] === h.name).length]),
    )
    const figures = {
      messages: MESSAGES,
      tenants: TENANTS,
      deliveries: total,
      duplicates: duplicates.length,
      victimSent: sentByVictim.length,
      victimHeldAtKill: heldAtKill.length,
      leasesLostUnderLoad: lostAnywhere.size,
      firstDeliveriesPerHost: perHost,
      backlogDoneWhenSmallTenantsDone: `${fairness} of ${BACKLOG}`,
      msSetup,
      msToKill: killedAt - started,
      msAfterKillToDone: done - killedAt,
      msgsPerSec: Math.round(MESSAGES / ((done - started) / 1000)),
    }
    console.log('many hosts', figures)

    expect(bad).toBe(0)
    // Each attempt names the host of the worker that made it.
    const hostOf = new Map<string, string>(workerIds.map((id, i) => [id, network.hosts[i]!.name]))
    expect(attempts.every((a) => a.worker_host === hostOf.get(a.worker_id))).toBe(true)
    // None lost, nothing else delivered.
    expect(received.size).toBe(MESSAGES)
    expect([...received.keys()].every((id) => ids.has(id))).toBe(true)
    // Claims disjoint: every message settled once, by one worker.
    expect(deliveredBy.size).toBe(MESSAGES)
    expect([...deliveredBy.values()].every((by) => by.length === 1)).toBe(true)
    // Duplicates only from the kill: each was the victim's, sent and never acked, or one whose
    // lease a worker reported lost (a worker starved past its lease on a loaded machine). At
    // the kill the victim held at most as many as it had deliveries in flight.
    for (const id of duplicates) expect(heldUnacked.has(id) || lostAnywhere.has(id), id).toBe(true)
    expect(heldAtKill.length).toBeLessThanOrEqual(CONCURRENCY)
    // Every host delivered, and to receivers on the others.
    for (const h of network.hosts) expect(perHost[h.name]).toBeGreaterThan(0)
    // Fair: the 99 small tenants (50 each) were all served before a quarter of the older backlog.
    expect(fairness).toBeLessThan(BACKLOG / 4)
    expect(SMALL).toBe(50)
  }, 900_000)
})
