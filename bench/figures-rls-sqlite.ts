import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { percentile, type Subject } from './common.js'
import { closedLoop, type FigureResult, type Measurement, type RunContext } from './figures.js'
import { openModule } from './systems/module.js'
import { openRawSqlite, openSqliteModule } from './systems/sqlite.js'

let dbCounter = 0

const fmt = (x: number) => Math.round(x).toLocaleString('en')

/**
 * G10, the cost of row-level security: G1 (single enqueues, closed loop) and G3 (the
 * module's drain) run as `messaging_app` / `messaging_worker` with claims, and as the
 * tables' owner (a superuser connection, `allowPrivilegedRole`), to which no policy
 * applies. Each side runs `g10Rounds` times, alternating which goes first; the best of
 * each side counts. The value is the lower of the two ratios (with RLS / owner).
 */
export async function g10(ctx: RunContext): Promise<FigureResult> {
  const { g1Producers: producers, g1Seconds: seconds, tenants, g10Rounds: rounds } = ctx.sizes
  const { g3Messages: total, g3Batch: batch, g3Concurrency: concurrency } = ctx.sizes
  const best = { app: { g1: 0, g3: 0 }, owner: { g1: 0, g3: 0 } }
  const failures: string[] = []
  const withSubject = async (owner: boolean, run: (s: Subject) => Promise<void>) => {
    const db = `bench_g10_${process.pid}_${++dbCounter}`
    let s: Subject | undefined
    try {
      s = await openModule(ctx.server, db, ctx.template, { tenants, poolSize: 32 }, { asOwner: owner })
      await run(s)
    } finally {
      await s?.close().catch(() => undefined)
    }
  }
  if (ctx.systems.includes('module')) {
    try {
      for (let r = 0; r < rounds; r++) {
        const order = r % 2 === 0 ? [false, true] : [true, false]
        for (const owner of order) {
          const side = owner ? 'owner' : 'app'
          const label = owner ? 'as the owner' : 'as messaging_app'
          await withSubject(owner, async (s) => {
            ctx.progress('G10', 'module', `G1 ${label} (round ${r + 1}/${rounds})`)
            const g1 = await closedLoop(producers, seconds, async (_w, i) => {
              await s.enqueue(Math.abs(i) % tenants, i)
              return 1
            })
            best[side].g1 = Math.max(best[side].g1, g1.perSecond)
          })
          await withSubject(owner, async (s) => {
            ctx.progress('G10', 'module', `G3 ${label}: prefill ${total} (round ${r + 1}/${rounds})`)
            await s.prefill(total, (i) => i % tenants)
            ctx.progress('G10', 'module', `G3 ${label}: drain (round ${r + 1}/${rounds})`)
            const t0 = performance.now()
            const settled = await s.drain!({ total, batch, concurrency })
            best[side].g3 = Math.max(best[side].g3, settled / ((performance.now() - t0) / 1000))
          })
        }
      }
    } catch (e) {
      failures.push(e instanceof Error ? e.message : String(e))
    }
  }
  const g1Ratio = best.owner.g1 > 0 ? best.app.g1 / best.owner.g1 : null
  const g3Ratio = best.owner.g3 > 0 ? best.app.g3 / best.owner.g3 : null
  const value = g1Ratio !== null && g3Ratio !== null ? Math.min(g1Ratio, g3Ratio) : null
  const measurements: Measurement[] = ctx.systems.includes('module')
    ? [
        {
          system: 'module',
          value: failures.length > 0 ? null : value,
          note:
            failures.length > 0
              ? `failed: ${failures[0]}`
              : `G1 ${fmt(best.app.g1)}/s with RLS vs ${fmt(best.owner.g1)}/s as owner (${g1Ratio?.toFixed(2)}); ` +
                `G3 ${fmt(best.app.g3)}/s with RLS vs ${fmt(best.owner.g3)}/s as owner (${g3Ratio?.toFixed(2)})`,
        },
      ]
    : []
  return {
    id: 'G10',
    title: `RLS cost: G1 (${producers} producers, ${seconds} s) and G3 (drain ${total.toLocaleString('en')}) as messaging_app with claims / as the tables' owner, best of ${rounds}`,
    metric: 'lower of the G1 and G3 ratios, RLS / owner',
    unit: 'x',
    higherIsBetter: true,
    target: 'ratio >= 0.85',
    met: value !== null && failures.length === 0 ? value >= 0.85 : null,
    measurements,
    params: { producers, seconds, total, batch, concurrency, rounds },
  }
}

/**
 * G11, the SQLite adapter on a file (WAL): single enqueues through the facade, one loop
 * and `g11Concurrency` loops (the adapter runs one unit of work at a time), and a drain of
 * `g11Messages` (claims of `g3Batch` through messaging.delivery, completeMany per batch),
 * each beside a raw better-sqlite3 loop of one INSERT per transaction of same-sized rows.
 */
export async function g11(ctx: RunContext): Promise<FigureResult> {
  const {
    g11Seconds: seconds,
    g11Concurrency: loops,
    g11Messages: total,
    g3Batch: batch,
    tenants,
  } = ctx.sizes
  const measurements: Measurement[] = []
  let rawRate: number | null = null
  let synchronous = '?'
  if (ctx.systems.includes('raw')) {
    const dir = mkdtempSync(join(tmpdir(), 'messaging-bench-sqlite-raw-'))
    try {
      ctx.progress('G11', 'raw', 'insert loop')
      const raw = openRawSqlite(dir, tenants)
      synchronous = raw.synchronous
      try {
        const r = await closedLoop(1, seconds, async (_w, i) => {
          raw.insert(Math.abs(i) % tenants, i)
          return 1
        })
        rawRate = r.perSecond
        measurements.push({
          system: 'raw',
          value: r.perSecond,
          p50: percentile(r.latencies, 50),
          p99: percentile(r.latencies, 99),
          note: `one INSERT per transaction, WAL, synchronous=${synchronous}`,
        })
      } finally {
        raw.close()
      }
    } catch (e) {
      measurements.push({ system: 'raw', value: null, note: `failed: ${e instanceof Error ? e.message : e}` })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
  if (ctx.systems.includes('module')) {
    const dir = mkdtempSync(join(tmpdir(), 'messaging-bench-sqlite-'))
    try {
      ctx.progress('G11', 'module', 'setup')
      const m = await openSqliteModule(dir, tenants)
      try {
        ctx.progress('G11', 'module', 'enqueue, one loop')
        const seq = await closedLoop(1, seconds, async (_w, i) => {
          await m.enqueue(Math.abs(i) % tenants, i)
          return 1
        })
        ctx.progress('G11', 'module', `enqueue, ${loops} loops`)
        const conc = await closedLoop(loops, seconds, async (_w, i) => {
          await m.enqueue(Math.abs(i) % tenants, i)
          return 1
        })
        // The enqueued messages are drained first, so the measured drain starts on an empty queue.
        ctx.progress('G11', 'module', 'drain the enqueued messages')
        await m.drain({ total: Number.MAX_SAFE_INTEGER, batch: 1000, concurrency: 1 })
        ctx.progress('G11', 'module', `prefill ${total}`)
        await m.prefill(total, (i) => Math.floor(i / 1000) % tenants)
        ctx.progress('G11', 'module', 'drain')
        const t0 = performance.now()
        const settled = await m.drain({ total, batch, concurrency: 2 })
        const drainRate = settled / ((performance.now() - t0) / 1000)
        const vsRaw = (x: number) => (rawRate ? ` (${(x / rawRate).toFixed(2)} x raw)` : '')
        measurements.push({
          system: 'module',
          value: seq.perSecond,
          p50: percentile(seq.latencies, 50),
          p99: percentile(seq.latencies, 99),
          delivered: `${settled}/${total}`,
          note:
            `enqueue: ${fmt(seq.perSecond)}/s one loop${vsRaw(seq.perSecond)}, ${fmt(conc.perSecond)}/s with ${loops} loops${vsRaw(conc.perSecond)} ` +
            `(p50 / p99 ${percentile(conc.latencies, 50).toFixed(2)} / ${percentile(conc.latencies, 99).toFixed(2)} ms); ` +
            `drain ${fmt(drainRate)}/s${vsRaw(drainRate)} (claims of ${batch}, completeMany, 2 loops); WAL, synchronous=${synchronous}`,
        })
      } finally {
        await m.close()
      }
    } catch (e) {
      measurements.push({
        system: 'module',
        value: null,
        note: `failed: ${e instanceof Error ? e.message : e}`,
      })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
  return {
    id: 'G11',
    title: `SQLite adapter on a WAL file: single enqueues through the facade for ${seconds} s (1 and ${loops} loops), drain of ${total.toLocaleString('en')}; raw: one INSERT per transaction`,
    metric: 'enqueue msgs/s, one loop (p50 / p99 ms)',
    unit: 'msgs/s',
    higherIsBetter: true,
    target: 'recorded, with the ratio to raw',
    met: null,
    measurements,
    params: { seconds, loops, total, batch, tenants },
  }
}
