import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  atLeast,
  closedLoop,
  type Figure,
  failedRow,
  find,
  interleave,
  type Lane,
  type Measurement,
  measurementOf,
  sizesOf,
  verdictOf,
  warmUp,
} from '../run.js'
import { openRawSqlite, openSqliteModule } from '../systems/sqlite.js'

const G11_SIZES = {
  g11Seconds: 1.5,
  g11Concurrency: 8,
  g11Messages: 20_000,
  g11Batch: 100,
  g11SliceSeconds: 1,
}

interface SqliteLane {
  enqueue(t: number, s: number): Promise<void> | void
  drain(o: {
    batch: number
    deadline: number
  }): Promise<{ settled: number; empty: boolean }> | { settled: number; empty: boolean }
  prefill(count: number, tenantOf: (i: number) => number): Promise<void> | void
  close(): Promise<void>
}

/**
 * G11, the SQLite adapter (the embedded default) on a WAL file, through the facade as a host
 * runs it, against a raw better-sqlite3 loop doing the same inserts and updates on the same
 * schema (bench/systems/sqlite.ts says which): single enqueues with one loop (and the
 * module with 8 loops, which the adapter serialises), and a drain of `g11Messages` (claims of
 * 100, each batch settled with its attempts), in interleaved slices.
 */
export const G11: Figure<typeof G11_SIZES> = {
  id: 'G11',
  sizes: G11_SIZES,
  quick: { g11Seconds: 0.5, g11Messages: 2_000, g11SliceSeconds: 0.3 },
  async run(ctx) {
    const z = sizesOf(ctx, G11_SIZES)
    const dirs: string[] = []
    const lanes: Lane<SqliteLane>[] = []
    const measurements: Measurement[] = []
    let synchronous = '?'
    try {
      const dir = () => {
        const d = mkdtempSync(join(tmpdir(), 'messaging-bench-sqlite-'))
        dirs.push(d)
        return d
      }
      if (ctx.systems.includes('module')) {
        ctx.progress('G11', 'module', 'setup')
        const m = await openSqliteModule(dir(), z.tenants)
        lanes.push({
          label: 'module',
          databases: [],
          offServer: true,
          subject: {
            enqueue: (t, s) => m.enqueue(t, s),
            drain: (o) => m.drain({ ...o, concurrency: 1 }),
            prefill: (c, f) => m.prefill(c, f),
            close: () => m.close(),
          },
        })
      }
      if (ctx.systems.includes('raw')) {
        ctx.progress('G11', 'raw', 'setup')
        const r = openRawSqlite(dir(), z.tenants)
        synchronous = r.synchronous
        lanes.push({
          label: 'raw',
          databases: [],
          offServer: true,
          subject: {
            enqueue: (t, s) => r.enqueue(t, s),
            drain: (o) => r.drain(o),
            prefill: (c, f) => r.prefill(c, f),
            close: async () => r.close(),
          },
        })
      }
      const op = (l: SqliteLane, i: number) =>
        Promise.resolve(l.enqueue(Math.abs(i) % z.tenants, i)).then(() => 1)
      for (const l of lanes) await warmUp(1, 300, (_w, i) => op(l.subject, i))
      // The module with several loops: the adapter runs one unit of work at a time, so this
      // shows what concurrency costs in queueing.
      const enqueueLanes: Lane<SqliteLane & { loops: number }>[] = lanes.flatMap((l) => [
        { ...l, subject: { ...l.subject, loops: 1 } },
        ...(l.label === 'module'
          ? [
              {
                ...l,
                label: `module, ${z.g11Concurrency} loops`,
                subject: { ...l.subject, loops: z.g11Concurrency },
              },
            ]
          : []),
      ])
      const enq = await interleave(ctx, 'G11', enqueueLanes, z.rounds, (lane, _r, timed) =>
        timed(() => closedLoop(lane.subject.loops, z.g11Seconds, (_w, i) => op(lane.subject, i))),
      )
      measurements.push(...enq.map((r) => measurementOf(r, { system: `${r.label}: enqueue` })))
      for (const l of lanes) {
        ctx.progress('G11', l.label, 'drain what the enqueues left')
        await l.subject.drain({ batch: 1000, deadline: Number.POSITIVE_INFINITY })
        ctx.progress('G11', l.label, `prefill ${z.g11Messages.toLocaleString('en')}`)
        await l.subject.prefill(z.g11Messages, (i) => Math.floor(i / 1000) % z.tenants)
      }
      const drained = await interleave(
        ctx,
        'G11',
        lanes,
        Math.ceil((z.capSeconds * 5) / z.g11SliceSeconds),
        async (lane, _r, timed) => {
          const r = await timed(async () => {
            const t0 = performance.now()
            const d = await lane.subject.drain({ batch: z.g11Batch, deadline: t0 + z.g11SliceSeconds * 1000 })
            return { ...d, seconds: (performance.now() - t0) / 1000 }
          })
          if (r.settled === 0 && r.empty) return null
          return { units: r.settled, seconds: r.seconds, partial: r.empty }
        },
      )
      measurements.push(...drained.map((r) => measurementOf(r, { system: `${r.label}: drain` })))
    } catch (e) {
      measurements.push(failedRow({ system: 'module', error: e instanceof Error ? e.message : String(e) }))
    } finally {
      for (const l of lanes) await l.subject.close().catch(() => undefined)
      for (const d of dirs) rmSync(d, { recursive: true, force: true })
    }
    const v = (s: string) => find(measurements, s)?.value
    return {
      id: 'G11',
      title: `SQLite on a WAL file (synchronous=${synchronous}): single enqueues through the facade for ${z.g11Seconds} s slices (1 and ${z.g11Concurrency} loops) and a drain of ${z.g11Messages.toLocaleString('en')} (claims of ${z.g11Batch}, each batch settled), against raw better-sqlite3 doing the same writes; ${z.rounds} rounds`,
      metric: 'msgs/s (p50 / p99 of one call, ms)',
      unit: 'msgs/s',
      higherIsBetter: true,
      target: '>= 0.5x raw for the enqueue and the drain',
      ...verdictOf([
        atLeast('raw enqueue', v('module: enqueue'), v('raw: enqueue'), 0.5),
        atLeast('raw drain', v('module: drain'), v('raw: drain'), 0.5),
      ]),
      measurements,
      comparisons: [
        { subject: 'module: enqueue', peer: 'raw: enqueue' },
        { subject: `module, ${z.g11Concurrency} loops: enqueue`, peer: 'raw: enqueue' },
        { subject: 'module: drain', peer: 'raw: drain' },
      ],
      params: {
        seconds: z.g11Seconds,
        loops: z.g11Concurrency,
        messages: z.g11Messages,
        batch: z.g11Batch,
        rounds: z.rounds,
      },
    }
  },
}
