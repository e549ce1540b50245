import { describe, expect, it } from 'vitest'
import type { SettleItem, SettleResult } from '../../src/application/settle.js'
import { CompletionBatcher } from '../../src/worker/completion-batcher.js'
import { FakeTimers, settle } from '../support/fake-timers.js'
import { claimed, report } from './support.js'

function batcher(opts: {
  inFlight: number
  batchSize?: number
  fail?: (items: readonly SettleItem[]) => boolean
}) {
  const timers = new FakeTimers()
  const calls: string[][] = []
  let inFlight = opts.inFlight
  const b = new CompletionBatcher({
    settle: async (items) => {
      calls.push(items.map((i) => i.held.id))
      if (opts.fail?.(items)) throw new Error('one of them is poison')
      return items.map((): SettleResult => ({ acked: true, status: 'processed' }))
    },
    delayMs: 5,
    batchSize: opts.batchSize ?? 100,
    inFlight: () => inFlight,
    timers,
  })
  return { b, timers, calls, setInFlight: (n: number) => (inFlight = n) }
}

const item = () => ({ held: claimed(), report: report() })

describe('the completion batcher', () => {
  it('settles at once when no other delivery could join', async () => {
    const { b, calls } = batcher({ inFlight: 1 })
    const x = item()
    await expect(b.submit(x)).resolves.toEqual({ acked: true, status: 'processed' })
    expect(calls).toEqual([[x.held.id]])
  })

  it('waits up to the delay for others, then settles them in one call, each answered on its own', async () => {
    const { b, timers, calls } = batcher({ inFlight: 5 })
    const [x, y, z] = [item(), item(), item()]
    const answers = [b.submit(x), b.submit(y)]
    await settle()
    expect(calls).toEqual([])
    answers.push(b.submit(z))
    await timers.advance(4)
    expect(calls).toEqual([])
    await timers.advance(1)
    expect(calls).toEqual([[x.held.id, y.held.id, z.held.id]])
    expect(await Promise.all(answers)).toHaveLength(3)
  })

  it('flushes as soon as every delivery in flight has completed, without waiting out the delay', async () => {
    const { b, calls } = batcher({ inFlight: 2 })
    const [x, y] = [item(), item()]
    const first = b.submit(x)
    await settle()
    expect(calls).toEqual([])
    await Promise.all([first, b.submit(y)])
    expect(calls).toEqual([[x.held.id, y.held.id]])
  })

  it('flushes a full batch at once', async () => {
    const { b, calls } = batcher({ inFlight: 50, batchSize: 3 })
    const items = [item(), item(), item(), item()]
    const answers = items.map((i) => b.submit(i))
    await settle()
    expect(calls).toEqual([items.slice(0, 3).map((i) => i.held.id)])
    expect(b.pending).toBe(1)
    await Promise.all(answers.slice(0, 3))
  })

  it('settles a failed batch one by one, so one bad item costs the others nothing', async () => {
    const bad = item()
    const { b, timers, calls } = batcher({
      inFlight: 3,
      fail: (items) => items.some((i) => i.held.id === bad.held.id),
    })
    const [x, y] = [item(), item()]
    const answers = [x, bad, y].map((i) =>
      b.submit(i).then(
        (r) => r,
        (e: Error) => e.message,
      ),
    )
    await timers.advance(5)
    expect(await Promise.all(answers)).toEqual([
      { acked: true, status: 'processed' },
      'one of them is poison',
      { acked: true, status: 'processed' },
    ])
    expect(calls).toEqual([[x.held.id, bad.held.id, y.held.id], [x.held.id], [bad.held.id], [y.held.id]])
  })

  it('rejects a lone completion whose settle fails, and counts it out of the pending ones', async () => {
    const { b } = batcher({ inFlight: 1, fail: () => true })
    await expect(b.submit(item())).rejects.toThrow('poison')
    await settle()
    expect(b.pending).toBe(0)
  })
})
