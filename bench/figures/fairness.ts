import { percentile, type Subject, sleep, sortNumbers } from '../common.js'
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
  type RunContext,
  sizesOf,
} from '../run.js'
import { openLanes } from '../systems/index.js'

const G8_SIZES = { g8Backlog: 20_000 }

/**
 * G8, fairness. A backlog in a fixed pseudo-random order where each message belongs to the
 * heavy tenant 0 with probability 0.9, else to one of the others: the other tenants'
 * messages are timed from the consumer's start to their delivery (p99), with the heavy
 * tenant's 90% in the backlog and without it. Fair scheduling keeps the ratio near 1;
 * oldest-first makes the others wait behind the heavy tenant.
 */
export const G8: Figure<typeof G8_SIZES> = {
  id: 'G8',
  sizes: G8_SIZES,
  quick: { g8Backlog: 4_000 },
  async run(ctx) {
    const z = sizesOf(ctx, G8_SIZES)
    let seed = 42
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed / 0x7fffffff
    }
    const owners = Array.from({ length: z.g8Backlog }, () =>
      rnd() < 0.9 ? 0 : 1 + Math.floor(rnd() * (z.tenants - 1)),
    )
    const light = owners.filter((t) => t !== 0)
    const { lanes, failed } = await openLanes(ctx, 'G8', ['module', 'pg-boss', 'graphile-worker'])
    let measurements: Measurement[]
    try {
      // Both phases for every system, interleaved phase by phase.
      const alone = await interleave(ctx, 'G8', lanes, 1, (lane, _r, timed) =>
        phase(ctx, lane, light, 'others only', timed, z.capSeconds),
      )
      const loaded = await interleave(ctx, 'G8', lanes, 1, (lane, _r, timed) =>
        phase(ctx, lane, owners, 'with the heavy tenant', timed, z.capSeconds),
      )
      measurements = [
        ...loaded.map((l) => {
          const u = alone.find((x) => x.label === l.label)!
          const a = u.values[0]
          const b = l.values[0]
          return measurementOf(l, {
            value: a !== undefined && b !== undefined ? b / a : null,
            slices: a !== undefined && b !== undefined ? [b / a] : [],
            p50: a ?? Number.NaN,
            p99: b ?? Number.NaN,
            delivered: `${l.latencies.length}/${light.length} others`,
            note: `others' p99: ${fmtMs(a)} alone, ${fmtMs(b)} behind the heavy tenant`,
          })
        }),
        ...failed.map(failedRow),
      ]
    } finally {
      await closeAll(lanes)
    }
    const m = find(measurements, 'module')
    return {
      id: 'G8',
      title: `fairness: tenant 0 holds 90% of a ${z.g8Backlog.toLocaleString('en')} backlog; the other ${z.tenants - 1} tenants' p99 delivery time, loaded / alone (cut off after ${z.capSeconds} s)`,
      metric: 'ratio loaded / alone (lower is fairer); p50 = alone p99 ms, p99 = loaded p99 ms',
      unit: 'x',
      higherIsBetter: false,
      target: 'others within 2x their unloaded figure (no target in issue 18)',
      met: m?.value != null ? m.value <= 2 : null,
      verdict: m?.value != null ? `${m.value.toFixed(2)}x` : '-',
      measurements,
      comparisons: against('module', measurements),
      params: { backlog: z.g8Backlog, tenants: z.tenants },
    }
  },
}

const fmtMs = (x: number | undefined) =>
  x === undefined ? '-' : Number.isFinite(x) ? `${Math.round(x)} ms` : 'not all delivered'

/** One phase: prefill `order` (untimed), then a consumer until the light tenants are all delivered. */
async function phase(
  ctx: RunContext,
  lane: Lane<Subject>,
  order: readonly number[],
  label: string,
  timed: <T>(fn: () => Promise<T>) => Promise<T>,
  capSeconds: number,
) {
  ctx.progress('G8', lane.label, `${label}: prefill ${order.length.toLocaleString('en')}`)
  await lane.subject.prefill(order.length, (i) => order[i]!)
  const want = order.filter((t) => t !== 0).length
  const lat: number[] = []
  let all = 0
  let start = 0
  ctx.progress('G8', lane.label, `${label}: drain`)
  const r = await timed(async () => {
    const consumer = await lane.subject.startConsumer!((t) => {
      all++
      if (t !== 0) lat.push(performance.now() - start)
    })
    start = performance.now()
    const end = start + capSeconds * 1000
    while (lat.length < want && performance.now() < end) await sleep(20)
    const seconds = (performance.now() - start) / 1000
    await consumer.stop()
    return { seconds }
  })
  await lane.subject.purge?.()
  const sorted = sortNumbers(lat)
  return {
    units: all,
    seconds: r.seconds,
    value: lat.length < want ? Number.POSITIVE_INFINITY : percentile(sorted, 99),
    latencies: sorted,
  }
}
