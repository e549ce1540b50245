import { describe, expect, it } from 'vitest'
import type { BreakerChange } from '../../src/application/breaker-service.js'
import type { ChannelLookup } from '../../src/application/channel-opener.js'
import { TenantScope } from '../../src/domain/tenant-scope.js'
import type { BreakerKey } from '../../src/ports/breaker-repository.js'
import type { DeliveryOutcome } from '../../src/ports/transport.js'
import { breakerResultOf, resolveBreakerPolicy, storeBreakers } from '../../src/worker/breakers.js'
import { type DeliverOneOptions, deliverOne } from '../../src/worker/deliver-one.js'
import { FakeTimers } from '../support/fake-timers.js'
import { uuid } from '../support/fixtures.js'
import { testChannelType } from '../support/transports.js'
import { claimed, MemoryPortDouble, readyChannel } from './support.js'

type Ready = Extract<ChannelLookup, { status: 'ready' }>

/** deliverOne with the store's breakers (the port double's, on the fake clock) and a scripted endpoint. */
function setup(
  breaker: Record<string, unknown> | undefined = { failures: 3, windowMs: 60_000, coolDownMs: 5000 },
) {
  const timers = new FakeTimers()
  const port = new MemoryPortDouble()
  port.breakerNow = timers.now
  const changes: { channel: BreakerKey; change: BreakerChange }[] = []
  let respond: () => Promise<DeliveryOutcome> = async () => ({ status: 'delivered' })
  let sent = 0
  const options: DeliverOneOptions = {
    scope: TenantScope.fleet(uuid()),
    workerId: uuid(),
    transports: new Map([
      [
        'test',
        {
          channelType: testChannelType,
          send: async () => {
            sent++
            return respond()
          },
        },
      ],
    ]),
    rateLimiter: { take: async () => 0, defer: async () => {} },
    breakers: storeBreakers(
      port,
      {},
      { change: (channel, change) => changes.push({ channel, change }), error: (_c, e) => Promise.reject(e) },
      timers.now,
    ),
    attemptTimeoutMs: 1000,
    retry: { baseMs: 100, maxMs: 10_000 },
    random: () => 0.5,
    pausedChannelDelayMs: 30_000,
    timers,
  }
  const first = claimed()
  const lookup = readyChannel(
    { infrastructureId: first.infrastructureId, id: first.channelId, type: 'test' },
    breaker === undefined ? {} : ({ breaker } as Partial<ChannelLookup>),
  )
  const deliver = () =>
    deliverOne(
      claimed({ infrastructureId: first.infrastructureId, channelId: first.channelId }),
      lookup,
      new AbortController().signal,
      options,
    )
  return {
    timers,
    port,
    changes,
    deliver,
    sent: () => sent,
    answer: (o: DeliveryOutcome | (() => Promise<DeliveryOutcome>)) => {
      respond = typeof o === 'function' ? o : async () => o
    },
  }
}

const down: DeliveryOutcome = { status: 'retryable', code: 'HTTP_503', error: 'unavailable' }

describe('circuit breakers in the worker, on a fake clock', () => {
  it('opens after the failures in a row, holds messages uncounted for the cool-down, then probes one', async () => {
    const t = setup()
    t.answer(down)
    for (let i = 0; i < 3; i++)
      expect(await t.deliver()).toMatchObject({ action: 'settle', report: { outcome: 'retryable' } })
    expect(t.changes.map((c) => c.change.transition)).toEqual(['opened'])
    // Open: the endpoint is not called, the message goes back without an attempt.
    await t.timers.advance(2000)
    expect(await t.deliver()).toEqual({ action: 'release', delayMs: 3000, reason: 'breaker_open' })
    expect(t.sent()).toBe(3)
    // Cool-down over: one probe goes; it fails, and the breaker opens again for another cool-down.
    await t.timers.advance(3000)
    expect(await t.deliver()).toMatchObject({ action: 'settle', report: { outcome: 'retryable' } })
    expect(t.sent()).toBe(4)
    expect(t.changes.map((c) => c.change.transition)).toEqual(['opened', 'reopened'])
    expect(await t.deliver()).toEqual({ action: 'release', delayMs: 5000, reason: 'breaker_open' })
    // The endpoint recovers: the next probe closes it, and messages flow again.
    t.answer({ status: 'delivered' })
    await t.timers.advance(5000)
    expect(await t.deliver()).toMatchObject({ action: 'settle', report: { outcome: 'delivered' } })
    expect(t.changes.map((c) => c.change.transition)).toEqual(['opened', 'reopened', 'closed'])
    for (let i = 0; i < 3; i++) expect(await t.deliver()).toMatchObject({ report: { outcome: 'delivered' } })
    expect(t.sent()).toBe(8)
  })

  it('holds the others while a probe is out, looking again every second', async () => {
    const t = setup()
    t.answer(down)
    for (let i = 0; i < 3; i++) await t.deliver()
    await t.timers.advance(5000)
    let finish: (o: DeliveryOutcome) => void = () => {}
    const started = new Promise<void>((probing) => {
      t.answer(
        () =>
          new Promise<DeliveryOutcome>((resolve) => {
            finish = resolve
            probing()
          }),
      )
    })
    // The probe: admitted first, still running at the endpoint.
    const probe = t.deliver()
    await started
    expect(await t.deliver()).toEqual({ action: 'release', delayMs: 1000, reason: 'breaker_open' })
    expect(t.sent()).toBe(4)
    finish({ status: 'delivered' })
    expect(await probe).toMatchObject({ report: { outcome: 'delivered' } })
    expect(t.changes.map((c) => c.change.transition)).toEqual(['opened', 'closed'])
  })

  it('asks the store once a second for a healthy channel, not once per message', async () => {
    const t = setup()
    for (let i = 0; i < 20; i++) await t.deliver()
    expect(t.port.breakerAdmits).toBe(1)
    await t.timers.advance(1000)
    await t.deliver()
    expect(t.port.breakerAdmits).toBe(2)
    expect(t.sent()).toBe(21)
  })

  it('counts only what says something of the endpoint', () => {
    expect(breakerResultOf({ status: 'delivered' })).toBe('success')
    expect(breakerResultOf(down)).toBe('failure')
    expect(breakerResultOf({ status: 'retryable', code: 'timeout', error: 'no answer' })).toBe('failure')
    // A refusal of the message itself, the worker's own abort, or no transport: nothing.
    expect(breakerResultOf({ status: 'permanent', code: 'HTTP_400', error: 'bad payload' })).toBeNull()
    expect(breakerResultOf({ status: 'retryable', code: 'aborted', error: 'shutting down' })).toBeNull()
    expect(breakerResultOf({ status: 'retryable', code: 'no_transport', error: 'none' })).toBeNull()
  })

  it("takes the worker's defaults, a channel's own setting field by field, and none for in-app or `false`", () => {
    const ready = (type: string, breaker?: unknown) =>
      readyChannel({ type }, breaker === undefined ? {} : ({ breaker } as Partial<ChannelLookup>)) as Ready
    expect(resolveBreakerPolicy({}, ready('webhook'))).toEqual({
      failures: 5,
      windowMs: 60_000,
      coolDownMs: 30_000,
    })
    expect(resolveBreakerPolicy({ failures: 10 }, ready('email', { coolDownMs: 2000 }))).toEqual({
      failures: 10,
      windowMs: 60_000,
      coolDownMs: 2000,
    })
    expect(resolveBreakerPolicy({}, ready('in_app'))).toBeNull()
    expect(resolveBreakerPolicy({}, ready('in_app', { failures: 2 }))).toMatchObject({ failures: 2 })
    expect(resolveBreakerPolicy({}, ready('webhook', false))).toBeNull()
    expect(resolveBreakerPolicy(false, ready('webhook'))).toBeNull()
    expect(resolveBreakerPolicy(false, ready('webhook', {}))).toMatchObject({ failures: 5 })
  })
})
