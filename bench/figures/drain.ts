import {
  against,
  atLeast,
  closeAll,
  type Figure,
  failedRow,
  find,
  interleave,
  type Measurement,
  measurementOf,
  type RunContext,
  sizesOf,
  verdictOf,
} from '../run.js'
import { openLanes } from '../systems/index.js'

const G3_SIZES = { g3Messages: 50_000, g3Batch: 100, g3Concurrency: 4, g3SliceSeconds: 2 }

/**
 * G3: a backlog of 50,000 ready messages per system, drained in interleaved slices (claims
 * of 100, 4 claim loops, every message acked) until each is empty; the rate is the median
 * of the full slices.
 */
export const G3: Figure<typeof G3_SIZES> = {
  id: 'G3',
  sizes: G3_SIZES,
  quick: { g3Messages: 4_000, g3SliceSeconds: 0.5 },
  async run(ctx) {
    const z = sizesOf(ctx, G3_SIZES)
    const ms = await drainFigure(ctx, 'G3', {
      prefill: z.g3Messages,
      batch: z.g3Batch,
      concurrency: z.g3Concurrency,
      sliceSeconds: z.g3SliceSeconds,
      // Until every backlog is empty (bounded: a stuck drain ends after capSeconds x 5).
      rounds: Math.ceil((z.capSeconds * 5) / z.g3SliceSeconds),
    })
    const fastest = ['pg-boss', 'graphile-worker']
      .map((p) => find(ms, p))
      .filter((x) => x?.value != null)
      .sort((a, b) => b!.value! - a!.value!)[0]
    const m = find(ms, 'module')
    return {
      id: 'G3',
      title: `drain ${z.g3Messages.toLocaleString('en')} ready messages: claims of ${z.g3Batch}, ${z.g3Concurrency} claimers, every message acked; slices of ${z.g3SliceSeconds} s until empty`,
      metric: 'msgs/s',
      unit: 'msgs/s',
      higherIsBetter: true,
      target: '>= 2x the faster peer',
      ...verdictOfFaster(m, fastest, 2),
      measurements: ms,
      comparisons: against('module', ms),
      params: {
        messages: z.g3Messages,
        batch: z.g3Batch,
        concurrency: z.g3Concurrency,
        slice: z.g3SliceSeconds,
      },
    }
  },
}

const G4_SIZES = { g4SliceSeconds: 2.5, g4Concurrency: 8 }

/**
 * G4: one message per claim and one ack per transaction, 8 loops, in interleaved slices over
 * a backlog large enough that none runs dry. graphile-worker runs one runner per slice in its
 * default mode (one job per fetch, completion unbatched).
 */
export const G4: Figure<typeof G4_SIZES> = {
  id: 'G4',
  sizes: G4_SIZES,
  quick: { g4SliceSeconds: 0.75 },
  async run(ctx) {
    const z = sizesOf(ctx, G4_SIZES)
    const ms = await drainFigure(ctx, 'G4', {
      // More than the fastest of them drains in all its slices (about 4,000/s here).
      prefill: Math.ceil(z.rounds * z.g4SliceSeconds * 8_000),
      batch: 1,
      concurrency: z.g4Concurrency,
      sliceSeconds: z.g4SliceSeconds,
      rounds: z.rounds,
    })
    const m = find(ms, 'module')
    const g = find(ms, 'graphile-worker')
    return {
      id: 'G4',
      title: `drain with 1 message per claim and 1 ack per transaction, ${z.g4Concurrency} concurrent loops; ${z.rounds} rounds of ${z.g4SliceSeconds} s`,
      metric: 'msgs/s',
      unit: 'msgs/s',
      higherIsBetter: true,
      target: '>= 1.0x graphile-worker',
      ...verdictOfFaster(m, g, 1),
      measurements: ms,
      comparisons: against('module', ms),
      params: { concurrency: z.g4Concurrency, slice: z.g4SliceSeconds, rounds: z.rounds },
    }
  },
}

function verdictOfFaster(m: Measurement | undefined, peer: Measurement | undefined, k: number) {
  return verdictOf([atLeast(peer?.system ?? 'the faster peer', m?.value, peer?.value, k)])
}

/** Prefills each system (untimed), then drains it in interleaved slices. */
async function drainFigure(
  ctx: RunContext,
  id: string,
  o: { prefill: number; batch: number; concurrency: number; sliceSeconds: number; rounds: number },
): Promise<Measurement[]> {
  const { lanes, failed } = await openLanes(ctx, id, ['module', 'pg-boss', 'graphile-worker'])
  try {
    for (const l of lanes) {
      ctx.progress(id, l.label, `prefill ${o.prefill.toLocaleString('en')}`)
      await l.subject.prefill(o.prefill, (i) => i % ctx.sizes.tenants!)
      // Connections and the worker's storage opened before the first timed slice.
      await l.subject.drain!({ batch: o.batch, concurrency: o.concurrency, deadline: 0 })
    }
    const rs = await interleave(ctx, id, lanes, o.rounds, async (lane, _round, timed) => {
      const r = await timed(async () => {
        const t0 = performance.now()
        const d = await lane.subject.drain!({
          batch: o.batch,
          concurrency: o.concurrency,
          deadline: t0 + o.sliceSeconds * 1000,
        })
        return { ...d, seconds: (performance.now() - t0) / 1000 }
      })
      if (r.settled === 0 && r.empty) return null
      return { units: r.settled, seconds: r.seconds, partial: r.empty }
    })
    return [...rs.map((r) => measurementOf(r, { delivered: `${r.units}` })), ...failed.map(failedRow)]
  } finally {
    await closeAll(lanes)
  }
}
