import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connect, type JetStreamManager, type NatsConnection } from 'nats'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import { createFetchHandler } from '../../src/http/index.js'
import { createMessaging, type MessagingStorage, type Transport } from '../../src/index.js'
import {
  createJetStreamDeliveryWorker,
  createJetStreamRelay,
  ensureRelayStream,
  type JetStreamDeliveryWorkerOptions,
} from '../../src/nats/index.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { principal, tenant } from '../support/fixtures.js'
import { type NatsCluster, startNatsCluster } from '../support/nats-cluster.js'
import { type Behaviour, scriptedTransport, testChannelType, until } from '../support/transports.js'
import { forwardingTransport } from './broker/forward.js'

/**
 * Issue 20 item 3: consumers on the broker. The relay hands each message to JetStream with
 * `settle: 'delivered'`; the JetStream delivery worker pulls it from a durable consumer, runs
 * it through the worker's own parts, and settles it in the outbox: acked after the transport
 * succeeded, nak'd with the module's backoff with each attempt recorded, dead after the last
 * attempt with every attempt visible, and redelivered by JetStream when its worker was killed.
 */
process.env.MESSAGING_SECRET_KEYS = `k1:${randomBytes(32).toString('base64')}`
const SECRET = 'tok_live_broker_5e6f7a8b9c0d'
const dir = mkdtempSync(join(tmpdir(), 'messaging-broker-'))
const dbPath = join(dir, 'broker.db')

let storage: MessagingStorage
let server: NatsCluster
let nc: NatsConnection
let jsm: JetStreamManager
let setups = 0
const stops: Array<() => Promise<unknown>> = []

beforeAll(async () => {
  storage = createSqliteStorage({ path: dbPath, busyTimeoutMs: 20_000 })
  server = await startNatsCluster({ nodes: 1 })
  nc = await connect({ servers: [...server.servers] })
  jsm = await nc.jetstreamManager()
})
afterAll(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => undefined)
  await nc?.close()
  await server?.stop()
  await storage?.close()
  rmSync(dir, { recursive: true, force: true })
})

async function setup(tenants = 1) {
  setups++
  const stream = `BROKER${setups}`
  const subjectPrefix = `broker${setups}`
  const durable = `delivery${setups}`
  await ensureRelayStream(jsm, { name: stream, subjectPrefix })
  const messaging = createMessaging({ storage, channelTypes: [testChannelType] })
  const infras = Array.from({ length: tenants }, () => tenant().infra)
  const grants = infras.map((t) => [t, null] as [string, null])
  const admin = principal('infra_admin', grants)
  const service = principal('service', grants)
  for (const t of infras)
    await messaging.createChannel(admin, {
      infrastructureId: t,
      channelKey: 'alerts',
      type: 'test',
      config: { token: SECRET },
      maxAttempts: 3,
    })
  const enqueue = async (t: string, payloads: object[]) =>
    (
      await messaging.enqueueMany(
        admin,
        payloads.map((payload) => ({ infrastructureId: t, channelKey: 'alerts', payload })),
      )
    ).map((r) => r.message.id)
  /** The relay: a database worker whose transport hands every message to the stream, held for its workers. */
  const relay = () =>
    createDeliveryWorker({
      messaging,
      principal: service,
      transports: [
        createJetStreamRelay({
          jetstream: nc.jetstream(),
          stream,
          subjectPrefix,
          settle: 'delivered',
        }).transport(testChannelType),
      ],
      pollIntervalMs: 20,
    }).drain()
  const consumer = (transport: Transport, o: Partial<JetStreamDeliveryWorkerOptions> = {}) => {
    const worker = createJetStreamDeliveryWorker({
      messaging,
      principal: service,
      connection: nc,
      stream,
      subjectPrefix,
      durable,
      transports: [transport],
      retry: { baseMs: 200, maxMs: 800 },
      random: () => 1,
      ...o,
    })
    const running = worker.run()
    stops.push(() => worker.stop().then(() => running))
    return worker
  }
  const get = (t: string, id: string) => messaging.getMessage(admin, { infrastructureId: t, messageId: id })
  const attempts = (t: string, id: string) =>
    messaging.listAttempts(admin, { infrastructureId: t, messageId: id })
  const settled = (t: string, ids: readonly string[]) => async () =>
    (await Promise.all(ids.map((id) => get(t, id)))).every((m) => m.status !== 'processing')
  /** Messages left in the stream, and handed out but not acknowledged. */
  const left = async () => {
    const [s, c] = await Promise.all([jsm.streams.info(stream), jsm.consumers.info(stream, durable)])
    return { stored: s.state.messages, unacked: c.num_ack_pending, pending: c.num_pending }
  }
  return {
    messaging,
    infras,
    admin,
    service,
    enqueue,
    relay,
    consumer,
    get,
    attempts,
    settled,
    left,
    stream,
    durable,
  }
}

const behave = (b: Behaviour) => ({ behaviour: b })

describe('JetStream delivery worker', () => {
  it('delivers each relayed message once, acks it and settles it processed with its one attempt', async () => {
    const s = await setup(2)
    const [a, b] = s.infras as [string, string]
    const ids = [
      ...(await s.enqueue(
        a,
        Array.from({ length: 12 }, (_, i) => ({ i })),
      )),
      ...(await s.enqueue(b, [{ i: 0 }])),
    ]
    const [failing] = await s.enqueue(b, [behave({ do: 'permanent' })])
    expect(await s.relay()).toBe(14)
    // Held for the broker's workers: in flight, nothing recorded yet.
    expect(await s.get(a, ids[0]!)).toMatchObject({ status: 'processing', attempts: 1 })

    const transport = scriptedTransport()
    const worker = s.consumer(transport, { concurrency: 4 })
    const delivered: string[] = []
    worker.events.on('delivered', (m) => delivered.push(m.id))
    await until(
      async () => (await s.settled(a, ids.slice(0, 12))()) && (await s.settled(b, [ids[12]!, failing!])()),
      20_000,
    )

    for (const id of ids) expect(transport.delivered.get(id)).toBe(1)
    expect(delivered.sort()).toEqual([...ids].sort())
    for (const [t, id] of [
      [a, ids[0]!],
      [b, ids[12]!],
    ] as const) {
      expect(await s.get(t, id)).toMatchObject({ status: 'processed', lastError: null })
      expect(await s.attempts(t, id)).toMatchObject([
        {
          attempt: 1,
          outcome: 'delivered',
          workerId: worker.workerId,
          workerHost: hostname(),
          providerMessageId: `p-${id}`,
        },
      ])
    }
    // A permanent failure fails it at once, through the same settle path.
    expect(await s.get(b, failing!)).toMatchObject({ status: 'failed', lastError: 'bad recipient' })
    expect(await s.attempts(b, failing!)).toMatchObject([
      { attempt: 1, outcome: 'permanent', errorCode: 'http_400' },
    ])
    // Every broker message acknowledged: the work-queue stream is empty.
    await until(async () => (await s.left()).stored === 0, 5000)
    expect(await s.left()).toEqual({ stored: 0, unacked: 0, pending: 0 })
  })

  it("retries with the module's backoff through the broker, each attempt recorded, then delivers", async () => {
    const s = await setup()
    const [t] = s.infras as [string]
    const [id] = await s.enqueue(t, [behave({ do: 'retry', times: 2 })])
    expect(await s.relay()).toBe(1)
    const transport = scriptedTransport()
    const worker = s.consumer(transport)
    const retried: number[] = []
    worker.events.on('retried', (_m, report) => retried.push(report.retryAfterMs!))
    const started = Date.now()
    await until(async () => transport.calls.length >= 1, 10_000)
    // After the first failure the outbox still holds it for the broker, the hold extended.
    await until(async () => (await s.attempts(t, id!)).length === 1, 10_000)
    const held = await s.get(t, id!)
    expect(held.status).toBe('processing')
    expect(held.leasedUntil!.getTime()).toBeGreaterThan(started + 3_500_000)
    await until(s.settled(t, [id!]), 20_000)

    expect(await s.get(t, id!)).toMatchObject({ status: 'processed' })
    const recorded = await s.attempts(t, id!)
    expect(recorded.map((a) => [a.attempt, a.outcome, a.errorCode])).toEqual([
      [1, 'retryable', 'http_503'],
      [2, 'retryable', 'http_503'],
      [3, 'delivered', null],
    ])
    // The provider's error quoted the channel's secret: redacted as the database worker does.
    expect(recorded[0]!.error).not.toContain(SECRET)
    expect(recorded[0]!.error).toContain('[redacted]')
    // backoffMs with random 1: the cap of each attempt, 200 ms then 400 ms; the broker waited each out.
    expect(retried).toEqual([200, 400])
    const [first, second, third] = transport.calls as [
      (typeof transport.calls)[0],
      (typeof transport.calls)[0],
      (typeof transport.calls)[0],
    ]
    expect(transport.calls.map((c) => c.attempt)).toEqual([1, 2, 3])
    expect(second.at - first.at).toBeGreaterThanOrEqual(200)
    expect(third.at - second.at).toBeGreaterThanOrEqual(400)
    expect(transport.delivered.get(id!)).toBe(1)
    await until(async () => (await s.left()).stored === 0, 5000)
  })

  it("lands in the dead letters after the channel's max attempts, every attempt visible over HTTP", async () => {
    const s = await setup()
    const [t] = s.infras as [string]
    const [id] = await s.enqueue(t, [behave({ do: 'retry' })])
    expect(await s.relay()).toBe(1)
    const transport = scriptedTransport()
    const worker = s.consumer(transport)
    const dead: string[] = []
    worker.events.on('dead', (m) => dead.push(m.id))
    await until(s.settled(t, [id!]), 20_000)

    expect(await s.get(t, id!)).toMatchObject({ status: 'dead' })
    expect(dead).toEqual([id])
    expect(transport.calls).toHaveLength(3)
    expect((await s.messaging.listDeadLetters(s.admin, { infrastructureId: t })).map((m) => m.id)).toEqual([
      id,
    ])
    const handler = createFetchHandler({ messaging: s.messaging, authenticate: () => s.admin })
    const res = await handler(
      new Request(`http://host.test/functions/v1/messaging/messages/${id}/attempts?infrastructureId=${t}`),
    )
    expect(res.status).toBe(200)
    const body = (await res.json()) as Array<Record<string, unknown>>
    expect(body.map((a) => [a.attempt, a.outcome, a.errorCode, a.workerId])).toEqual([
      [1, 'retryable', 'http_503', worker.workerId],
      [2, 'retryable', 'http_503', worker.workerId],
      [3, 'retryable', 'http_503', worker.workerId],
    ])
    expect(JSON.stringify(body)).not.toContain(SECRET)
    // The broker's copy is gone: acknowledged once the outbox had it dead.
    await until(async () => (await s.left()).stored === 0, 5000)
    // A redrive sends it round again through the relay.
    await s.messaging.redrive(s.admin, { infrastructureId: t, messageId: id! })
    expect(await s.get(t, id!)).toMatchObject({ status: 'pending' })
  })

  it('shares one durable consumer between workers: 2,000 messages of 20 tenants, each delivered once (figures printed)', async () => {
    const s = await setup(20)
    const ids = new Map<string, string>()
    for (const t of s.infras)
      for (const id of await s.enqueue(
        t,
        Array.from({ length: 100 }, (_, i) => ({ i })),
      ))
        ids.set(id, t)
    const t0 = performance.now()
    expect(await s.relay()).toBe(2000)
    const relayMs = performance.now() - t0
    const transport = scriptedTransport()
    const t1 = performance.now()
    const workers = [s.consumer(transport, { concurrency: 16 }), s.consumer(transport, { concurrency: 16 })]
    const by = workers.map(() => 0)
    for (const [i, w] of workers.entries()) w.events.on('delivered', () => by[i]!++)
    await until(() => transport.delivered.size === 2000 && by[0]! + by[1]! === 2000, 60_000, 20)
    const deliverMs = performance.now() - t1
    expect([...transport.delivered.values()].every((n) => n === 1)).toBe(true)
    expect([...transport.delivered.keys()].every((id) => ids.has(id))).toBe(true)
    await until(async () => (await s.left()).stored === 0, 10_000)
    console.log('broker workers', {
      messages: 2000,
      tenants: 20,
      relayMsgsPerSec: Math.round(2000 / (relayMs / 1000)),
      brokerDeliveryMsgsPerSec: Math.round(2000 / (deliverMs / 1000)),
      deliveredPerWorker: by,
    })
  }, 120_000)

  it('hands the messages of a killed worker to another once the ack wait passes: redelivered and delivered', async () => {
    const s = await setup()
    const [t] = s.infras as [string]
    const ids = await s.enqueue(
      t,
      Array.from({ length: 6 }, (_, i) => ({ i })),
    )
    expect(await s.relay()).toBe(6)

    // The receiver: the child's requests hang (it is killed while they do), the others are answered.
    const arrivals: Array<{ id: string; from: string; attempt: number }> = []
    const receiver: Server = createServer((req, res) => {
      const q = new URL(req.url!, 'http://x').searchParams
      arrivals.push({ id: q.get('id')!, from: q.get('from')!, attempt: Number(q.get('attempt')) })
      if (q.get('from') !== 'child') res.end('ok')
    })
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r))
    stops.push(
      () =>
        new Promise((r) => {
          receiver.closeAllConnections()
          receiver.close(r)
        }),
    )
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`

    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        fileURLToPath(new URL('./broker/broker-child.ts', import.meta.url)),
        dbPath,
        server.servers[0]!,
        s.stream,
        `broker${setups}`,
        s.durable,
        url,
        JSON.stringify(s.service),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let err = ''
    child.stderr.on('data', (d) => {
      err += String(d)
    })
    const exited = new Promise((r) => child.once('exit', r))
    stops.push(async () => {
      child.kill('SIGKILL')
      await exited
    })
    // Start-up has its own budget; the run is on the clock once the child holds two messages.
    await until(() => arrivals.filter((a) => a.from === 'child').length === 2, 60_000).catch((e) => {
      throw new Error(`${String(e)}; child stderr: ${err.slice(-2000)}`)
    })
    const inChild = arrivals.map((a) => a.id)
    child.kill('SIGKILL')
    await exited
    // Nothing was settled by the killed worker: its two messages are still held for the broker.
    for (const id of inChild) expect(await s.get(t, id)).toMatchObject({ status: 'processing' })

    const worker = s.consumer(forwardingTransport(url, 'parent'), { ackWaitMs: 2000 })
    await until(s.settled(t, ids), 30_000)

    for (const id of ids) expect(await s.get(t, id)).toMatchObject({ status: 'processed' })
    const byId = new Map<string, string[]>()
    for (const a of arrivals) byId.set(a.id, [...(byId.get(a.id) ?? []), a.from])
    // None lost; a message reached the receiver twice only where the broker redelivered it.
    expect([...byId.keys()].sort()).toEqual([...ids].sort())
    const twice = [...byId].filter(([, from]) => from.length > 1).map(([id]) => id)
    expect(twice.sort()).toEqual([...inChild].sort())
    for (const id of ids) {
      const recorded = await s.attempts(t, id)
      // The killed delivery recorded nothing; the broker's redelivery is attempt 2.
      expect(recorded).toMatchObject([
        { attempt: inChild.includes(id) ? 2 : 1, outcome: 'delivered', workerId: worker.workerId },
      ])
    }
    await until(async () => (await s.left()).stored === 0, 5000)
  }, 120_000)
})
