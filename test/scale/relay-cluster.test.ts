import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AckPolicy, connect, type JsMsg, type NatsConnection } from 'nats'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import { createMessaging, type Messaging } from '../../src/index.js'
import { createJetStreamRelay, decodeEnvelope, ensureRelayStream } from '../../src/nats/index.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { principal, tenant } from '../support/fixtures.js'
import { type NatsCluster, startNatsCluster } from '../support/nats-cluster.js'
import { untilProgressing } from '../support/progress.js'
import { testChannelType } from '../support/transports.js'

/**
 * Issue 20 item 4: the relay against a real three-node JetStream cluster (replicas 3). 20,000
 * messages of 10 tenants are relayed while two consumers pull them from a durable consumer;
 * one node (the stream's leader, the hardest one to lose) is killed mid-run and started
 * again. None is lost, the stream stores each exactly once (a publish retried across the
 * failover is dropped by the duplicate window), and a message a consumer sees twice is the
 * same stream entry (one sequence number) redelivered by JetStream, never a second copy.
 * A redelivery after the consumer's leader moves may carry a delivery count of 1: the new
 * leader did not learn of the first delivery, so the count cannot tell a redelivery apart.
 */
const MESSAGES = 20_000
const TENANTS = 10

process.env.MESSAGING_SECRET_KEYS ??= `k1:${randomBytes(32).toString('base64')}`
const dir = mkdtempSync(join(tmpdir(), 'messaging-relay-cluster-'))

let cluster: NatsCluster
let messaging: Messaging
const connections: NatsConnection[] = []

beforeAll(async () => {
  cluster = await startNatsCluster({ nodes: 3 })
  messaging = createMessaging({
    storage: createSqliteStorage({ path: join(dir, 'outbox.db') }),
    channelTypes: [testChannelType],
  })
})
afterAll(async () => {
  for (const nc of connections) await nc.close().catch(() => undefined)
  await messaging?.close()
  await cluster?.stop()
  rmSync(dir, { recursive: true, force: true })
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('relay to a three-node JetStream cluster', () => {
  it('loses nothing and stores nothing twice when a node is killed mid-run and restarted', async () => {
    const client = () =>
      connect({ servers: [...cluster.servers], maxReconnectAttempts: -1, reconnectTimeWait: 100 }).then(
        (nc) => {
          connections.push(nc)
          return nc
        },
      )
    const nc = await client()
    const jsm = await nc.jetstreamManager()
    const stream = await ensureRelayStream(jsm, { replicas: 3 })
    expect(stream.config.num_replicas).toBe(3)
    await jsm.consumers.add('MESSAGING', {
      durable_name: 'cluster-test',
      ack_policy: AckPolicy.Explicit,
      ack_wait: 5_000_000_000,
      max_ack_pending: 2000,
    })

    // The outbox: 20,000 messages of 10 tenants.
    const tenants = Array.from({ length: TENANTS }, () => tenant().infra)
    const grants = tenants.map((t) => [t, null] as [string, null])
    const admin = principal('infra_admin', grants)
    for (const t of tenants)
      await messaging.createChannel(admin, {
        infrastructureId: t,
        channelKey: 'alerts',
        type: 'test',
        config: {},
      })
    const ids = new Set<string>()
    for (let i = 0; i < MESSAGES; i += 1000) {
      const items = Array.from({ length: 1000 }, (_, j) => ({
        infrastructureId: tenants[(i + j) % TENANTS]!,
        channelKey: 'alerts',
        payload: { n: i + j },
      }))
      for (const r of await messaging.enqueueMany(admin, items)) ids.add(r.message.id)
    }

    // Two consumers pulling from the durable consumer, counting what reaches them.
    const received = new Map<string, number>()
    const redelivered = new Set<string>()
    const sequences = new Map<string, Set<number>>()
    let consuming = true
    const consumers = await Promise.all(
      [0, 1].map(async () => {
        const c = await (await client()).jetstream().consumers.get('MESSAGING', 'cluster-test')
        // Wrapped: an async function returning the loop's promise would wait for the loop.
        return {
          done: (async () => {
            while (consuming) {
              let batch: AsyncIterable<JsMsg>
              try {
                batch = await c.fetch({ max_messages: 500, expires: 1000 })
              } catch {
                await sleep(100)
                continue
              }
              try {
                for await (const m of batch) {
                  const id = decodeEnvelope(m.data)?.id ?? 'undecodable'
                  received.set(id, (received.get(id) ?? 0) + 1)
                  if (m.info.redeliveryCount > 1) redelivered.add(id)
                  const seen = sequences.get(id) ?? new Set<number>()
                  seen.add(m.seq)
                  sequences.set(id, seen)
                  m.ack()
                }
              } catch {
                await sleep(100)
              }
            }
          })(),
        }
      }),
    )

    // The relay: a fleet worker whose only transport publishes to the cluster.
    const relayConn = await client()
    const relay = createJetStreamRelay({ jetstream: relayConn.jetstream(), publishTimeoutMs: 2000 })
    const worker = createDeliveryWorker({
      messaging,
      fleet: true,
      transports: [relay.transport(testChannelType)],
      concurrency: 64,
      pollIntervalMs: 20,
      retry: { baseMs: 100, maxMs: 1000 },
    })
    let relayed = 0
    let duplicates = 0
    let publishFailures = 0
    worker.events.on('delivered', (_m, report) => {
      relayed++
      if (report.providerMessageId?.endsWith('(duplicate)')) duplicates++
    })
    worker.events.on('retried', () => publishFailures++)
    const started = Date.now()
    const stop = new AbortController()
    const running = worker.run(stop.signal)

    // Publishes that fail while the stream elects a new leader count as progress too.
    const tries = () => relayed + publishFailures
    await untilProgressing(() => relayed >= MESSAGES / 3, tries, 'a third relayed')
    const leader = (await jsm.streams.info('MESSAGING')).cluster!.leader!
    const victim = cluster.nodes.find((n) => n.name === leader)!
    await victim.kill()
    const killedAt = Date.now()
    const relayedAtKill = relayed
    await untilProgressing(
      () => relayed >= relayedAtKill + MESSAGES / 6,
      tries,
      'relaying to go on without the node',
    )
    await victim.restart()
    await cluster.ready()
    const restartedAt = Date.now()
    await untilProgressing(() => relayed >= MESSAGES, tries, 'every message relayed')
    const relayDone = Date.now()
    await untilProgressing(
      () => [...ids].every((id) => received.has(id)),
      () => received.size,
      'every message consumed',
    )
    consuming = false
    stop.abort()
    await running
    await Promise.all(consumers.map((c) => c.done))

    const info = await jsm.streams.info('MESSAGING')
    const twice = [...received].filter(([, n]) => n > 1).map(([id]) => id)
    const figures = {
      messages: MESSAGES,
      relayMsgsPerSec: Math.round(MESSAGES / ((relayDone - started) / 1000)),
      killedNode: victim.name,
      msToKill: killedAt - started,
      msNodeDown: restartedAt - killedAt,
      publishFailuresRetried: publishFailures,
      publishesDroppedAsDuplicates: duplicates,
      streamLastSeq: info.state.last_seq,
      consumedDistinct: received.size,
      consumedTwice: twice.length,
      redeliveredByJetStream: redelivered.size,
    }
    console.log('relay cluster test', figures)

    // None lost: every message reached a consumer, and nothing else did.
    expect([...received.keys()].every((id) => ids.has(id))).toBe(true)
    expect(received.size).toBe(MESSAGES)
    // Stored once each: the stream assigned exactly one sequence number per message.
    expect(info.state.last_seq).toBe(MESSAGES)
    // Seen twice only as a redelivery of the one stream entry (an ack lost with the node).
    for (const id of twice) expect([...sequences.get(id)!], id).toHaveLength(1)
    const stats = await messaging.stats(admin)
    expect(stats.reduce((n, s) => n + s.processed, 0)).toBe(MESSAGES)
  }, 900_000)
})
