import { describe, expect, it } from 'vitest'
import type { ClaimRequest } from '../../src/application/delivery-service.js'
import { StorageError } from '../../src/domain/errors.js'
import type { ClaimedMessage } from '../../src/domain/outbox-message.js'
import { ClaimLoop, claimRetryDelay, DeliverySlots } from '../../src/worker/claim-loop.js'
import { WorkerConfigurationError } from '../../src/worker/errors.js'
import { FakeTimers, settle } from '../support/fake-timers.js'
import { uuid } from '../support/fixtures.js'
import { claimed } from './support.js'

function loop(opts: { concurrency?: number; perTenant?: number; batchSize?: number } = {}) {
  const timers = new FakeTimers()
  const slots = new DeliverySlots(opts.concurrency ?? 4, opts.perTenant ?? Number.POSITIVE_INFINITY)
  const queue: ClaimedMessage[] = []
  const requests: ClaimRequest[] = []
  const started: ClaimedMessage[] = []
  const givenBack: ClaimedMessage[] = []
  const errors: unknown[] = []
  const retries: Array<[number, number]> = []
  const recovered: number[] = []
  let fail: unknown = null
  const l = new ClaimLoop({
    claim: async (request) => {
      requests.push(request)
      if (fail) throw fail
      return queue.splice(0, request.limit)
    },
    slots,
    batchSize: opts.batchSize ?? 10,
    leaseMs: 30_000,
    pollIntervalMs: 1000,
    timers,
    start: (held) => started.push(held),
    giveBack: async (held) => {
      givenBack.push(held)
    },
    onClaimed: () => {},
    onError: (e, failures, retryInMs) => {
      errors.push(e)
      retries.push([failures, retryInMs])
    },
    onRecovered: (failures) => recovered.push(failures),
    random: () => 0,
  })
  return {
    l,
    slots,
    timers,
    queue,
    requests,
    started,
    givenBack,
    errors,
    retries,
    recovered,
    failWith: (e: unknown) => (fail = e),
  }
}

describe('the claim loop', () => {
  it('asks for at most the free slots and the batch size, and starts what it got', async () => {
    const t = loop({ concurrency: 4, batchSize: 3 })
    t.queue.push(claimed(), claimed(), claimed(), claimed(), claimed())
    expect(await t.l.claimOnce()).toEqual({ claimed: 3, asked: 3 })
    expect(await t.l.claimOnce()).toEqual({ claimed: 1, asked: 1 })
    expect(await t.l.claimOnce()).toEqual({ claimed: 0, asked: 0 })
    expect(t.started).toHaveLength(4)
    expect(t.requests.map((r) => r.limit)).toEqual([3, 1])
    t.slots.give(t.started[0]!.infrastructureId)
    expect(await t.l.claimOnce()).toEqual({ claimed: 1, asked: 1 })
  })

  it('skips tenants at their cap, and hands back what a racing claim brought over it', async () => {
    const t = loop({ concurrency: 10, perTenant: 2 })
    const busy = uuid()
    t.queue.push(claimed({ infrastructureId: busy }), claimed({ infrastructureId: busy }))
    await t.l.claimOnce()
    expect(t.requests[0]).toMatchObject({ excludeInfrastructureIds: [], perTenantLimit: 2 })
    const over = claimed({ infrastructureId: busy })
    const other = claimed()
    t.queue.push(over, other)
    await t.l.claimOnce()
    expect(t.requests[1]!.excludeInfrastructureIds).toEqual([busy])
    expect(t.started.map((m) => m.id)).not.toContain(over.id)
    expect(t.started.map((m) => m.id)).toContain(other.id)
    expect(t.givenBack).toEqual([over])
    expect(t.slots.used).toBe(3)
  })

  it('claims again at once while claims come back full, and otherwise waits for the poll interval or a poke', async () => {
    const t = loop({ concurrency: 100, batchSize: 2 })
    t.queue.push(claimed(), claimed(), claimed())
    let stopping = false
    const running = t.l.run(() => stopping)
    await settle()
    // 2 (full, so again at once), 1 (not full): now idle.
    expect(t.requests).toHaveLength(2)
    await t.timers.advance(999)
    expect(t.requests).toHaveLength(2)
    await t.timers.advance(1)
    expect(t.requests).toHaveLength(3)
    t.queue.push(claimed())
    t.l.poke()
    await settle()
    expect(t.requests).toHaveLength(4)
    expect(t.started).toHaveLength(4)
    stopping = true
    t.l.poke()
    await running
  })

  it('lives through a failing claim, trying again after the poll interval', async () => {
    const t = loop()
    t.failWith(new StorageError('connection refused'))
    let stopping = false
    const running = t.l.run(() => stopping)
    await settle()
    expect(t.errors).toHaveLength(1)
    await t.timers.advance(1000)
    expect(t.errors).toHaveLength(2)
    stopping = true
    t.l.poke()
    await running
  })

  it('backs off while the store stays down (doubling from the poll interval, capped at 5 s), and says when it is back', async () => {
    const t = loop()
    t.failWith(new StorageError('connection refused'))
    let stopping = false
    const running = t.l.run(() => stopping)
    await settle()
    // Tries at 0, 1 s, 3 s, 7 s, 12 s, 17 s, 22 s: waits of 1, 2, 4, 5, 5, 5 s.
    for (const at of [999, 2, 1999, 2, 3999, 2, 4999, 2, 4999, 2, 4999, 2]) await t.timers.advance(at)
    expect(t.retries).toEqual([
      [1, 1000],
      [2, 2000],
      [3, 4000],
      [4, 5000],
      [5, 5000],
      [6, 5000],
      [7, 5000],
    ])
    expect(t.recovered).toEqual([])
    // The store is back: the next try claims, reports the recovery once, and polls as usual.
    t.failWith(null)
    t.queue.push(claimed())
    await t.timers.advance(5000)
    expect(t.started).toHaveLength(1)
    expect(t.recovered).toEqual([7])
    await t.timers.advance(1000)
    expect(t.recovered).toEqual([7])
    expect(t.requests).toHaveLength(9)
    stopping = true
    t.l.poke()
    await running
  })

  it('jitters the backoff down by at most a fifth, so workers do not retry in step', () => {
    expect(claimRetryDelay(1000, 1, () => 0)).toBe(1000)
    expect(claimRetryDelay(1000, 3, () => 0.999)).toBe(3201)
    expect(claimRetryDelay(1000, 50, () => 0.5)).toBe(4500)
    // A poll interval longer than the cap is the cap.
    expect(claimRetryDelay(30_000, 4, () => 0)).toBe(30_000)
  })

  it('ends with a WorkerConfigurationError when the store says it is misconfigured', async () => {
    const t = loop()
    t.failWith(new StorageError('pass workerConnectionString', { misconfigured: true }))
    await expect(t.l.run(() => false)).rejects.toBeInstanceOf(WorkerConfigurationError)
    await expect(t.l.run(() => false)).rejects.toThrow('pass workerConnectionString')
    await expect(t.l.claimOnce()).rejects.toMatchObject({ code: 'WORKER_MISCONFIGURED' })
    expect(t.errors).toEqual([])
  })
})
