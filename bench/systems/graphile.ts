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
  /** Jobs added and not yet run: a drain ends when it reaches zero (the runner itself never says). */
  let queued = 0
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
    databases: [database],
    async enqueue(t, s) {
      await utils.addJob(TASK, { ...payloadOf(t, s) })
      queued++
    },
    async enqueueBatch(t, seqs) {
      await utils.addJobs(seqs.map((s) => ({ identifier: TASK, payload: { ...payloadOf(t, s) } })))
      queued += seqs.length
    },
    async prefill(count, tenantOf) {
      for (let from = 0; from < count; from += 5_000) {
        const specs = []
        for (let i = from; i < Math.min(count, from + 5_000); i++)
          specs.push({ identifier: TASK, payload: { ...payloadOf(tenantOf(i), i) } })
        await utils.addJobs(specs)
        queued += specs.length
      }
    },
    async drain({ batch, concurrency, deadline, max = Number.POSITIVE_INFINITY }) {
      // One runner for the whole slice: it is started once and stopped at the deadline.
      let settled = 0
      let done: () => void = () => undefined
      const finished = new Promise<void>((r) => {
        done = r
      })
      onJob = () => {
        queued--
        if (++settled >= max || queued <= 0) done()
      }
      if (queued <= 0) return { settled: 0, empty: true }
      const runner = await start({ concurrency, batch })
      const left = deadline - performance.now()
      await Promise.race([finished, sleep(Math.max(0, left))])
      await runner.stop()
      runners.splice(runners.indexOf(runner), 1)
      onJob = () => undefined
      // The runner counts a job when its task returns; its completion is written before stop() resolves.
      return { settled, empty: queued <= 0 }
    },
    async purge() {
      await pool.query('delete from graphile_worker._private_jobs')
      queued = 0
    },
    async startConsumer(onDelivered) {
      onJob = (p) => {
        queued--
        onDelivered(p.t, p.s)
      }
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
