import pg from 'pg'
import PgBoss from 'pg-boss'
import { type BenchPayload, payloadOf, type Subject, type SubjectOptions } from '../common.js'
import type { BenchServer } from '../postgres.js'

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
  const prefill = async (count: number, tenantOf: (i: number) => number) => {
    for (let from = 0; from < count; from += 20_000) {
      const jobs = []
      for (let i = from; i < Math.min(count, from + 20_000); i++)
        jobs.push({ name: QUEUE, data: { ...payloadOf(tenantOf(i), i) } })
      await boss.insert(jobs)
    }
    await sql('vacuum analyze pgboss.job')
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
    prefill,
    async prefillSettled(count, tenantOf) {
      await prefill(count, tenantOf)
      // Completed jobs stay in the job table until maintenance archives them (off here).
      await sql(`update pgboss.job set state = 'completed', completed_on = now() where state = 'created'`)
      await sql('vacuum analyze pgboss.job')
    },
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
