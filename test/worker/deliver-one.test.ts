import { describe, expect, it } from 'vitest'
import type { ChannelLookup } from '../../src/application/channel-opener.js'
import { createRedactor } from '../../src/domain/redaction.js'
import { TenantScope } from '../../src/domain/tenant-scope.js'
import type { DeliveryOutcome, Transport } from '../../src/ports/transport.js'
import { type DeliverOneOptions, deliverOne } from '../../src/worker/deliver-one.js'
import type { RateLimiter } from '../../src/worker/rate-limiter.js'
import { FakeTimers, settle } from '../support/fake-timers.js'
import { uuid } from '../support/fixtures.js'
import { testChannelType } from '../support/transports.js'
import { claimed, readyChannel } from './support.js'

const SECRET = 'tok_live_9f8e7d6c5b4a'

function setup(send: Transport['send'], over: Partial<DeliverOneOptions> = {}) {
  const timers = new FakeTimers()
  const transport: Transport = { channelType: testChannelType, send }
  const options: DeliverOneOptions = {
    scope: TenantScope.fleet(uuid()),
    workerId: uuid(),
    transports: new Map([['test', transport]]),
    rateLimiter: { take: async () => 0 },
    attemptTimeoutMs: 1000,
    retry: { baseMs: 100, maxMs: 10_000 },
    random: () => 0.5,
    pausedChannelDelayMs: 30_000,
    timers,
    ...over,
  }
  const held = claimed({ attempts: 3 })
  const ready = readyChannel(
    { infrastructureId: held.infrastructureId, id: held.channelId, type: 'test' },
    { redact: createRedactor([SECRET]) },
  )
  const run = (lookup: ChannelLookup = ready, signal = new AbortController().signal) =>
    deliverOne(held, lookup, signal, options)
  return { timers, options, held, ready, run }
}

const answer = (outcome: unknown) => async () => outcome as DeliveryOutcome

describe('deliver-one: one attempt, one report', () => {
  it('reports a delivery with its provider id, timed on the worker clock', async () => {
    const t = setup(async () => {
      await new Promise<void>((r) => t.timers.setTimeout(r, 40))
      return { status: 'delivered', providerMessageId: 'SM123' }
    })
    const step = t.run()
    await t.timers.advance(40)
    const s = await step
    expect(s).toMatchObject({
      action: 'settle',
      report: { outcome: 'delivered', errorCode: null, error: null, providerMessageId: 'SM123' },
    })
    if (s.action !== 'settle') throw new Error('settle expected')
    expect(s.report.finishedAt.getTime() - s.report.startedAt.getTime()).toBe(40)
    expect(s.report.workerId).toBe(t.options.workerId)
  })

  it('sets the backoff of a retryable failure from the attempt number, with a Retry-After as its floor', async () => {
    const t = setup(answer({ status: 'retryable', code: 'http_503', error: 'busy' }))
    // attempt 3: cap min(10 s, 100 ms * 2^2) = 400 ms, jitter 0.5 -> 200 ms
    expect(await t.run()).toMatchObject({ report: { outcome: 'retryable', retryAfterMs: 200 } })
    const slow = setup(answer({ status: 'retryable', error: 'slow down', retryAfterMs: 5000 }))
    expect(await slow.run()).toMatchObject({
      report: { outcome: 'retryable', errorCode: 'retryable', retryAfterMs: 5000 },
    })
  })

  it('turns a throw, a non-outcome and a hang past the deadline into retryable reports', async () => {
    const threw = setup(async () => {
      throw new Error('socket hang up')
    })
    expect(await threw.run()).toMatchObject({
      report: { outcome: 'retryable', errorCode: 'transport_threw', error: 'socket hang up' },
    })
    const nonsense = setup(answer({ status: 'maybe' }))
    expect(await nonsense.run()).toMatchObject({ report: { errorCode: 'invalid_outcome' } })
    let signal: AbortSignal | undefined
    const hangs = setup(async (_m, _c, ctx) => {
      signal = ctx.signal
      return new Promise<DeliveryOutcome>(() => {})
    })
    const step = hangs.run()
    await hangs.timers.advance(999)
    await settle()
    expect(signal!.aborted).toBe(false)
    await hangs.timers.advance(1)
    expect(await step).toMatchObject({ report: { outcome: 'retryable', errorCode: 'timeout' } })
    expect(signal!.aborted).toBe(true)
  })

  it('answers an abort (shutdown, lost lease) at once, aborting the transport call', async () => {
    let signal: AbortSignal | undefined
    const t = setup(async (_m, _c, ctx) => {
      signal = ctx.signal
      return new Promise<DeliveryOutcome>(() => {})
    })
    const abort = new AbortController()
    const step = t.run(t.ready, abort.signal)
    await settle()
    abort.abort(new Error('shutting down'))
    expect(await step).toMatchObject({ report: { errorCode: 'aborted' } })
    expect(signal!.aborted).toBe(true)
  })

  it('redacts every form of the channel secrets from the error, the code and the provider id, and cleans what no store keeps', async () => {
    const b64 = Buffer.from(SECRET).toString('base64')
    const t = setup(
      answer({
        status: 'permanent',
        code: `E_${SECRET}`,
        error: `401 for ${SECRET} (${encodeURIComponent(SECRET)}, ${b64}) \u0000\ud800 ${'x'.repeat(5000)}`,
      }),
    )
    const s = await t.run()
    if (s.action !== 'settle') throw new Error('settle expected')
    const text = JSON.stringify(s.report)
    expect(text).not.toContain(SECRET)
    expect(text).not.toContain(b64)
    expect(s.report.errorCode).toBe('E_[redacted]')
    expect(s.report.error!.length).toBeLessThanOrEqual(2000)
    expect(s.report.error).not.toContain('\u0000')
    const delivered = setup(answer({ status: 'delivered', providerMessageId: `${'p'.repeat(900)}\u0000` }))
    const d = await delivered.run()
    // A long provider id is cut, never a reason to send again.
    expect(d).toMatchObject({ report: { outcome: 'delivered' } })
    if (d.action === 'settle') expect(d.report.providerMessageId!.length).toBeLessThanOrEqual(500)
  })

  it('holds a disabled channel or one whose secrets do not open, uncounted, without calling the transport', async () => {
    let calls = 0
    const t = setup(async () => {
      calls++
      return { status: 'delivered' }
    })
    const channel = t.ready.status === 'ready' ? t.ready.channel : null
    expect(await t.run({ status: 'disabled', channel: channel! })).toEqual({
      action: 'release',
      delayMs: 30_000,
      reason: 'channel_paused',
    })
    expect(
      await t.run({
        status: 'unavailable',
        channel: channel!,
        code: 'SECRET_UNAVAILABLE',
        reason: 'secret at token is sealed, but no key is configured: set MESSAGING_SECRET_KEYS',
      }),
    ).toMatchObject({ action: 'release', delayMs: 30_000, reason: 'secrets_unavailable' })
    expect(calls).toBe(0)
  })

  it('fails a message for good when its channel is gone or its config no longer parses, and retries one without a transport', async () => {
    const t = setup(answer({ status: 'delivered' }), { transports: new Map() })
    expect(await t.run({ status: 'missing' })).toMatchObject({
      report: { outcome: 'permanent', errorCode: 'channel_missing' },
    })
    const channel = t.ready.status === 'ready' ? t.ready.channel : null
    expect(
      await t.run({ status: 'invalid', channel: channel!, reason: 'config.url: invalid_format' }),
    ).toMatchObject({
      report: { outcome: 'permanent', errorCode: 'INVALID_CONFIG', error: 'config.url: invalid_format' },
    })
    expect(await t.run()).toMatchObject({ report: { outcome: 'retryable', errorCode: 'no_transport' } })
  })

  it('asks the rate limiter before the transport, and releases uncounted when no token is due', async () => {
    let calls = 0
    const taken: string[] = []
    const limiter: RateLimiter = {
      take: async (channel) => {
        taken.push(channel.channelId)
        return taken.length > 1 ? 250 : 0
      },
    }
    const t = setup(
      async () => {
        calls++
        return { status: 'delivered' }
      },
      { rateLimiter: limiter },
    )
    const limited = t.ready.status === 'ready' ? { ...t.ready, rateLimit: { perSecond: 4 } } : t.ready
    expect(await t.run(limited)).toMatchObject({ action: 'settle' })
    expect(await t.run(limited)).toEqual({ action: 'release', delayMs: 250, reason: 'rate_limited' })
    expect(calls).toBe(1)
    expect(taken).toEqual([t.held.channelId, t.held.channelId])
    // A channel without a limit never asks.
    await t.run()
    expect(taken).toHaveLength(2)
  })

  it('hands the transport the message id as idempotency key, the attempt number and the worker scope', async () => {
    const t = setup(async (m, c, ctx) => {
      expect(ctx).toMatchObject({ idempotencyKey: m.id, attempt: 3, scope: t.options.scope })
      expect(c.id).toBe(m.channelId)
      return { status: 'delivered' }
    })
    expect(await t.run()).toMatchObject({ report: { outcome: 'delivered' } })
  })
})
