import {
  type OnDelivered,
  percentile,
  type Subject,
  type SubjectOptions,
  type SystemName,
  sleep,
  sortNumbers,
} from './common.js'
import { g10, g11 } from './figures-rls-sqlite.js'
import type { BenchServer } from './postgres.js'
import { openGraphile } from './systems/graphile.js'
import { openModule } from './systems/module.js'
import { openPgBoss } from './systems/pgboss.js'
import { openRaw } from './systems/raw.js'

export type FigureId = 'G1' | 'G2' | 'G3' | 'G4' | 'G5' | 'G6' | 'G7' | 'G8' | 'G9' | 'G10' | 'G11'
export const ALL_FIGURES: readonly FigureId[] = [
  'G1',
  'G2',
  'G3',
  'G4',
  'G5',
  'G6',
  'G7',
  'G8',
  'G9',
  'G10',
  'G11',
]

/** One system's measurement of one figure. */
export interface Measurement {
  readonly system: SystemName
  /** The headline number (msgs/s, ms, or a ratio); null when it could not be measured. */
  readonly value: number | null
  readonly p50?: number
  readonly p99?: number
  /** How many of the messages were delivered (latency figures). */
  readonly delivered?: string
  readonly note?: string
}

export interface FigureResult {
  readonly id: FigureId
  readonly title: string
  /** What `value` is. */
  readonly metric: string
  readonly unit: string
  readonly higherIsBetter: boolean
  readonly target: string
  readonly met: boolean | null
  readonly measurements: readonly Measurement[]
  readonly params: Record<string, number>
}

/** Sizes and durations; `--quick` shrinks every one. */
export interface BenchSizes {
  readonly tenants: number
  readonly g1Seconds: number
  readonly g1Producers: number
  readonly g2Seconds: number
  readonly g2Producers: number
  readonly g2Batch: number
  readonly g3Messages: number
  readonly g3Batch: number
  readonly g3Concurrency: number
  readonly g4Seconds: number
  readonly g4Concurrency: number
  readonly g5Samples: number
  readonly g5GapMs: number
  readonly g6Seconds: number
  readonly g6Rate: number
  readonly g7Rate: number
  readonly g8Backlog: number
  readonly g9Pending: number
  readonly g9Tenants: number
  /** G10: runs of each side (RLS, owner), alternating; the best of each counts. */
  readonly g10Rounds: number
  readonly g11Seconds: number
  readonly g11Concurrency: number
  readonly g11Messages: number
  /** Longest a latency or drain phase may take before it is cut off (bounded loops). */
  readonly capSeconds: number
}

export const DEFAULT_SIZES: BenchSizes = {
  tenants: 100,
  g1Seconds: 10,
  g1Producers: 32,
  g2Seconds: 10,
  g2Producers: 4,
  g2Batch: 1000,
  g3Messages: 50_000,
  g3Batch: 100,
  g3Concurrency: 4,
  g4Seconds: 10,
  g4Concurrency: 8,
  g5Samples: 50,
  g5GapMs: 150,
  g6Seconds: 30,
  g6Rate: 2000,
  g7Rate: 5000,
  g8Backlog: 100_000,
  g9Pending: 1_000_000,
  g9Tenants: 10_000,
  g10Rounds: 2,
  g11Seconds: 5,
  g11Concurrency: 8,
  g11Messages: 20_000,
  capSeconds: 120,
}

export const QUICK_SIZES: BenchSizes = {
  ...DEFAULT_SIZES,
  g1Seconds: 1.5,
  g2Seconds: 1.5,
  g3Messages: 2_000,
  g4Seconds: 1.5,
  g5Samples: 8,
  g5GapMs: 120,
  g6Seconds: 2,
  g8Backlog: 5_000,
  g9Pending: 20_000,
  g9Tenants: 1_000,
  g10Rounds: 1,
  g11Seconds: 1,
  g11Messages: 2_000,
  capSeconds: 20,
}

export interface RunContext {
  readonly server: BenchServer
  readonly template: string
  readonly sizes: BenchSizes
  readonly systems: readonly SystemName[]
  /** Reports which figure and system run now (the progress line). */
  progress(figure: FigureId, system: SystemName | null, phase: string): void
}

let dbCounter = 0

async function open(
  ctx: RunContext,
  system: SystemName,
  opts: Partial<SubjectOptions> = {},
): Promise<Subject> {
  const o: SubjectOptions = { tenants: ctx.sizes.tenants, poolSize: 32, ...opts }
  const db = `bench_${system.replace(/\W/g, '_')}_${process.pid}_${++dbCounter}`
  switch (system) {
    case 'module':
      return openModule(ctx.server, db, ctx.template, o)
    case 'pg-boss':
      return openPgBoss(ctx.server, db, o)
    case 'graphile-worker':
      return openGraphile(ctx.server, db, o)
    case 'raw':
      return openRaw(ctx.server, db, o)
  }
}

/** Opens each system in turn on a fresh database, measures, closes. */
async function each(
  ctx: RunContext,
  figure: FigureId,
  systems: readonly SystemName[],
  measure: (s: Subject) => Promise<Omit<Measurement, 'system'>>,
  opts: Partial<SubjectOptions> = {},
): Promise<Measurement[]> {
  const out: Measurement[] = []
  for (const system of systems.filter((s) => ctx.systems.includes(s))) {
    ctx.progress(figure, system, 'setup')
    let subject: Subject | undefined
    try {
      subject = await open(ctx, system, opts)
      out.push({ system, ...(await measure(subject)) })
    } catch (e) {
      out.push({ system, value: null, note: `failed: ${e instanceof Error ? e.message : String(e)}` })
    } finally {
      await subject?.close().catch(() => undefined)
    }
  }
  return out
}

const moduleOf = (ms: readonly Measurement[]) => ms.find((m) => m.system === 'module')
const rawOf = (ms: readonly Measurement[]) => ms.find((m) => m.system === 'raw')

/** Closed loop: `producers` loops call `op` back to back for `seconds` (after a short warm-up). */
export async function closedLoop(
  producers: number,
  seconds: number,
  op: (worker: number, i: number) => Promise<number>,
): Promise<{ perSecond: number; latencies: number[] }> {
  const warmupMs = Math.min(1000, seconds * 200)
  const warmEnd = performance.now() + warmupMs
  while (performance.now() < warmEnd) await op(0, -1)
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
  const elapsed = (performance.now() - start) / 1000
  return { perSecond: units / elapsed, latencies: sortNumbers(latencies) }
}

export async function g1(ctx: RunContext): Promise<FigureResult> {
  const { g1Producers: producers, g1Seconds: seconds, tenants } = ctx.sizes
  const ms = await each(ctx, 'G1', ['module', 'pg-boss', 'graphile-worker', 'raw'], async (s) => {
    ctx.progress('G1', s.name, 'enqueue')
    const r = await closedLoop(producers, seconds, async (_w, i) => {
      await s.enqueue(Math.abs(i) % tenants, i)
      return 1
    })
    return { value: r.perSecond, p50: percentile(r.latencies, 50), p99: percentile(r.latencies, 99) }
  })
  const m = moduleOf(ms)
  const raw = rawOf(ms)
  const met =
    m?.value != null && raw?.value != null && m.p99 !== undefined
      ? m.value >= 8500 && m.value >= 0.9 * raw.value && m.p99 <= 10
      : null
  return {
    id: 'G1',
    title: `enqueue, 1 message per transaction, ${producers} concurrent producers, ${tenants} tenants`,
    metric: 'msgs/s (p50 / p99 of one enqueue, ms)',
    unit: 'msgs/s',
    higherIsBetter: true,
    target: '>= 8,500 msgs/s and >= 0.9 x raw; p99 <= 10 ms',
    met,
    measurements: ms,
    params: { producers, seconds, tenants },
  }
}

export async function g2(ctx: RunContext): Promise<FigureResult> {
  const { g2Producers: producers, g2Seconds: seconds, g2Batch: batch, tenants } = ctx.sizes
  const seqs = Array.from({ length: batch }, (_, i) => i)
  const ms = await each(ctx, 'G2', ['module', 'pg-boss', 'graphile-worker', 'raw'], async (s) => {
    ctx.progress('G2', s.name, 'enqueue batches')
    const r = await closedLoop(producers, seconds, async (_w, i) => {
      await s.enqueueBatch(Math.abs(i) % tenants, seqs)
      return batch
    })
    return { value: r.perSecond, p50: percentile(r.latencies, 50), p99: percentile(r.latencies, 99) }
  })
  const m = moduleOf(ms)
  return {
    id: 'G2',
    title: `enqueue in batches of ${batch} (one transaction each), ${producers} concurrent producers`,
    metric: 'msgs/s (p50 / p99 of one batch, ms)',
    unit: 'msgs/s',
    higherIsBetter: true,
    target: '>= 150,000 msgs/s (stretch 250,000)',
    met: m?.value != null ? m.value >= 150_000 : null,
    measurements: ms,
    params: { producers, seconds, batch },
  }
}

async function drainFigure(
  ctx: RunContext,
  id: 'G3' | 'G4',
  total: number,
  batch: number,
  concurrency: number,
): Promise<Measurement[]> {
  const { tenants } = ctx.sizes
  return each(ctx, id, ['module', 'pg-boss', 'graphile-worker'], async (s) => {
    ctx.progress(id, s.name, `prefill ${total}`)
    await s.prefill(total, (i) => i % tenants)
    ctx.progress(id, s.name, 'drain')
    const t0 = performance.now()
    const settled = await s.drain!({ total, batch, concurrency })
    const seconds = (performance.now() - t0) / 1000
    return {
      value: settled / seconds,
      delivered: `${settled}/${total}`,
      note: `${seconds.toFixed(1)} s`,
    }
  })
}

export async function g3(ctx: RunContext): Promise<FigureResult> {
  const { g3Messages: total, g3Batch: batch, g3Concurrency: concurrency } = ctx.sizes
  const ms = await drainFigure(ctx, 'G3', total, batch, concurrency)
  const m = moduleOf(ms)
  return {
    id: 'G3',
    title: `drain ${total.toLocaleString('en')} ready messages: claims of ${batch}, ${concurrency} claimers, an ack per message, retry bookkeeping kept`,
    metric: 'msgs/s',
    unit: 'msgs/s',
    higherIsBetter: true,
    target: '>= 40,000 msgs/s (stretch 100,000)',
    met: m?.value != null ? m.value >= 40_000 : null,
    measurements: ms,
    params: { total, batch, concurrency },
  }
}

export async function g4(ctx: RunContext): Promise<FigureResult> {
  const { g4Seconds: seconds, g4Concurrency: concurrency } = ctx.sizes
  // Enough for the duration at a generous rate; the drain stops at the time limit's count.
  const total = Math.ceil(seconds * 8000)
  const ms = await each(ctx, 'G4', ['module', 'pg-boss', 'graphile-worker'], async (s) => {
    ctx.progress('G4', s.name, `prefill ${total}`)
    await s.prefill(total, (i) => i % ctx.sizes.tenants)
    ctx.progress('G4', s.name, 'drain one by one')
    let settled = 0
    const t0 = performance.now()
    const end = t0 + seconds * 1000
    // Rounds of one claim per loop, until the time is up.
    while (performance.now() < end) {
      const n = await s.drain!({ total: concurrency * 25, batch: 1, concurrency })
      settled += n
      if (n === 0) break
    }
    const elapsed = (performance.now() - t0) / 1000
    return { value: settled / elapsed, delivered: `${settled} in ${elapsed.toFixed(1)} s` }
  })
  const m = moduleOf(ms)
  return {
    id: 'G4',
    title: `drain with 1 message per claim and 1 ack per transaction, ${concurrency} concurrent loops`,
    metric: 'msgs/s',
    unit: 'msgs/s',
    higherIsBetter: true,
    target: '>= 5,000 msgs/s',
    met: m?.value != null ? m.value >= 5000 : null,
    measurements: ms,
    params: { seconds, concurrency },
  }
}

/** Tracks when each sent message was delivered. */
function latencyBook() {
  const sentAt = new Map<string, number>()
  const lat: number[] = []
  const waiters = new Map<string, () => void>()
  const onDelivered: OnDelivered = (t, s) => {
    const k = `${t}:${s}`
    const at = sentAt.get(k)
    if (at === undefined) return
    sentAt.delete(k)
    lat.push(performance.now() - at)
    waiters.get(k)?.()
    waiters.delete(k)
  }
  return {
    onDelivered,
    sent(t: number, s: number, at = performance.now()) {
      sentAt.set(`${t}:${s}`, at)
    },
    waitFor(t: number, s: number, timeoutMs: number) {
      const k = `${t}:${s}`
      if (!sentAt.has(k)) return Promise.resolve(true)
      return Promise.race([
        new Promise<boolean>((r) => waiters.set(k, () => r(true))),
        sleep(timeoutMs).then(() => false),
      ])
    },
    get pending() {
      return sentAt.size
    },
    latencies: () => sortNumbers(lat),
  }
}

export async function g5(ctx: RunContext): Promise<FigureResult> {
  const { g5Samples: samples, g5GapMs: gap, capSeconds } = ctx.sizes
  const ms = await each(ctx, 'G5', ['module', 'pg-boss', 'graphile-worker'], async (s) => {
    const book = latencyBook()
    const consumer = await s.startConsumer!(book.onDelivered)
    try {
      await sleep(500)
      const end = performance.now() + capSeconds * 1000
      let n = 0
      for (; n < samples && performance.now() < end; n++) {
        ctx.progress('G5', s.name, `sample ${n + 1}/${samples}`)
        const t = n % ctx.sizes.tenants
        book.sent(t, n)
        await s.enqueue(t, n)
        await book.waitFor(t, n, 5000)
        await sleep(gap)
      }
      const l = book.latencies()
      return {
        value: percentile(l, 50),
        p50: percentile(l, 50),
        p99: percentile(l, 99),
        delivered: `${l.length}/${n}`,
      }
    } finally {
      await consumer.stop()
    }
  })
  const m = moduleOf(ms)
  return {
    id: 'G5',
    title: `enqueue-to-delivery latency on an idle system: ${samples} sequential enqueues, ${gap} ms apart`,
    metric: 'p50 ms (p50 / p99)',
    unit: 'ms',
    higherIsBetter: false,
    target: 'p50 <= 2 ms, p99 <= 5 ms',
    met: m?.p50 !== undefined && m.p99 !== undefined ? m.p50 <= 2 && m.p99 <= 5 : null,
    measurements: ms,
    params: { samples, gapMs: gap },
  }
}

async function steadyFigure(ctx: RunContext, id: 'G6' | 'G7', rate: number): Promise<Measurement[]> {
  const { g6Seconds: seconds, tenants } = ctx.sizes
  return each(ctx, id, ['module', 'pg-boss', 'graphile-worker'], async (s) => {
    const book = latencyBook()
    const consumer = await s.startConsumer!(book.onDelivered)
    let sent = 0
    let failed = 0
    try {
      await sleep(300)
      ctx.progress(id, s.name, `${rate}/s for ${seconds} s`)
      const start = performance.now()
      const end = start + seconds * 1000
      const inflight = new Set<Promise<void>>()
      // Open loop: each message is due at start + n / rate; its latency counts from then,
      // so a producer that falls behind shows up in the figure instead of hiding.
      while (performance.now() < end) {
        const due = Math.floor(((performance.now() - start) / 1000) * rate)
        while (sent < due && inflight.size < 256) {
          const n = sent++
          const t = n % tenants
          book.sent(t, n, start + (n / rate) * 1000)
          const p: Promise<void> = s.enqueue(t, n).then(
            () => {
              inflight.delete(p)
            },
            () => {
              failed++
              inflight.delete(p)
            },
          )
          inflight.add(p)
        }
        await sleep(2)
      }
      await Promise.all(inflight)
      ctx.progress(id, s.name, 'waiting for the last deliveries')
      const graceEnd = performance.now() + Math.min(30, ctx.sizes.capSeconds) * 1000
      while (book.pending > failed && performance.now() < graceEnd) await sleep(50)
      const l = book.latencies()
      const achieved = sent / seconds
      return {
        value: percentile(l, 99),
        p50: percentile(l, 50),
        p99: percentile(l, 99),
        delivered: `${l.length}/${Math.round(rate * seconds)}`,
        note: achieved < rate * 0.98 ? `enqueued only ${Math.round(achieved)}/s` : undefined,
      }
    } finally {
      await consumer.stop()
    }
  })
}

export async function g6(ctx: RunContext): Promise<FigureResult> {
  const rate = ctx.sizes.g6Rate
  const ms = await steadyFigure(ctx, 'G6', rate)
  const m = moduleOf(ms)
  const all = m?.delivered !== undefined && m.delivered.split('/')[0] === m.delivered.split('/')[1]
  return {
    id: 'G6',
    title: `latency under a steady ${rate.toLocaleString('en')} msgs/s of single enqueues for ${ctx.sizes.g6Seconds} s`,
    metric: 'p99 ms (p50 / p99), delivered',
    unit: 'ms',
    higherIsBetter: false,
    target: 'all delivered, p50 <= 5 ms, p99 <= 25 ms',
    met: m?.p50 !== undefined && m.p99 !== undefined ? all && m.p50 <= 5 && m.p99 <= 25 : null,
    measurements: ms,
    params: { rate, seconds: ctx.sizes.g6Seconds },
  }
}

export async function g7(ctx: RunContext): Promise<FigureResult> {
  const rate = ctx.sizes.g7Rate
  const ms = await steadyFigure(ctx, 'G7', rate)
  const m = moduleOf(ms)
  const all = m?.delivered !== undefined && m.delivered.split('/')[0] === m.delivered.split('/')[1]
  return {
    id: 'G7',
    title: `latency under a steady ${rate.toLocaleString('en')} msgs/s of single enqueues for ${ctx.sizes.g6Seconds} s`,
    metric: 'p99 ms (p50 / p99), delivered',
    unit: 'ms',
    higherIsBetter: false,
    target: 'all delivered, p99 <= 50 ms',
    met: m?.p99 !== undefined ? all && m.p99 <= 50 : null,
    measurements: ms,
    params: { rate, seconds: ctx.sizes.g6Seconds },
  }
}

/**
 * Fairness. A backlog in enqueue order where each message belongs to the heavy tenant 0
 * with probability 0.9, else to one of the others: the other tenants' messages are
 * delivered (p99 of the time from the consumer's start) with the heavy tenant's 90% in
 * the backlog and without it. Fair scheduling keeps the ratio near 1; oldest-first makes
 * the others wait for the heavy tenant's backlog.
 */
export async function g8(ctx: RunContext): Promise<FigureResult> {
  const { g8Backlog: backlog, tenants, capSeconds } = ctx.sizes
  // A fixed pseudo-random order, the same for every system.
  let seed = 42
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed / 0x7fffffff
  }
  const owners = Array.from({ length: backlog }, () =>
    rnd() < 0.9 ? 0 : 1 + Math.floor(rnd() * (tenants - 1)),
  )
  const light = owners.filter((t) => t !== 0)
  const phase = async (s: Subject, order: readonly number[], label: string) => {
    ctx.progress('G8', s.name, `${label}: prefill ${order.length}`)
    await s.prefill(order.length, (i) => order[i]!)
    const want = order.filter((t) => t !== 0).length
    const lat: number[] = []
    let start = 0
    const consumer = await s.startConsumer!((t) => {
      if (t !== 0) lat.push(performance.now() - start)
    })
    start = performance.now()
    ctx.progress('G8', s.name, `${label}: drain`)
    const end = start + capSeconds * 1000
    while (lat.length < want && performance.now() < end) await sleep(20)
    await consumer.stop()
    const sorted = sortNumbers(lat)
    return {
      p50: percentile(sorted, 50),
      p99: lat.length < want ? Number.POSITIVE_INFINITY : percentile(sorted, 99),
      delivered: `${lat.length}/${want}`,
    }
  }
  const ms = await each(ctx, 'G8', ['module', 'pg-boss', 'graphile-worker'], async (s) => {
    const unloaded = await phase(s, light, 'others only')
    return { value: unloaded.p99, p50: unloaded.p50, p99: unloaded.p99, delivered: unloaded.delivered }
  })
  const loaded = await each(ctx, 'G8', ['module', 'pg-boss', 'graphile-worker'], async (s) => {
    const r = await phase(s, owners, 'with the heavy tenant')
    return { value: r.p99, p50: r.p50, p99: r.p99, delivered: r.delivered }
  })
  const measurements: Measurement[] = loaded.map((l) => {
    const u = ms.find((x) => x.system === l.system)
    const ratio = l.value != null && u?.value != null ? l.value / u.value : null
    return {
      system: l.system,
      value: ratio,
      ...(l.p99 !== undefined && { p99: l.p99 }),
      ...(u?.p99 !== undefined && { p50: u.p99 }),
      delivered: l.delivered,
      note: `others' p99: ${fmtMs(u?.p99)} alone, ${fmtMs(l.p99)} behind the heavy tenant`,
    }
  })
  const m = moduleOf(measurements)
  return {
    id: 'G8',
    title: `fairness: tenant 0 holds 90% of a ${backlog.toLocaleString('en')} backlog; the other ${tenants - 1} tenants' p99 delivery time, loaded / alone`,
    metric: 'ratio loaded / alone (lower is fairer)',
    unit: 'x',
    higherIsBetter: false,
    target: 'others within 2 x their unloaded figure',
    met: m?.value != null ? m.value <= 2 : null,
    measurements,
    params: { backlog, tenants },
  }
}

const fmtMs = (x: number | undefined) =>
  x === undefined ? '-' : Number.isFinite(x) ? `${Math.round(x)} ms` : 'not all delivered'

/**
 * Claim cost against a large table: the median time of one claim of 100 with
 * `g9Pending` pending rows over `g9Tenants` tenants plus as many settled rows not yet
 * pruned, against the same claims on a table holding only a few thousand rows.
 */
export async function g9(ctx: RunContext): Promise<FigureResult> {
  const { g9Pending: pending, g9Tenants: tenants } = ctx.sizes
  const claims = 30
  const batch = 100
  const timeClaims = async (s: Subject) => {
    const times: number[] = []
    for (let i = 0; i < claims; i++) times.push(await s.timeClaim!(batch))
    return percentile(sortNumbers(times), 50)
  }
  const empty = await each(ctx, 'G9', ['module', 'pg-boss'], async (s) => {
    ctx.progress('G9', s.name, 'small table')
    await s.prefill(claims * batch, (i) => i % ctx.sizes.tenants)
    return { value: await timeClaims(s) }
  })
  const loaded = await each(
    ctx,
    'G9',
    ['module', 'pg-boss'],
    async (s) => {
      ctx.progress('G9', s.name, `prefill ${pending.toLocaleString('en')} settled`)
      await s.prefillSettled!(pending, (i) => i % tenants)
      ctx.progress('G9', s.name, `prefill ${pending.toLocaleString('en')} pending`)
      await s.prefill(pending, (i) => i % tenants)
      ctx.progress('G9', s.name, 'claims')
      return { value: await timeClaims(s) }
    },
    { tenants },
  )
  const measurements: Measurement[] = loaded.map((l) => {
    const e = empty.find((x) => x.system === l.system)
    return {
      system: l.system,
      value: l.value != null && e?.value != null ? l.value / e.value : null,
      ...(e?.value != null && { p50: e.value }),
      ...(l.value != null && { p99: l.value }),
      note: `median claim of ${batch}: ${e?.value?.toFixed(2) ?? '-'} ms small, ${l.value?.toFixed(2) ?? '-'} ms large${l.note ? `; ${l.note}` : ''}`,
    }
  })
  const m = moduleOf(measurements)
  return {
    id: 'G9',
    title: `claim cost: ${pending.toLocaleString('en')} pending rows over ${tenants.toLocaleString('en')} tenants and ${pending.toLocaleString('en')} settled rows not pruned, vs a small table`,
    metric: 'ratio large / small (median claim of 100)',
    unit: 'x',
    higherIsBetter: false,
    target: 'within 1.2 x of the small-table figure',
    met: m?.value != null ? m.value <= 1.2 : null,
    measurements,
    params: { pending, tenants, claims, batch },
  }
}

export const FIGURES: Record<FigureId, (ctx: RunContext) => Promise<FigureResult>> = {
  G1: g1,
  G2: g2,
  G3: g3,
  G4: g4,
  G5: g5,
  G6: g6,
  G7: g7,
  G8: g8,
  G9: g9,
  G10: g10,
  G11: g11,
}
