import type { Subject } from '../common.js'
import {
  closeAll,
  closedLoop,
  type Figure,
  failedRow,
  interleave,
  type Lane,
  type Measurement,
  measurementOf,
  sizesOf,
  warmUp,
} from '../run.js'
import { openSystem } from '../systems/index.js'

const G10_SIZES = { g10Seconds: 2.5, g10Producers: 32, g10Messages: 30_000, g10SliceSeconds: 1.5 }

/**
 * G10, the cost of row-level security: G1 (single enqueues, closed loop) and G3 (the drain)
 * as `messaging_app` / `messaging_worker` logins with claims, and as the tables' owner
 * (`allowPrivilegedRole`), to which no policy applies, in interleaved slices. The value is
 * the lower of the two ratios (with RLS / owner).
 */
export const G10: Figure<typeof G10_SIZES> = {
  id: 'G10',
  sizes: G10_SIZES,
  quick: { g10Seconds: 1, g10Messages: 4_000, g10SliceSeconds: 0.5 },
  async run(ctx) {
    const z = sizesOf(ctx, G10_SIZES)
    const measurements: Measurement[] = []
    let g1Ratio: number | null = null
    let g3Ratio: number | null = null
    if (ctx.systems.includes('module')) {
      const lanes: Lane<Subject>[] = []
      try {
        for (const asOwner of [false, true]) {
          ctx.progress('G10', asOwner ? 'module as owner' : 'module', 'setup')
          lanes.push(await openSystem(ctx, 'module', { asOwner }))
        }
        const op = (s: Subject, i: number) => s.enqueue(Math.abs(i) % z.tenants, i).then(() => 1)
        for (const l of lanes) await warmUp(z.g10Producers, 500, (_w, i) => op(l.subject, i))
        const g1 = await interleave(ctx, 'G10', lanes, z.rounds, (lane, _r, timed) =>
          timed(() => closedLoop(z.g10Producers, z.g10Seconds, (_w, i) => op(lane.subject, i))),
        )
        for (const l of lanes) {
          ctx.progress('G10', l.label, `prefill ${z.g10Messages.toLocaleString('en')}`)
          await l.subject.prefill(z.g10Messages, (i) => i % z.tenants)
          await l.subject.drain!({ batch: 100, concurrency: 4, deadline: 0 })
        }
        const g3 = await interleave(
          ctx,
          'G10',
          lanes,
          Math.ceil((z.capSeconds * 5) / z.g10SliceSeconds),
          async (lane, _r, timed) => {
            const r = await timed(async () => {
              const t0 = performance.now()
              const d = await lane.subject.drain!({
                batch: 100,
                concurrency: 4,
                deadline: t0 + z.g10SliceSeconds * 1000,
              })
              return { ...d, seconds: (performance.now() - t0) / 1000 }
            })
            if (r.settled === 0 && r.empty) return null
            return { units: r.settled, seconds: r.seconds, partial: r.empty }
          },
        )
        const rowsOf = (rs: typeof g1, what: string) =>
          rs.map((r) => measurementOf(r, { system: `${r.label}: ${what}` }))
        const [appG1, ownerG1] = rowsOf(g1, 'G1 enqueue')
        const [appG3, ownerG3] = rowsOf(g3, 'G3 drain')
        const ratio = (a?: Measurement, b?: Measurement) =>
          a?.value != null && b?.value != null && b.value > 0 ? a.value / b.value : null
        g1Ratio = ratio(appG1, ownerG1)
        g3Ratio = ratio(appG3, ownerG3)
        measurements.push(appG1!, ownerG1!, appG3!, ownerG3!)
      } catch (e) {
        measurements.push(failedRow({ system: 'module', error: e instanceof Error ? e.message : String(e) }))
      } finally {
        await closeAll(lanes)
      }
    }
    const value = g1Ratio !== null && g3Ratio !== null ? Math.min(g1Ratio, g3Ratio) : null
    return {
      id: 'G10',
      title: `RLS cost: G1 (${z.g10Producers} producers, ${z.rounds} rounds of ${z.g10Seconds} s) and G3 (drain ${z.g10Messages.toLocaleString('en')}) as messaging_app with claims / as the tables' owner`,
      metric: 'msgs/s; the figure is the lower of the G1 and G3 ratios, RLS / owner',
      unit: 'msgs/s',
      higherIsBetter: true,
      target: 'RLS / owner >= 0.85 on both',
      met: value !== null ? value >= 0.85 : null,
      verdict: `G1 ${g1Ratio?.toFixed(2) ?? '-'}, G3 ${g3Ratio?.toFixed(2) ?? '-'} (lower ${value?.toFixed(2) ?? '-'})`,
      measurements,
      comparisons: [
        { subject: 'module: G1 enqueue', peer: 'module as owner: G1 enqueue' },
        { subject: 'module: G3 drain', peer: 'module as owner: G3 drain' },
      ],
      params: { producers: z.g10Producers, seconds: z.g10Seconds, messages: z.g10Messages, rounds: z.rounds },
    }
  },
}
