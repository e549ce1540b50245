import { describe, expect, it } from 'vitest'
import { StorageError } from '../../src/domain/errors.js'
import type { DeliveryOutcome, Transport } from '../../src/ports/transport.js'
import { createDeliveryWorker, WorkerConfigurationError } from '../../src/worker/index.js'
import { FakeTimers, settle } from '../support/fake-timers.js'
import { testChannelType } from '../support/transports.js'
import { claimed, MemoryPortDouble } from './support.js'

/** A worker on the port double and a fake clock; `send` decides each delivery. */
function setup(send: Transport['send']) {
  const timers = new FakeTimers()
  const port = new MemoryPortDouble()
  const logs: string[] = []
  const worker = createDeliveryWorker({
    delivery: port,
    transports: [{ channelType: testChannelType, send }],
    timers,
    leaseMs: 3000,
    renewEveryMs: 1000,
    pollIntervalMs: 500,
    shutdownGraceMs: 2000,
    attemptTimeoutMs: 60_000,
    random: () => 0,
    logger: {
      debug: () => {},
      info: (_o, msg) => logs.push(`info ${msg}`),
      warn: (_o, msg) => logs.push(`warn ${msg}`),
      error: (_o, msg) => logs.push(`error ${msg}`),
    },
  })
  const errors: unknown[] = []
  worker.events.on('error', (e) => errors.push(e))
  return { timers, port, worker, errors, logs }
}

const waitFor = (timers: FakeTimers, ms: number) =>
  new Promise<DeliveryOutcome>((resolve) => timers.setTimeout(() => resolve({ status: 'delivered' }), ms))

describe('the delivery worker, wired', () => {
  it('renews the lease of a slow delivery, and stops once it settled', async () => {
    const t = setup(() => waitFor(t.timers, 2600))
    const held = claimed()
    t.port.queue.push(held)
    const stop = new AbortController()
    const running = t.worker.run(stop.signal)
    await t.timers.advance(2600)
    expect(t.port.renewed).toEqual([held.id, held.id, held.id, held.id, held.id])
    expect(t.port.settled.map((s) => s.held.id)).toEqual([held.id])
    await t.timers.advance(10_000)
    expect(t.port.renewed).toHaveLength(5)
    stop.abort()
    await running
  })

  it('stops renewing a lease whose settle failed, so the lease lapses and the message comes back', async () => {
    const t = setup(() => waitFor(t.timers, 600))
    t.port.failSettle = () => true
    const held = claimed()
    t.port.queue.push(held)
    const stop = new AbortController()
    const running = t.worker.run(stop.signal)
    await t.timers.advance(600)
    expect(t.port.settleCalls).toBe(1)
    expect(t.errors).toHaveLength(1)
    const renewals = t.port.renewed.length
    await t.timers.advance(30_000)
    // Nothing holds it any more: no renewal, no release, no second settle.
    expect(t.port.renewed).toHaveLength(renewals)
    expect(t.port.released).toEqual([])
    expect(t.port.settleCalls).toBe(1)
    // Its next claim (once the lease lapsed) settles and records the attempt.
    t.port.failSettle = () => false
    const again = { ...held, attempts: 2, leaseToken: crypto.randomUUID() }
    t.port.queue.push(again)
    t.port.wake()
    await t.timers.advance(600)
    expect(t.port.settled).toMatchObject([{ held: { id: held.id, attempts: 2 } }])
    stop.abort()
    await running
  })

  it('gives in-flight deliveries the grace period on shutdown, then releases the rest uncounted', async () => {
    const t = setup((m) => waitFor(t.timers, m.payload === 'slow' ? 60_000 : 1500))
    const quick = claimed({ payload: 'quick' })
    const slow = claimed({ payload: 'slow' })
    t.port.queue.push(quick, slow)
    const stop = new AbortController()
    const running = t.worker.run(stop.signal)
    await settle()
    stop.abort()
    await t.timers.advance(2000)
    await running
    expect(t.port.settled.map((s) => s.held.id)).toEqual([quick.id])
    expect(t.port.released).toEqual([{ id: slow.id, delayMs: 0 }])
  })

  it('refuses to run on a store that says it is misconfigured, instead of failing every claim', async () => {
    const t = setup(() => waitFor(t.timers, 1))
    t.port.claimError = new StorageError(
      'a fleet worker runs as messaging_worker: pass workerConnectionString',
      { misconfigured: true },
    )
    const run = t.worker.run()
    await expect(run).rejects.toBeInstanceOf(WorkerConfigurationError)
    await expect(run).rejects.toThrow('workerConnectionString')
    await expect(t.worker.drain()).rejects.toMatchObject({ code: 'WORKER_MISCONFIGURED' })
    expect(t.errors).toEqual([])
  })

  it('keeps claiming through a store that is down with capped backoff, an error event per failed claim, a log line per state change', async () => {
    const t = setup(() => waitFor(t.timers, 1))
    t.port.claimError = new StorageError('connection refused')
    const stop = new AbortController()
    const running = t.worker.run(stop.signal)
    // Tries at 0, 0.5 s and 1.5 s (waits of 500 and 1000 ms: doubling from the poll interval).
    await t.timers.advance(1500)
    expect(t.errors.length).toBe(3)
    t.port.claimError = null
    t.port.queue.push(claimed())
    await t.timers.advance(2000)
    await t.timers.advance(1)
    expect(t.port.settled).toHaveLength(1)
    expect(t.logs).toEqual([
      'error store unavailable; claiming again with capped backoff',
      'info store available again; claiming',
    ])
    stop.abort()
    await running
  })
})
