import { median, percentile, type Subject, type SystemName, sortNumbers } from '../common.js'
import {
  against,
  closeAll,
  type Figure,
  failedRow,
  find,
  interleave,
  type Lane,
  type Measurement,
  measurementOf,
  sizesOf,
} from '../run.js'
import { openSystem } from '../systems/index.js'

/**
 * g9Settled: settled rows not yet pruned beside the pending ones (0 by default: issue 18's
 * target is about the pending backlog; `--set g9Settled=1000000` adds a long-lived table's).
 */
const G9_SIZES = {
  g9Pending: 1_000_000,
  g9Settled: 0,
  g9Tenants: 10_000,
  g9ClaimsPerRound: 10,
  g9SliceSeconds: 2,
}

/**
 * G9, claim cost on a large table: the median time of one claim of 100 with `g9Pending`
 * pending rows over `g9Tenants` tenants (plus `g9Settled` settled rows not yet pruned),
 * against the same claims on a table of a few thousand rows. The small and the large table
 * of each system are measured in interleaved rounds.
 */
export const G9: Figure<typeof G9_SIZES> = {
  id: 'G9',
  sizes: G9_SIZES,
  quick: { g9Pending: 20_000, g9Tenants: 1_000, g9ClaimsPerRound: 5, g9SliceSeconds: 1 },
  async run(ctx) {
    const z = sizesOf(ctx, G9_SIZES)
    const batch = 100
    const systems = (['module', 'pg-boss'] as SystemName[]).filter((s) => ctx.systems.includes(s))
    const lanes: Lane<Subject>[] = []
    const failed: { system: string; error: string }[] = []
    let measurements: Measurement[] = []
    try {
      // The systems' large tables are built side by side (a bulk load keeps one core busy).
      await Promise.all(
        systems.map(async (system) => {
          try {
            const small = await openSystem(ctx, system)
            lanes.push({ ...small, label: `${system} small` })
            await small.subject.prefill(z.rounds * z.g9ClaimsPerRound * batch + batch, (i) => i % z.tenants)
            const large = await openSystem(ctx, system, { tenants: z.g9Tenants })
            lanes.push({ ...large, label: `${system} large` })
            if (z.g9Settled > 0) {
              ctx.progress('G9', system, `prefill ${z.g9Settled.toLocaleString('en')} settled`)
              await large.subject.prefillSettled!(z.g9Settled, (i) => i % z.g9Tenants)
            }
            ctx.progress('G9', system, `prefill ${z.g9Pending.toLocaleString('en')} pending`)
            await large.subject.prefill(z.g9Pending, (i) => i % z.g9Tenants)
            // One claim each untimed: connections and plans warm.
            await small.subject.timeClaim!(batch)
            await large.subject.timeClaim!(batch)
          } catch (e) {
            failed.push({ system, error: e instanceof Error ? e.message : String(e) })
          }
        }),
      )
      // The same lane order whichever build finished first.
      lanes.sort((a, b) => a.label.localeCompare(b.label))
      const rs = await interleave(ctx, 'G9', lanes, z.rounds, async (lane, _r, timed) => {
        const times = await timed(async () => {
          // Up to g9ClaimsPerRound claims, at least one, while the slice lasts (pg-boss takes
          // about a second a claim on the large table).
          const out: number[] = []
          const end = performance.now() + z.g9SliceSeconds * 1000
          while (out.length === 0 || (out.length < z.g9ClaimsPerRound && performance.now() < end))
            out.push(await lane.subject.timeClaim!(batch))
          return out
        })
        const sorted = sortNumbers(times)
        return {
          units: times.length * batch,
          seconds: times.reduce((a, b) => a + b, 0) / 1000,
          value: median(times),
          latencies: sorted,
        }
      })
      measurements = systems
        .filter((s) => !failed.some((f) => f.system === s))
        .map((system) => {
          const small = rs.find((r) => r.label === `${system} small`)!
          const large = rs.find((r) => r.label === `${system} large`)!
          const a = percentile(small.latencies, 50)
          const b = percentile(large.latencies, 50)
          return measurementOf(large, {
            system,
            value: Number.isFinite(a) && Number.isFinite(b) ? b / a : null,
            // Each round's ratio of the two medians.
            slices: large.values.map((v, i) => v / small.values[i]!),
            p50: a,
            p99: b,
            note: `median claim of ${batch}: ${a.toFixed(2)} ms small, ${b.toFixed(2)} ms large (costs: the large table, claim + settle)`,
          })
        })
      measurements.push(...failed.map(failedRow))
    } finally {
      await closeAll(lanes)
    }
    const m = find(measurements, 'module')
    return {
      id: 'G9',
      title: `claim cost: ${z.g9Pending.toLocaleString('en')} pending rows over ${z.g9Tenants.toLocaleString('en')} tenants${z.g9Settled > 0 ? ` and ${z.g9Settled.toLocaleString('en')} settled rows not pruned` : ''}, vs a small table; ${z.rounds} rounds of up to ${z.g9ClaimsPerRound} claims (${z.g9SliceSeconds} s)`,
      metric: 'ratio large / small (median claim of 100); p50 = small ms, p99 = large ms',
      unit: 'x',
      higherIsBetter: false,
      target: '<= 1.2x an empty table',
      met: m?.value != null ? m.value <= 1.2 : null,
      verdict: m?.value != null ? `${m.value.toFixed(2)}x` : '-',
      measurements,
      comparisons: against('module', measurements),
      params: { pending: z.g9Pending, settled: z.g9Settled, tenants: z.g9Tenants, batch, rounds: z.rounds },
    }
  },
}
