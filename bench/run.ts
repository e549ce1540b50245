import { median, percentile, type SystemName, sortNumbers } from './common.js'
import type { BenchServer } from './postgres.js'
import {
  addCosts,
  type Costs,
  type HotStatement,
  NO_COSTS,
  type Probe,
  perMessage,
  ZERO_COSTS,
} from './probe.js'

/** One row of a figure: a system (or a variant of one, e.g. `module as owner`). */
export interface Measurement {
  readonly system: string
  /** The headline number (msgs/s, ms, or a ratio); null when it could not be measured. */
  readonly value: number | null
  readonly p50?: number
  readonly p99?: number
  /** How many of the messages were delivered (latency figures). */
  readonly delivered?: string
  readonly note?: string
  /** The headline number of each slice; `value` is their median. */
  readonly slices?: readonly number[]
  /** What each message cost (sums over the measured slices / `messages`). */
  readonly costs?: Costs
  /** Messages the costs cover. */
  readonly messages?: number
  /** The statements that took the most server time, totals over the measured slices. */
  readonly hot?: readonly HotStatement[]
}

/** `subject` against `peer`: the ratio printed is oriented so that > 1 means the subject is better. */
export interface Comparison {
  readonly subject: string
  readonly peer: string
}

export interface FigureResult {
  readonly id: string
  readonly title: string
  /** What `value` is. */
  readonly metric: string
  /** 'msgs/s', 'ms' or 'x'. */
  readonly unit: string
  readonly higherIsBetter: boolean
  readonly target: string
  /** Whether the target was met; null when it could not be decided. */
  readonly met: boolean | null
  /** Why, in a few words (the ratio or number that decided). */
  readonly verdict?: string
  readonly measurements: readonly Measurement[]
  readonly comparisons: readonly Comparison[]
  readonly params: Record<string, number>
  /** Wall-clock seconds the figure took, set-up included. */
  seconds?: number
}

/** What every figure gets. */
export interface RunContext {
  readonly server: BenchServer
  /** The migrated module database new module databases are copied from. */
  readonly template: string
  /** Every size and duration (the figures' defaults or quick sizes, then `--set`). */
  readonly sizes: Readonly<Record<string, number>>
  /** The PostgreSQL systems asked for (`--systems`). */
  readonly systems: readonly SystemName[]
  readonly probe: Probe
  /** Reports which figure and system run now (the progress line). */
  progress(figure: string, system: string | null, phase: string): void
}

/**
 * A figure: an id (`--only`), its sizes (each `--set`-able; `quick` overrides some for
 * `--quick`) and the function that measures it. Adding a figure is one file exporting one of
 * these and one line in figures/index.ts.
 */
export interface Figure<S extends Record<string, number> = Record<string, number>> {
  readonly id: string
  readonly sizes: S
  readonly quick?: Partial<S>
  run(ctx: RunContext): Promise<FigureResult>
}

/** Sizes every figure shares. */
export const SHARED_SIZES = {
  /** Tenants the messages are spread over. */
  tenants: 100,
  /** Rounds of interleaved slices (each system one slice per round). */
  rounds: 3,
  /** Longest a latency or drain phase may take before it is cut off. */
  capSeconds: 20,
}
export const SHARED_QUICK: Partial<typeof SHARED_SIZES> = { rounds: 2, capSeconds: 10 }

/** A figure's sizes as the run has them. */
export function sizesOf<S extends Record<string, number>>(
  ctx: RunContext,
  defaults: S,
): S & typeof SHARED_SIZES {
  const out: Record<string, number> = {}
  for (const k of [...Object.keys(SHARED_SIZES), ...Object.keys(defaults)]) {
    const v = ctx.sizes[k]
    if (v === undefined) throw new Error(`size ${k} is not known to the run`)
    out[k] = v
  }
  return out as S & typeof SHARED_SIZES
}

/** A system (or variant) open for a figure, with what the probe needs to attribute its costs. */
export interface Lane<S> {
  readonly label: string
  readonly subject: S
  /** Databases whose statements are this lane's. */
  readonly databases: readonly string[]
  /** A child process whose CPU counts as this lane's server time (an HTTP server). */
  readonly pid?: number
  /** Not on the PostgreSQL server (SQLite): only the CPU counters apply. */
  readonly offServer?: boolean
}

/** What one slice measured. */
export interface SliceOutcome {
  /** Messages (or claims) the slice carried; the costs are divided by it. */
  readonly units: number
  /** Timed seconds. */
  readonly seconds: number
  /** The slice's headline value; default units / seconds. */
  readonly value?: number
  readonly latencies?: readonly number[]
  /**
   * The slice ended early (a drained backlog's tail): its messages and costs count, its rate
   * does not enter the median unless no full slice exists.
   */
  readonly partial?: boolean
}

/** Runs `fn` between the probe's start and finish; a slice calls it around its timed part. */
export type Timed = <T>(fn: () => Promise<T>) => Promise<T>

export interface LaneResult {
  readonly label: string
  readonly values: number[]
  readonly latencies: number[]
  readonly units: number
  readonly seconds: number
  readonly costs: Costs
  readonly hot: HotStatement[]
  readonly extraCpuMs: number | null
  failed: string | null
}

/**
 * Runs the lanes interleaved: `rounds` rounds, each giving every lane one slice, the first
 * lane rotating from round to round so that no system always follows the same one. A load
 * swing on the machine therefore hits every system alike; the headline is the median of the
 * slices. Slices run one at a time, so the probe's server-wide counters (WAL, CPU) belong to
 * the lane whose slice it is. A slice returning null has nothing left to do (a drained
 * backlog) and the lane sits out the remaining rounds; a slice that throws marks the lane
 * failed and the others go on.
 */
export async function interleave<S>(
  ctx: RunContext,
  figure: string,
  lanes: readonly Lane<S>[],
  rounds: number,
  slice: (lane: Lane<S>, round: number, timed: Timed) => Promise<SliceOutcome | null>,
): Promise<LaneResult[]> {
  const results = lanes.map<LaneResult>((l) => ({
    label: l.label,
    values: [],
    latencies: [],
    units: 0,
    seconds: 0,
    costs: ZERO_COSTS,
    hot: [],
    extraCpuMs: null,
    failed: null,
  }))
  const done = new Set<number>()
  for (let round = 0; round < rounds && done.size < lanes.length; round++) {
    for (let k = 0; k < lanes.length; k++) {
      const i = (k + round) % lanes.length
      if (done.has(i)) continue
      const lane = lanes[i]!
      const r = results[i]!
      ctx.progress(figure, lane.label, `round ${round + 1}/${rounds}`)
      let probed: Awaited<ReturnType<Probe['finish']>> | null = null
      const timed: Timed = async (fn) => {
        const from = await ctx.probe.start(lane.pid, lane.offServer !== true)
        const out = await fn()
        probed = await ctx.probe.finish(from, lane.databases, lane.pid)
        return out
      }
      try {
        const o = await slice(lane, round, timed)
        if (o === null) {
          done.add(i)
          continue
        }
        const p = probed as Awaited<ReturnType<Probe['finish']>> | null
        Object.assign(r, {
          units: r.units + o.units,
          seconds: r.seconds + o.seconds,
          costs: p ? addCosts(r.costs, p.costs) : NO_COSTS,
          hot: p ? mergeHot(r.hot, p.hot) : r.hot,
          extraCpuMs: p?.extraCpuMs != null ? (r.extraCpuMs ?? 0) + p.extraCpuMs : r.extraCpuMs,
        })
        if (!o.partial) r.values.push(o.value ?? o.units / o.seconds)
        if (o.latencies) r.latencies.push(...o.latencies)
      } catch (e) {
        r.failed = e instanceof Error ? e.message : String(e)
        done.add(i)
      }
    }
  }
  for (const r of results) r.latencies.sort((a, b) => a - b)
  return results
}

function mergeHot(a: readonly HotStatement[], b: readonly HotStatement[]): HotStatement[] {
  const by = new Map<string, HotStatement>()
  for (const h of [...a, ...b]) {
    const x = by.get(h.query)
    by.set(
      h.query,
      x
        ? {
            query: h.query,
            calls: x.calls + h.calls,
            planMs: x.planMs + h.planMs,
            execMs: x.execMs + h.execMs,
            rows: x.rows + h.rows,
          }
        : h,
    )
  }
  return [...by.values()].sort((x, y) => y.planMs + y.execMs - (x.planMs + x.execMs)).slice(0, 8)
}

/** A lane's row: the median of its slices, pooled percentiles, costs per message. */
export function measurementOf(r: LaneResult, extra: Partial<Measurement> = {}): Measurement {
  if (r.failed !== null && r.values.length === 0)
    return { system: r.label, value: null, note: `failed: ${r.failed}` }
  const l = r.latencies
  return {
    system: r.label,
    value: r.values.length > 0 ? median(r.values) : r.units > 0 ? r.units / r.seconds : null,
    ...(l.length > 0 && { p50: percentile(l, 50), p99: percentile(l, 99) }),
    slices: r.values,
    costs: perMessage(r.costs, r.units),
    messages: r.units,
    hot: r.hot,
    ...(r.failed !== null && { note: `failed after ${r.values.length} slices: ${r.failed}` }),
    ...extra,
  }
}

/** Every lane's subject closed, whatever happened. */
export async function closeAll(lanes: readonly Lane<{ close(): Promise<void> }>[]): Promise<void> {
  for (const l of lanes) await l.subject.close().catch(() => undefined)
}

/**
 * Closed loop: `producers` loops call `op` back to back for `seconds`. Returns the units per
 * second and each call's latency.
 */
export async function closedLoop(
  producers: number,
  seconds: number,
  op: (worker: number, i: number) => Promise<number>,
): Promise<{ units: number; seconds: number; latencies: number[] }> {
  const latencies: number[] = []
  let units = 0
  const start = performance.now()
  const end = start + seconds * 1000
  let i = 0
  await Promise.all(
    Array.from({ length: producers }, async (_, w) => {
      while (performance.now() < end) {
        const t0 = performance.now()
        const n = await op(w, i++)
        latencies.push(performance.now() - t0)
        units += n
      }
    }),
  )
  return { units, seconds: (performance.now() - start) / 1000, latencies: sortNumbers(latencies) }
}

/** A short untimed run of `op` so connections, plans and caches are warm before the first slice. */
export async function warmUp(
  producers: number,
  ms: number,
  op: (worker: number, i: number) => Promise<unknown>,
) {
  const end = performance.now() + ms
  let i = -1
  await Promise.all(
    Array.from({ length: producers }, async (_, w) => {
      while (performance.now() < end) await op(w, i--)
    }),
  )
}

/** Comparisons of `subject` against every other lane. */
export const against = (subject: string, ms: readonly Measurement[]): Comparison[] =>
  ms.filter((m) => m.system !== subject).map((m) => ({ subject, peer: m.system }))

/** subject / peer, oriented so that > 1 means the subject is better; null when either is missing. */
export function ratioOf(f: FigureResult, c: Comparison): number | null {
  const a = f.measurements.find((x) => x.system === c.subject)?.value
  const b = f.measurements.find((x) => x.system === c.peer)?.value
  if (a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || a === 0 || b === 0) return null
  return f.higherIsBetter ? a / b : b / a
}

export const find = (ms: readonly Measurement[], system: string) => ms.find((m) => m.system === system)

/** One condition of a target, with the number that decided it. */
export interface Check {
  readonly label: string
  readonly ok: boolean | null
}

/** All checks met (null when any could not be decided), and the checks as one line. */
export function verdictOf(checks: readonly Check[]): { met: boolean | null; verdict: string } {
  const met = checks.some((c) => c.ok === null) ? null : checks.every((c) => c.ok)
  return {
    met,
    verdict: checks.map((c) => `${c.label}${c.ok === null ? ' ?' : c.ok ? '' : ' (missed)'}`).join('; '),
  }
}

/** `a >= k * b` with both known, as a check labelled with the actual ratio. */
export function atLeast(
  label: string,
  a: number | null | undefined,
  b: number | null | undefined,
  k: number,
): Check {
  if (a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0)
    return { label: `${label} >= ${k}x`, ok: null }
  return { label: `${(a / b).toFixed(2)}x ${label} (>= ${k}x)`, ok: a >= k * b }
}

/** `a <= k * b` with both known (latencies, costs). */
export function atMost(
  label: string,
  a: number | null | undefined,
  b: number | null | undefined,
  k: number,
): Check {
  if (a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0)
    return { label: `${label} <= ${k}x`, ok: null }
  return { label: `${(a / b).toFixed(2)}x ${label} (<= ${k}x)`, ok: a <= k * b }
}

/** A row for a system that could not be opened. */
export const failedRow = (f: { system: string; error: string }): Measurement => ({
  system: f.system,
  value: null,
  note: `failed: ${f.error}`,
})
