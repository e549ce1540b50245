import { connect, type NatsConnection } from 'nats'
import { z } from 'zod'
import { createPostgresStorage, type PostgresStorage } from '../../src/adapters/postgres/index.js'
import { type ChannelTypeDefinition, createMessaging, type Transport } from '../../src/index.js'
import { createJetStreamRelay, ensureRelayStream } from '../../src/nats/index.js'
import type { RelayTransport } from '../../src/ports/transport.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import { type NatsCluster, startNatsCluster } from '../../test/support/nats-cluster.js'
import type { Subject } from '../common.js'
import { BENCH_ROLES } from '../postgres.js'
import {
  atLeast,
  closeAll,
  type Figure,
  find,
  interleave,
  type Lane,
  type Measurement,
  measurementOf,
  sizesOf,
  verdictOf,
} from '../run.js'
import { databaseName } from '../systems/index.js'
import { openModule } from '../systems/module.js'

const G13_SIZES = { g13Messages: 30_000, g13Concurrency: 64, g13SliceSeconds: 2 }

/** The module subject's channel type (`bench`, no config): the channels it made are of it. */
const benchType: ChannelTypeDefinition = { type: 'bench', configSchema: z.strictObject({}), secretPaths: [] }

/** What each lane delivers with: at once in the process, or a publish to a JetStream stream. */
interface RelayLane {
  readonly subject: Subject
  readonly storage: PostgresStorage
  readonly transport: Transport | RelayTransport
  close(): Promise<void>
}

/**
 * G13, the relay: messages per second from the outbox to an acknowledged JetStream publish
 * (the PubAck; settle `published`, so each is processed once the stream holds it), by the
 * delivery worker as it runs in production (fleet claims, 64 in flight, completions batched),
 * against one NATS server and a three-node cluster with replicas 3; beside the same worker
 * delivering in process (a transport that answers at once), which is the most any transport
 * can get out of the outbox. Each lane drains its own backlog in interleaved slices.
 */
export const G13: Figure<typeof G13_SIZES> = {
  id: 'G13',
  sizes: G13_SIZES,
  quick: { g13Messages: 4_000, g13SliceSeconds: 0.75 },
  async run(ctx) {
    const z = sizesOf(ctx, G13_SIZES)
    const clusters: NatsCluster[] = []
    const connections: NatsConnection[] = []
    const lanes: Lane<RelayLane>[] = []
    const failed: Measurement[] = []
    const open = async (label: string, transport: () => Promise<Transport | RelayTransport>) => {
      ctx.progress('G13', label, 'setup')
      try {
        const db = databaseName(`relay_${lanes.length + failed.length + 1}`)
        const subject = await openModule(ctx.server, db, ctx.template, { tenants: z.tenants, poolSize: 16 })
        const storage = await createPostgresStorage({
          connectionString: ctx.server.urlFor(db, BENCH_ROLES.worker, BENCH_ROLES.password),
          poolSize: 16,
          listenConnectionString: false,
        })
        ctx.progress('G13', label, `prefill ${z.g13Messages.toLocaleString('en')}`)
        await subject.prefill(z.g13Messages, (i) => i % z.tenants)
        lanes.push({
          label,
          databases: subject.databases,
          subject: {
            subject,
            storage,
            transport: await transport(),
            async close() {
              await storage.close()
              await subject.close()
            },
          },
        })
      } catch (e) {
        failed.push({
          system: label,
          value: null,
          note: `failed: ${e instanceof Error ? e.message : String(e)}`,
        })
      }
    }
    const relayTo = (nodes: number) => async () => {
      const cluster = await startNatsCluster({ nodes })
      clusters.push(cluster)
      const nc = await connect({ servers: [...cluster.servers] })
      connections.push(nc)
      await ensureRelayStream(await nc.jetstreamManager(), { replicas: nodes, retention: 'limits' })
      return createJetStreamRelay({ jetstream: nc.jetstream() }).transport(benchType)
    }
    try {
      await open('worker, in process', async () => ({
        channelType: benchType,
        send: async () => ({ status: 'delivered' }),
      }))
      await open('relay, 1 node', relayTo(1))
      await open('relay, 3 nodes R3', relayTo(3))
      const total = new Map<string, number>()
      // At most 2 x capSeconds of slices per lane (20 slices of 2 s by default): three lanes
      // then take at most 120 s, which keeps a full run within its 10 minutes on 2 cores
      // while a lane that drains slowly still gives a median of many slices.
      const rounds = Math.ceil((z.capSeconds * 2) / z.g13SliceSeconds)
      const rs = await interleave(ctx, 'G13', lanes, rounds, async (lane, _r, timed) => {
        const before = total.get(lane.label) ?? 0
        if (before >= z.g13Messages) return null
        return timed(async () => {
          const l = lane.subject
          const messaging = createMessaging({ storage: l.storage, channelTypes: [benchType] })
          const worker = createDeliveryWorker({
            messaging,
            fleet: true,
            transports: [l.transport],
            concurrency: z.g13Concurrency,
            pollIntervalMs: 50,
          })
          let settled = 0
          worker.events.on('delivered', () => settled++)
          const t0 = performance.now()
          const running = worker.run()
          await new Promise((r) => setTimeout(r, z.g13SliceSeconds * 1000))
          await worker.stop()
          await running
          const seconds = (performance.now() - t0) / 1000
          total.set(lane.label, before + settled)
          // A slice that ran out of backlog is a tail: its messages count, its rate does not.
          return { units: settled, seconds, partial: before + settled >= z.g13Messages }
        })
      })
      const ms = [...rs.map((r) => measurementOf(r)), ...failed]
      const inProcess = find(ms, 'worker, in process')
      const one = find(ms, 'relay, 1 node')
      const three = find(ms, 'relay, 3 nodes R3')
      return {
        id: 'G13',
        title: `relay: ${z.g13Messages.toLocaleString('en')} ready messages per lane from the outbox to an acknowledged JetStream publish, the delivery worker with ${z.g13Concurrency} in flight; slices of ${z.g13SliceSeconds} s until empty`,
        metric: 'msgs/s',
        unit: 'msgs/s',
        higherIsBetter: true,
        target: 'relay to 3 nodes R3 >= 0.5x the worker delivering in process',
        ...verdictOf([atLeast('the worker in process', three?.value, inProcess?.value, 0.5)]),
        measurements: ms,
        comparisons: [
          ...(one ? [{ subject: 'relay, 1 node', peer: 'worker, in process' }] : []),
          ...(three ? [{ subject: 'relay, 3 nodes R3', peer: 'worker, in process' }] : []),
        ],
        params: { messages: z.g13Messages, concurrency: z.g13Concurrency, slice: z.g13SliceSeconds },
      }
    } finally {
      await closeAll(lanes)
      for (const nc of connections) await nc.close().catch(() => undefined)
      for (const c of clusters) await c.stop()
    }
  },
}
