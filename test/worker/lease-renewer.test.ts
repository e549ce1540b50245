import { describe, expect, it } from 'vitest'
import type { ClaimedMessage } from '../../src/domain/outbox-message.js'
import { LeaseRenewer } from '../../src/worker/lease-renewer.js'
import { FakeTimers } from '../support/fake-timers.js'
import { claimed } from './support.js'

function renewer(answer: (held: ClaimedMessage) => Promise<boolean> = async () => true) {
  const timers = new FakeTimers()
  const renewed: string[] = []
  const lost: string[] = []
  const errors: string[] = []
  const r = new LeaseRenewer({
    renew: (held) => {
      renewed.push(held.id)
      return answer(held)
    },
    renewEveryMs: 1000,
    timers,
    onLost: (held) => lost.push(held.id),
    onError: (held) => errors.push(held.id),
  })
  return { r, timers, renewed, lost, errors }
}

describe('the lease renewer', () => {
  it('renews a held lease every half period, never leaving a gap over the period', async () => {
    const { r, timers, renewed } = renewer()
    const a = claimed()
    r.hold(a)
    await timers.advance(499)
    expect(renewed).toEqual([])
    await timers.advance(1)
    expect(renewed).toEqual([a.id])
    await timers.advance(500)
    expect(renewed).toEqual([a.id, a.id])
    await timers.advance(2000)
    expect(renewed).toHaveLength(6)
  })

  it('costs nothing for a delivery that ends within half a period, and stops its ticker when none is held', async () => {
    const { r, timers, renewed } = renewer()
    const a = claimed()
    r.hold(a)
    await timers.advance(300)
    r.drop(a.id)
    expect(timers.pending).toBe(0)
    await timers.advance(5000)
    expect(renewed).toEqual([])
  })

  it('renews each lease by its own age: one taken later is renewed later', async () => {
    const { r, timers, renewed } = renewer()
    const a = claimed()
    const b = claimed()
    r.hold(a)
    await timers.advance(300)
    r.hold(b)
    await timers.advance(200) // tick at 500: a is 500 old, b 200
    expect(renewed).toEqual([a.id])
    await timers.advance(500) // tick at 1000: both are due
    expect(renewed.sort()).toEqual([a.id, a.id, b.id].sort())
  })

  it('reports a refused renewal as a lost lease once, and renews it no more', async () => {
    const { r, timers, renewed, lost } = renewer(async () => false)
    const a = claimed()
    const lease = r.hold(a)
    await timers.advance(500)
    expect(lost).toEqual([a.id])
    expect(lease.lost).toBe(true)
    await timers.advance(3000)
    expect(renewed).toEqual([a.id])
    expect(lost).toEqual([a.id])
  })

  it('does not call a lease lost when its settle is on the way (the ack may land first)', async () => {
    const { r, timers, lost } = renewer(async () => false)
    const a = claimed()
    const lease = r.hold(a)
    r.settling(a.id)
    await timers.advance(500)
    expect(lost).toEqual([])
    expect(lease.lost).toBe(false)
  })

  it('stops renewing a lease whose settle failed, so it lapses and the message comes back', async () => {
    // The worker drops a lease once its delivery ended, whether the settle landed or failed.
    const { r, timers, renewed } = renewer()
    const a = claimed()
    r.hold(a)
    await timers.advance(500)
    r.settling(a.id)
    expect(renewed).toEqual([a.id])
    r.drop(a.id) // the settle threw
    await timers.advance(60_000)
    expect(renewed).toEqual([a.id])
  })

  it('reports a renewal that throws, and ignores answers about leases already dropped', async () => {
    let fail = true
    let answer: (ok: boolean) => void = () => {}
    const { r, timers, errors, lost } = renewer(() =>
      fail ? Promise.reject(new Error('connection lost')) : new Promise<boolean>((res) => (answer = res)),
    )
    const a = claimed()
    r.hold(a)
    await timers.advance(500)
    expect(errors).toEqual([a.id])
    fail = false
    await timers.advance(500)
    r.drop(a.id)
    answer(false)
    await timers.advance(0)
    expect(lost).toEqual([])
  })
})
