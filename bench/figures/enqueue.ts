import type { Subject } from '../common.js'
import {
  against,
  atLeast,
  atMost,
  closeAll,
  closedLoop,
  type Figure,
  type FigureResult,
  failedRow,
  find,
  interleave,
  measurementOf,
  type RunContext,
  sizesOf,
  verdictOf,
  warmUp,
} from '../run.js'
import { openLanes } from '../systems/index.js'

const G1_SIZES = { g1Seconds: 2.5, g1Producers: 32 }

/** G1: single enqueues, one message per transaction, 32 producers in a closed loop. */
export const G1: Figure<typeof G1_SIZES> = {
  id: 'G1',
  sizes: G1_SIZES,
  quick: { g1Seconds: 1 },
  async run(ctx) {
    const z = sizesOf(ctx, G1_SIZES)
    const ms = await enqueueFigure(ctx, 'G1', z.g1Producers, z.g1Seconds, z.rounds, (s, i) =>
      s.enqueue(Math.abs(i) % z.tenants, i).then(() => 1),
    )
    const m = find(ms, 'module')
    const raw = find(ms, 'raw')
    return {
      id: 'G1',
      title: `enqueue, 1 message per transaction, ${z.g1Producers} concurrent producers, ${z.tenants} tenants; ${z.rounds} rounds of ${z.g1Seconds} s`,
      metric: 'msgs/s (p50 / p99 of one enqueue, ms)',
      unit: 'msgs/s',
      higherIsBetter: true,
      target: ">= 1.5x pg-boss and >= 0.5x raw; p99 <= 2x raw's",
      ...verdictOf([
        atLeast('pg-boss', m?.value, find(ms, 'pg-boss')?.value, 1.5),
        atLeast('raw', m?.value, raw?.value, 0.5),
        atMost("raw's p99", m?.p99, raw?.p99, 2),
      ]),
      measurements: ms,
      comparisons: against('module', ms),
      params: { producers: z.g1Producers, seconds: z.g1Seconds, rounds: z.rounds, tenants: z.tenants },
    }
  },
}

const G2_SIZES = { g2Seconds: 2.5, g2Producers: 4, g2Batch: 1000 }

/** G2: batches of 1,000 in one transaction each, 4 producers. */
export const G2: Figure<typeof G2_SIZES> = {
  id: 'G2',
  sizes: G2_SIZES,
  quick: { g2Seconds: 1 },
  async run(ctx) {
    const z = sizesOf(ctx, G2_SIZES)
    const seqs = Array.from({ length: z.g2Batch }, (_, i) => i)
    const ms = await enqueueFigure(ctx, 'G2', z.g2Producers, z.g2Seconds, z.rounds, (s, i) =>
      s.enqueueBatch(Math.abs(i) % z.tenants, seqs).then(() => z.g2Batch),
    )
    const m = find(ms, 'module')
    const peers = ['pg-boss', 'graphile-worker'].map((p) => find(ms, p)).filter((x) => x?.value != null)
    const fastest = peers.sort((a, b) => b!.value! - a!.value!)[0]
    return {
      id: 'G2',
      title: `enqueue in batches of ${z.g2Batch.toLocaleString('en')} (one transaction each), ${z.g2Producers} concurrent producers; ${z.rounds} rounds of ${z.g2Seconds} s`,
      metric: 'msgs/s (p50 / p99 of one batch, ms)',
      unit: 'msgs/s',
      higherIsBetter: true,
      target: '>= 1.2x the faster peer',
      ...verdictOf([atLeast(fastest?.system ?? 'the faster peer', m?.value, fastest?.value, 1.2)]),
      measurements: ms,
      comparisons: against('module', ms),
      params: { producers: z.g2Producers, seconds: z.g2Seconds, batch: z.g2Batch, rounds: z.rounds },
    }
  },
}

/** Every system's closed loop of `op`, interleaved slices, a short warm-up first. */
async function enqueueFigure(
  ctx: RunContext,
  id: string,
  producers: number,
  seconds: number,
  rounds: number,
  op: (s: Subject, i: number) => Promise<number>,
): Promise<FigureResult['measurements']> {
  const { lanes, failed } = await openLanes(ctx, id, ['module', 'pg-boss', 'graphile-worker', 'raw'])
  try {
    for (const l of lanes) {
      ctx.progress(id, l.label, 'warm-up')
      await warmUp(producers, 500, (_w, i) => op(l.subject, i))
    }
    const rs = await interleave(ctx, id, lanes, rounds, (lane, _round, timed) =>
      timed(() => closedLoop(producers, seconds, (_w, i) => op(lane.subject, i))),
    )
    return [...rs.map((r) => measurementOf(r)), ...failed.map(failedRow)]
  } finally {
    await closeAll(lanes)
  }
}
