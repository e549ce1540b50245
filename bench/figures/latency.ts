import { type OnDelivered, percentile, type Subject, sleep, sortNumbers } from '../common.js'
import {
  against,
  atMost,
  closeAll,
  type Figure,
  type FigureResult,
  failedRow,
  find,
  interleave,
  type Lane,
  measurementOf,
  type RunContext,
  sizesOf,
  verdictOf,
} from '../run.js'
import { openLanes } from '../systems/index.js'

/** Tracks when each sent message was delivered. */
export function latencyBook() {
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

/** A consumer running for the slice only: started before the timed part, stopped after. */
async function withConsumer<T>(
  lane: Lane<Subject>,
  onDelivered: OnDelivered,
  fn: () => Promise<T>,
): Promise<T> {
  const consumer = await lane.subject.startConsumer!(onDelivered)
  try {
    return await fn()
  } finally {
    await consumer.stop()
  }
}

const G5_SIZES = { g5Samples: 50, g5GapMs: 150 }

/** G5: enqueue-to-delivery latency on an idle system, sequential enqueues past each system's throttles. */
export const G5: Figure<typeof G5_SIZES> = {
  id: 'G5',
  sizes: G5_SIZES,
  quick: { g5Samples: 8, g5GapMs: 120 },
  async run(ctx) {
    const z = sizesOf(ctx, G5_SIZES)
    const perSlice = Math.ceil(z.g5Samples / z.rounds)
    const { lanes, failed } = await openLanes(ctx, 'G5', ['module', 'pg-boss', 'graphile-worker'])
    let ms: FigureResult['measurements']
    try {
      const rs = await interleave(ctx, 'G5', lanes, z.rounds, async (lane, round, timed) => {
        const book = latencyBook()
        return withConsumer(lane, book.onDelivered, async () => {
          // The consumer settles into its idle state (LISTEN, first poll) before the samples.
          await sleep(300)
          return timed(async () => {
            let n = 0
            const t0 = performance.now()
            for (; n < perSlice; n++) {
              const t = n % z.tenants
              const s = round * 1_000_000 + n
              book.sent(t, s)
              await lane.subject.enqueue(t, s)
              await book.waitFor(t, s, 5000)
              await sleep(z.g5GapMs)
            }
            const l = book.latencies()
            return {
              units: n,
              seconds: (performance.now() - t0) / 1000,
              value: percentile(l, 50),
              latencies: l,
            }
          })
        })
      })
      ms = [
        ...rs.map((r) =>
          measurementOf(r, {
            // The pooled median of every sample (the slices' medians are kept in `slices`).
            ...(r.latencies.length > 0 && { value: percentile(r.latencies, 50) }),
            delivered: `${r.latencies.length}/${r.units}`,
          }),
        ),
        ...failed.map(failedRow),
      ]
    } finally {
      await closeAll(lanes)
    }
    const m = find(ms, 'module')
    const g = find(ms, 'graphile-worker')
    return {
      id: 'G5',
      title: `enqueue-to-delivery latency on an idle system: ${z.g5Samples} sequential enqueues ${z.g5GapMs} ms apart, over ${z.rounds} rounds`,
      metric: 'p50 ms (p50 / p99)',
      unit: 'ms',
      higherIsBetter: false,
      target: "p50 and p99 <= graphile-worker's",
      ...verdictOf([
        atMost("graphile-worker's p50", m?.p50, g?.p50, 1),
        atMost("graphile-worker's p99", m?.p99, g?.p99, 1),
      ]),
      measurements: ms,
      comparisons: against('module', ms),
      params: { samples: z.g5Samples, gapMs: z.g5GapMs, rounds: z.rounds },
    }
  },
}

const STEADY_SIZES = { g6Rate: 2000, g7Rate: 5000, g6Seconds: 6, g6Rounds: 1, g6GraceSeconds: 4 }

/** An open-loop producer at `rate` for the slice, latency counted from each message's due time. */
async function steadySlice(
  lane: Lane<Subject>,
  rate: number,
  z: typeof STEADY_SIZES & { tenants: number },
  round: number,
) {
  const book = latencyBook()
  let sent = 0
  let failedSends = 0
  const r = await withConsumer(lane, book.onDelivered, async () => {
    await sleep(300)
    const start = performance.now()
    const end = start + z.g6Seconds * 1000
    const inflight = new Set<Promise<void>>()
    // Open loop: message n is due at start + n / rate and its latency counts from then, so a
    // producer that falls behind shows up in the figure instead of hiding.
    while (performance.now() < end) {
      const due = Math.floor(((performance.now() - start) / 1000) * rate)
      while (sent < due && inflight.size < 256) {
        const n = sent++
        const t = n % z.tenants
        const s = round * 10_000_000 + n
        book.sent(t, s, start + (n / rate) * 1000)
        const p: Promise<void> = lane.subject.enqueue(t, s).then(
          () => {
            inflight.delete(p)
          },
          () => {
            failedSends++
            inflight.delete(p)
          },
        )
        inflight.add(p)
      }
      await sleep(2)
    }
    await Promise.all(inflight)
    const graceEnd = performance.now() + z.g6GraceSeconds * 1000
    while (book.pending > failedSends && performance.now() < graceEnd) await sleep(20)
    return { seconds: (performance.now() - start) / 1000 }
  })
  if (book.pending > 0) await lane.subject.purge?.()
  return { sent, seconds: r.seconds, latencies: book.latencies() }
}

function steadyFigure(id: 'G6' | 'G7'): Figure<typeof STEADY_SIZES> {
  return {
    id,
    sizes: STEADY_SIZES,
    quick: { g6Seconds: 2, g6GraceSeconds: 2 },
    async run(ctx: RunContext) {
      const z = sizesOf(ctx, STEADY_SIZES)
      const rate = id === 'G6' ? z.g6Rate : z.g7Rate
      const { lanes, failed } = await openLanes(ctx, id, ['module', 'pg-boss', 'graphile-worker'])
      const sentBy = new Map<string, number>()
      let ms: FigureResult['measurements']
      try {
        const rs = await interleave(ctx, id, lanes, z.g6Rounds, async (lane, round, timed) => {
          const r = await timed(() => steadySlice(lane, rate, z, round))
          sentBy.set(lane.label, (sentBy.get(lane.label) ?? 0) + r.sent)
          return {
            units: r.latencies.length,
            seconds: r.seconds,
            value: percentile(r.latencies, 99),
            latencies: r.latencies,
          }
        })
        ms = [
          ...rs.map((r) => {
            const sent = sentBy.get(r.label) ?? 0
            const due = Math.round(rate * z.g6Seconds * z.g6Rounds)
            return measurementOf(r, {
              ...(r.latencies.length > 0 && { value: percentile(r.latencies, 99) }),
              delivered: `${r.latencies.length}/${due}`,
              ...(sent < due * 0.98 && {
                note: `enqueued only ${Math.round(sent / (z.g6Seconds * z.g6Rounds))}/s`,
              }),
            })
          }),
          ...failed.map(failedRow),
        ]
      } finally {
        await closeAll(lanes)
      }
      return {
        id,
        title: `latency under a steady ${rate.toLocaleString('en')} msgs/s of single enqueues for ${z.g6Seconds} s (${z.g6Rounds} round(s)), up to ${z.g6GraceSeconds} s to finish`,
        metric: 'p99 ms (p50 / p99), delivered',
        unit: 'ms',
        higherIsBetter: false,
        target: 'recorded (no target in issue 18)',
        met: null,
        measurements: ms,
        comparisons: against('module', ms),
        params: { rate, seconds: z.g6Seconds, rounds: z.g6Rounds },
      }
    },
  }
}

export const G6 = steadyFigure('G6')
export const G7 = steadyFigure('G7')
