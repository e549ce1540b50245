import { Logger, makeWorkerUtils, type Runner, run, runMigrations } from 'graphile-worker'
import pg from 'pg'
import { type BenchPayload, payloadOf, type Subject, type SubjectOptions, sleep } from '../common.js'
import type { BenchServer } from '../postgres.js'

const TASK = 'bench'
const silent = new Logger(() => () => undefined)

/**
 * graphile-worker 0.17 with its fastest documented settings: `addJob` / `addJobs` to
 * produce; a runner with `localQueue` (jobs fetched in batches) and batched completion
 * (`completeJobBatchDelay: 0`) to drain and for the latency figures; for one job per claim,
 * both off (its default mode).
 */
export async function openGraphile(
  server: BenchServer,
  database: string,
  opts: SubjectOptions,
): Promise<Subject> {
  const url = await server.createDatabase(database)
  const pool = new pg.Pool({ connectionString: url, max: opts.poolSize })
  pool.on('error', () => undefined)
  pool.on('connect', (client) => client.on('error', () => undefined))
  await runMigrations({ pgPool: pool, logger: silent })
  const utils = await makeWorkerUtils({ pgPool: pool, logger: silent })
  let onJob: (p: BenchPayload) => void = () => undefined
  const runners: Runner[] = []
  const start = async (o: { concurrency: number; batch: number }) => {
    const runner = await run({
      pgPool: pool,
      logger: silent,
      concurrency: o.concurrency,
      noHandleSignals: true,
      pollInterval: 1000,
      taskList: {
        [TASK]: async (p) => {
          onJob(p as BenchPayload)
        },
      },
      preset: {
        worker:
          o.batch > 1
            ? { localQueue: { size: o.batch }, completeJobBatchDelay: 0, failJobBatchDelay: 0 }
            : { completeJobBatchDelay: -1, failJobBatchDelay: -1 },
      },
    })
    runners.push(runner)
    return runner
  }
  return {
    name: 'graphile-worker',
    async enqueue(t, s) {
      await utils.addJob(TASK, { ...payloadOf(t, s) })
    },
    async enqueueBatch(t, seqs) {
      await utils.addJobs(seqs.map((s) => ({ identifier: TASK, payload: { ...payloadOf(t, s) } })))
    },
    async prefill(count, tenantOf) {
      for (let from = 0; from < count; from += 5_000) {
        const specs = []
        for (let i = from; i < Math.min(count, from + 5_000); i++)
          specs.push({ identifier: TASK, payload: { ...payloadOf(tenantOf(i), i) } })
        await utils.addJobs(specs)
      }
    },
    async drain({ total, batch, concurrency }) {
      let settled = 0
      let done: () => void = () => undefined
      const finished = new Promise<void>((r) => {
        done = r
      })
      onJob = () => {
        if (++settled >= total) done()
      }
      const runner = await start({ concurrency, batch })
      // Bounded: a drain that stalls ends after 10 minutes with what it settled.
      await Promise.race([finished, sleep(600_000)])
      await runner.stop()
      runners.splice(runners.indexOf(runner), 1)
      onJob = () => undefined
      // The runner counts a job when its task returns; its completion is written before stop() resolves.
      return settled
    },
    async startConsumer(onDelivered) {
      onJob = (p) => onDelivered(p.t, p.s)
      const runner = await start({ concurrency: 32, batch: 100 })
      return {
        async stop() {
          await runner.stop()
          runners.splice(runners.indexOf(runner), 1)
          onJob = () => undefined
        },
      }
    },
    async close() {
      for (const r of runners.splice(0)) await r.stop().catch(() => undefined)
      await utils.release()
      await pool.end()
      await server.dropDatabase(database)
    },
  }
}
