import type { ChannelLookup } from '../application/channel-opener.js'
import type { RenderStep } from '../application/delivery-render.js'
import { type AttemptReport, cleanReport } from '../application/settle.js'
import { backoffMs, type RetryPolicy } from '../domain/delivery.js'
import { digestIdOf } from '../domain/digest.js'
import type { ClaimedMessage } from '../domain/outbox-message.js'
import type { Redactor } from '../domain/redaction.js'
import type { TenantScope } from '../domain/tenant-scope.js'
import type { DeliveryOutcome, HandOff, RelayTransport, Transport } from '../ports/transport.js'
import type { Breakers } from './breakers.js'
import { breakerResultOf } from './breakers.js'
import type { ReleaseReason } from './events.js'
import type { RateLimiter } from './rate-limiter.js'
import type { Timers } from './timers.js'
import { callTransport } from './transport-call.js'

export interface DeliverOneOptions {
  /** The scope the worker holds its leases in; a transport that writes to the store (in-app) acts with it. */
  readonly scope: TenantScope
  /** Names the worker in attempt records. */
  readonly workerId: string
  /** Names the worker's host in attempt records. */
  readonly workerHost?: string
  /** By channel type. */
  readonly transports: ReadonlyMap<string, Transport | RelayTransport>
  readonly rateLimiter: RateLimiter
  /** The channels' circuit breakers; absent: none. */
  readonly breakers?: Breakers
  /** One transport call's limit; past it the attempt is a retryable `timeout`. */
  readonly attemptTimeoutMs: number
  readonly retry: RetryPolicy
  /** For the backoff's jitter. */
  readonly random: () => number
  /** A paused channel's message (disabled, or its secrets do not open) is looked at again after this. */
  readonly pausedChannelDelayMs: number
  readonly timers: Timers
  /**
   * The payload a message goes out with over its channel's type (the port's `render`: a
   * notification's message rendered with its template); absent: every message as written.
   */
  readonly render?: (held: ClaimedMessage, channelType: string) => Promise<RenderStep>
}

/**
 * What one claimed message comes to: a report to settle, a release without spending the
 * attempt, or (from a relay) a hand-off to a broker whose own workers settle it: the lease is
 * then held for `holdMs` and nothing is recorded.
 */
export type DeliveryStep =
  | { readonly action: 'settle'; readonly report: AttemptReport }
  | { readonly action: 'hand-off'; readonly holdMs: number; readonly reference: string | null }
  /** A digest's delivery with every item cancelled: already cancelled in the store, lease given back. */
  | { readonly action: 'cancelled' }
  | {
      readonly action: 'release'
      readonly delayMs: number
      readonly reason: ReleaseReason
      /** Why, for the log (never a secret). */
      readonly detail?: string
    }

const release = (delayMs: number, reason: ReleaseReason, detail?: string): DeliveryStep => ({
  action: 'release',
  delayMs,
  reason,
  ...(detail !== undefined && { detail }),
})

/**
 * One attempt of one claimed message, and its one report: the channel (already looked up
 * and opened) decides whether it goes at all, the rate limit whether it goes now, the
 * transport how it went; the error text is redacted of every form of the channel's secrets
 * and cleaned of what no store keeps. Performs no store write itself: the caller settles
 * or releases as told, so any worker (this one, or one fed by another queue) can use it.
 *
 * @example
 * const step = await deliverOne(held, await port.openChannel(held.infrastructureId, held.channelId), signal, options)
 * if (step.action === 'settle') await port.settle([{ held, report: step.report }])
 * else await port.release(held, step.delayMs)
 */
export async function deliverOne(
  held: ClaimedMessage,
  lookup: ChannelLookup,
  signal: AbortSignal,
  options: DeliverOneOptions,
): Promise<DeliveryStep> {
  const startedAt = options.timers.now()
  switch (lookup.status) {
    case 'missing':
      return settleWith(held, startedAt, options, (t) => t, {
        status: 'permanent',
        code: 'channel_missing',
        error: 'the channel no longer exists',
      })
    case 'disabled':
      // A paused channel's messages wait uncounted, and go out once it is enabled again.
      return release(options.pausedChannelDelayMs, 'channel_paused')
    case 'unavailable':
      // Only an operator can fix a key: spending the attempts would only make dead letters.
      return release(options.pausedChannelDelayMs, 'secrets_unavailable', `${lookup.code}: ${lookup.reason}`)
    case 'invalid':
      return settleWith(held, startedAt, options, (t) => t, {
        status: 'permanent',
        code: 'INVALID_CONFIG',
        error: lookup.reason,
      })
  }
  const channel = { infrastructureId: held.infrastructureId, channelId: held.channelId }
  const breaker = options.breakers?.policyFor(lookup) ?? null
  if (breaker && options.breakers) {
    // An open breaker holds the message uncounted: no attempt spent on an endpoint that is down.
    const gate = await options.breakers.admit(channel, breaker)
    if (gate.decision === 'wait') return release(Math.max(1, gate.waitMs), 'breaker_open')
  }
  if (lookup.rateLimit) {
    const waitMs = await options.rateLimiter.take(channel, lookup.rateLimit)
    if (waitMs > 0) return release(waitMs, 'rate_limited')
  }
  let message = held
  // A digest's delivery (a category's or a channel's) is rendered (closed, its items read)
  // even without a template.
  if (options.render && (held.notification?.templateId || digestIdOf(held.id, held.payload))) {
    // A template that does not render fails its message for good: a retry renders the same.
    const rendered = await options.render(held, lookup.channel.type)
    // Nothing left to send: the render gave the lease back and cancelled the message.
    if (rendered.ok === 'cancelled') return { action: 'cancelled' }
    if (!rendered.ok) {
      return settleWith(held, startedAt, options, lookup.redact, {
        status: 'permanent',
        code: 'template_error',
        error: rendered.error,
      })
    }
    message = { ...held, payload: rendered.payload }
  }
  const transport = options.transports.get(lookup.channel.type)
  const outcome: DeliveryOutcome | HandOff = transport
    ? await callTransport({
        transport,
        held: message,
        channel: lookup.channel,
        scope: options.scope,
        redact: lookup.redact,
        signal,
        timeoutMs: options.attemptTimeoutMs,
        timers: options.timers,
      })
    : {
        status: 'retryable',
        code: 'no_transport',
        error: `no transport registered for channel type ${lookup.channel.type}`,
      }
  if (lookup.rateLimit && outcome.status === 'retryable' && outcome.retryAfterMs !== undefined)
    await deferChannel(options.rateLimiter, channel, outcome.retryAfterMs)
  if (breaker && options.breakers && outcome.status !== 'relayed') {
    const result = breakerResultOf(outcome)
    if (result) await options.breakers.record(channel, breaker, result)
  }
  if (outcome.status === 'relayed')
    return { action: 'hand-off', holdMs: outcome.holdMs, reference: outcome.reference ?? null }
  return settleWith(held, startedAt, options, lookup.redact, outcome)
}

/**
 * A provider's Retry-After holds the whole channel, for every worker sharing the limiter.
 * Best effort: when the store cannot take it, this message's own retry still waits for it.
 */
async function deferChannel(
  limiter: RateLimiter,
  channel: { infrastructureId: string; channelId: string },
  afterMs: number,
): Promise<void> {
  try {
    await limiter.defer(channel, afterMs)
  } catch {
    // The settle that follows must not fail for it: the backoff already floors at Retry-After.
  }
}

function settleWith(
  held: ClaimedMessage,
  startedAt: number,
  options: DeliverOneOptions,
  redact: Redactor,
  outcome: DeliveryOutcome,
): DeliveryStep {
  const delivered = outcome.status === 'delivered'
  const report: AttemptReport = {
    outcome: outcome.status,
    // Every text a provider sent back may quote a secret, the id and the code included.
    errorCode: delivered ? null : redact(outcome.code ?? outcome.status),
    error: delivered ? null : redact(outcome.error),
    providerMessageId: delivered && outcome.providerMessageId ? redact(outcome.providerMessageId) : null,
    ...(outcome.provider !== undefined && { provider: redact(outcome.provider) }),
    startedAt: new Date(startedAt),
    finishedAt: new Date(options.timers.now()),
    workerId: options.workerId,
    ...(options.workerHost !== undefined && { workerHost: options.workerHost }),
    ...(outcome.status === 'retryable' && {
      retryAfterMs: backoffMs(held.attempts, options.retry, options.random, outcome.retryAfterMs),
    }),
  }
  // Cleaned here too (the settle path cleans again, idempotently): the log line quotes it.
  return { action: 'settle', report: cleanReport(report) }
}
