import pg from 'pg'
import PgBoss from 'pg-boss'
import { type BenchPayload, payloadOf, type Subject, type SubjectOptions } from '../common.js'
import type { BenchServer } from '../postgres.js'
import { BULK, bulkLoad } from './bulk.js'

const QUEUE = 'bench'

/**
 * pg-boss 10.4 with its fastest documented settings: `send` / `insert` to produce, manual
 * `fetch` of batches and one `complete` per batch to drain, `work` for the latency figures
 * at its shortest polling interval (0.5 s). Maintenance (supervise, schedule) is off.
 */
export async function openPgBoss(
  server: BenchServer,
  database: string,
  opts: SubjectOptions,
): Promise<Subject> {
  const url = await server.createDatabase(database)
  const boss = new PgBoss({
    connectionString: url,
    max: opts.poolSize,
    supervise: false,
    schedule: false,
  })
  boss.on('error', () => undefined)
  await boss.start()
  await boss.createQueue(QUEUE)
  const workers: string[] = []
  const sql = async (text: string) => {
    const c = new pg.Client({ connectionString: url })
    await c.connect()
    try {
      await c.query(text)
    } finally {
      await c.end()
    }
  }
  /**
   * Jobs straight into pg-boss's table (routed to the queue's partition), in the shape
   * `insert` writes with the queue's defaults; the payloads are built by the server.
   */
  const fill = async (count: number, tenantOf: (i: number) => number, completed: boolean) => {
    const c = new pg.Client({ connectionString: url })
    await c.connect()
    const rows = async () => {
      for (let from = 0; from < count; from += 200_000) {
        const ts = Array.from({ length: Math.min(200_000, count - from) }, (_, k) => tenantOf(from + k))
        await c.query(
          `insert into pgboss.job (name, data, policy, state, started_on, completed_on)
             select $2, jsonb_build_object('t', x.t, 's', x.n - 1 + $3, 'text', $4::text),
                    (select policy from pgboss.queue where name = $2),
                    ${completed ? "'completed', now(), now()" : "'created', null, null"}
               from unnest($1::int[]) with ordinality as x (t, n)`,
          [ts, QUEUE, from, payloadOf(0, 0).text],
        )
      }
    }
    try {
      if (count >= BULK) await bulkLoad(c, 'pgboss.job', rows)
      else {
        await rows()
        await c.query('vacuum analyze pgboss.job')
      }
    } finally {
      await c.end()
    }
  }
  return {
    name: 'pg-boss',
    databases: [database],
    async enqueue(t, s) {
      await boss.send(QUEUE, { ...payloadOf(t, s) })
    },
    async enqueueBatch(t, seqs) {
      await boss.insert(seqs.map((s) => ({ name: QUEUE, data: { ...payloadOf(t, s) } })))
    },
    prefill: (count, tenantOf) => fill(count, tenantOf, false),
    // Completed jobs stay in the job table until maintenance archives them (off here).
    prefillSettled: (count, tenantOf) => fill(count, tenantOf, true),
    async drain({ batch, concurrency, deadline, max = Number.POSITIVE_INFINITY }) {
      let settled = 0
      let empty = false
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (settled < max && !empty && performance.now() < deadline) {
            const jobs = await boss.fetch(QUEUE, { batchSize: batch })
            if (jobs.length === 0) {
              empty = true
              break
            }
            // Typed as void; at runtime it reports how many jobs it completed.
            const r = (await boss.complete(
              QUEUE,
              jobs.map((j) => j.id),
            )) as unknown as { affected: number }
            settled += r.affected
          }
        }),
      )
      return { settled, empty }
    },
    async purge() {
      await sql(`delete from pgboss.job where name = '${QUEUE}'`)
    },
    async startConsumer(onDelivered) {
      for (let i = 0; i < 4; i++) {
        workers.push(
          await boss.work<BenchPayload>(
            QUEUE,
            { batchSize: 50, pollingIntervalSeconds: 0.5 },
            async (jobs) => {
              for (const j of jobs) onDelivered(j.data.t, j.data.s)
            },
          ),
        )
      }
      return {
        async stop() {
          for (const id of workers.splice(0)) await boss.offWork({ id })
        },
      }
    },
    async timeClaim(batch) {
      const t0 = performance.now()
      const jobs = await boss.fetch(QUEUE, { batchSize: batch })
      const ms = performance.now() - t0
      if (jobs.length > 0)
        await boss.complete(
          QUEUE,
          jobs.map((j) => j.id),
        )
      return ms
    },
    async close() {
      await boss.stop({ graceful: false, wait: true, close: true }).catch(() => undefined)
      await server.dropDatabase(database)
    },
  }
}
