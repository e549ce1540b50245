import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { z } from 'zod'
import { createPostgresStorage, type PostgresStorage } from '../../src/adapters/postgres/index.js'
import {
  type ChannelTypeDefinition,
  createMessaging,
  type Messaging,
  type Principal,
  type Transport,
} from '../../src/index.js'
import { createDeliveryWorker } from '../../src/worker/index.js'
import {
  type BenchPayload,
  type OnDelivered,
  payloadOf,
  type Subject,
  type SubjectOptions,
} from '../common.js'
import { BENCH_ROLES, type BenchServer } from '../postgres.js'
import { BULK, bulkLoad } from './bulk.js'

/** A channel type whose transport only reports the delivery to the benchmark. */
const benchChannelType: ChannelTypeDefinition = {
  type: 'bench',
  configSchema: z.strictObject({}),
  secretPaths: [],
}

/**
 * This module on PostgreSQL, as a host runs it: producers enqueue through the facade as
 * `messaging_app` with their tenant's claims (row-level security on), and the delivery
 * side is the fleet worker on its own `messaging_worker` login.
 */
export async function openModule(
  server: BenchServer,
  database: string,
  template: string,
  opts: SubjectOptions,
  /** G10: producers and worker connect as the tables' owner (no row-level security applies). */
  variant: { asOwner?: boolean } = {},
): Promise<Subject> {
  await server.createDatabase(database, template)
  const owner = variant.asOwner === true
  const appUrl = owner
    ? server.urlFor(database)
    : server.urlFor(database, BENCH_ROLES.app, BENCH_ROLES.password)
  const workerUrl = owner
    ? server.urlFor(database)
    : server.urlFor(database, BENCH_ROLES.worker, BENCH_ROLES.password)
  const storage = await createPostgresStorage({
    connectionString: appUrl,
    poolSize: opts.poolSize,
    listenConnectionString: false,
    ...(owner && { allowPrivilegedRole: true }),
  })
  let workerStorage: PostgresStorage | undefined
  const messaging = createMessaging({ storage, channelTypes: [benchChannelType] })
  const tenants = Array.from({ length: opts.tenants }, () => randomUUID())
  const admin: Principal = {
    userId: randomUUID(),
    role: 'infra_admin',
    grants: tenants.map((infrastructureId) => ({ infrastructureId, businessId: null })),
  }
  const producers: Principal[] = tenants.map((infrastructureId) => ({
    userId: randomUUID(),
    role: 'member',
    grants: [{ infrastructureId, businessId: null }],
  }))
  const superQuery = async (text: string, values: unknown[]) => {
    const c = new pg.Client({ connectionString: server.urlFor(database) })
    await c.connect()
    try {
      return await c.query(text, values)
    } finally {
      await c.end()
    }
  }
  const channelIds: string[] = []
  const superUrl = server.urlFor(database)
  if (tenants.length <= 200) {
    for (const infrastructureId of tenants) {
      const c = await messaging.createChannel(admin, {
        infrastructureId,
        channelKey: 'bench',
        type: 'bench',
        config: {},
        maxAttempts: 5,
      })
      channelIds.push(c.id)
    }
  } else {
    // Thousands of tenants (G9): their channels go straight in, as createChannel writes them.
    for (const _ of tenants) channelIds.push(randomUUID())
    await superQuery(
      `insert into messaging_channels (infrastructure_id, id, channel_key, type, name, config, enabled,
         max_attempts, created_by, created_at, updated_at)
       select x.i, x.c, 'bench', 'bench', 'bench', '{}'::jsonb, true, 5, $3, now(), now()
         from unnest($1::uuid[], $2::uuid[]) as x (i, c)`,
      [tenants, channelIds, admin.userId],
    )
  }

  let onDelivered: OnDelivered = () => undefined
  const transport: Transport = {
    channelType: benchChannelType,
    async send(message) {
      const p = message.payload as unknown as BenchPayload
      onDelivered(p.t, p.s)
      return { status: 'delivered' }
    },
  }
  let workerMessaging: Messaging | undefined
  const worker = async () => {
    if (!workerMessaging) {
      workerStorage = await createPostgresStorage({
        connectionString: workerUrl,
        poolSize: opts.poolSize,
        ...(owner && { allowPrivilegedRole: true }),
      })
      workerMessaging = createMessaging({ storage: workerStorage, transports: [transport] })
    }
    return workerMessaging
  }
  const workerId = randomUUID()
  // The fleet worker's delivery port, made once (as a worker process holds it).
  let fleetPort: ReturnType<Messaging['deliveryPort']> | undefined
  const port = (m: Messaging) => {
    fleetPort ??= m.deliveryPort({ fleet: true, workerId })
    return fleetPort
  }
  const delivered = (now: Date) => ({
    outcome: 'delivered' as const,
    errorCode: null,
    error: null,
    providerMessageId: null,
    startedAt: now,
    finishedAt: now,
    workerId,
  })

  /**
   * Rows straight into the table as the superuser, in the shape an enqueue (and an ack)
   * writes; the payloads are built by the server from the tenant and sequence numbers.
   */
  const fill = async (count: number, tenantOf: (i: number) => number, settled: boolean) => {
    const c = new pg.Client({ connectionString: superUrl })
    await c.connect()
    const rows = async () => {
      for (let from = 0; from < count; from += 200_000) {
        const n = Math.min(200_000, count - from)
        const ts = Array.from({ length: n }, (_, k) => tenantOf(from + k))
        const at = "now() - interval '1 second' + (x.n + $5) * interval '1 microsecond'"
        await c.query(
          `insert into messaging_outbox (infrastructure_id, id, business_id, channel_id, payload, recipients,
               idempotency_key, max_attempts, created_by, created_at, status, attempts, available_at, settled_at)
             select ($2::uuid[])[x.t + 1], gen_random_uuid(), null, ($3::uuid[])[x.t + 1],
                    jsonb_build_object('t', x.t, 's', x.n - 1 + $5, 'text', $6::text), null, null, 5, $4, ${at},
                    ${settled ? "'processed', 1" : "'pending', 0"}, ${at}, ${settled ? at : 'null'}
               from unnest($1::int[]) with ordinality as x (t, n)`,
          [ts, tenants, channelIds, admin.userId, from, payloadOf(0, 0).text],
        )
      }
    }
    try {
      if (count >= BULK) await bulkLoad(c, 'messaging_outbox', rows)
      else {
        await rows()
        await c.query('vacuum analyze messaging_outbox')
      }
    } finally {
      await c.end()
    }
  }
  const enqueue = async (t: number, s: number) => {
    await messaging.enqueue(producers[t]!, {
      infrastructureId: tenants[t]!,
      channelKey: 'bench',
      payload: { ...payloadOf(t, s) },
    })
  }

  return {
    name: owner ? 'module as owner' : 'module',
    databases: [database],
    enqueue,
    async enqueueBatch(t, seqs) {
      // One facade call, one statement (messaging_enqueue_arrays) for the whole batch.
      await messaging.enqueueMany(
        producers[t]!,
        seqs.map((s) => ({
          infrastructureId: tenants[t]!,
          channelKey: 'bench',
          payload: { ...payloadOf(t, s) },
        })),
      )
    },
    prefill: (count, tenantOf) => fill(count, tenantOf, false),
    prefillSettled: (count, tenantOf) => fill(count, tenantOf, true),
    async drain({ batch, concurrency, deadline, max = Number.POSITIVE_INFINITY }) {
      const m = await worker()
      let settled = 0
      let empty = false
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (settled < max && !empty && performance.now() < deadline) {
            const held = await port(m).claim({ limit: batch, leaseMs: 60_000 })
            if (held.length === 0) {
              empty = true
              break
            }
            // Each message acked on its own lease, the batch's acks in one unit of work (as
            // graphile-worker's batched completion and pg-boss's complete(ids)).
            const now = new Date()
            const acks = await port(m).settle(held.map((h) => ({ held: h, report: delivered(now) })))
            settled += acks.filter((a) => a.acked).length
          }
        }),
      )
      return { settled, empty }
    },
    async purge() {
      await superQuery(`delete from messaging_outbox where status in ('pending', 'processing')`, [])
    },
    async startConsumer(cb) {
      onDelivered = cb
      const m = await worker()
      const w = createDeliveryWorker({
        messaging: m,
        fleet: true,
        workerId,
        transports: [transport],
        concurrency: 32,
      })
      const running = w.run()
      return {
        async stop() {
          await w.stop()
          await running
          onDelivered = () => undefined
        },
      }
    },
    async timeClaim(batch) {
      const m = await worker()
      const t0 = performance.now()
      const held = await port(m).claim({ limit: batch, leaseMs: 60_000 })
      const ms = performance.now() - t0
      const now = new Date()
      await port(m).settle(held.map((h) => ({ held: h, report: delivered(now) })))
      return ms
    },
    async close() {
      await workerStorage?.close()
      await storage.close()
      await server.dropDatabase(database)
    },
  }
}
