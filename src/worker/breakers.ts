import type { BreakerChange, BreakerGate } from '../application/breaker-service.js'
import type { ChannelLookup } from '../application/channel-opener.js'
import type { DeliveryPort } from '../application/delivery-port.js'
import {
  type BreakerPolicy,
  type BreakerResult,
  breakerPolicySchema,
  DEFAULT_BREAKER_POLICY,
} from '../domain/breaker.js'
import type { BreakerKey } from '../ports/breaker-repository.js'
import type { DeliveryOutcome } from '../ports/transport.js'

/** The channels' circuit breakers as a delivery sees them. */
export interface Breakers {
  /** The breaker policy of a ready channel, or null when its breaker is off. */
  policyFor(lookup: Extract<ChannelLookup, { status: 'ready' }>): BreakerPolicy | null
  /** Whether a delivery on the channel may go now. */
  admit(channel: BreakerKey, policy: BreakerPolicy): Promise<BreakerGate>
  /** Counts an attempt's result; a transition is reported, a store failure is reported and swallowed. */
  record(channel: BreakerKey, policy: BreakerPolicy, result: BreakerResult): Promise<void>
}

export interface BreakerListener {
  change(channel: BreakerKey, change: BreakerChange): void
  error(channel: BreakerKey, error: unknown): void
}

/**
 * The worker's defaults (`false`: no breakers unless a channel sets one), merged with a
 * channel's own `breaker` field. In-app channels have none by default: their "endpoint" is
 * the store itself, whose failures a breaker would not help.
 */
export function resolveBreakerPolicy(
  defaults: Partial<BreakerPolicy> | false,
  lookup: Extract<ChannelLookup, { status: 'ready' }>,
): BreakerPolicy | null {
  const own = lookup.breaker
  if (own === false) return null
  if (own === undefined && (defaults === false || lookup.channel.type === 'in_app')) return null
  return breakerPolicySchema.parse({ ...DEFAULT_BREAKER_POLICY, ...(defaults || {}), ...own })
}

/**
 * What an outcome says of the endpoint: delivered is a success; a retryable failure is a
 * failure of the endpoint (it did not answer, timed out, answered 5xx or 429), except an
 * attempt the worker itself aborted or could not make; a permanent refusal of the message
 * (a 4xx, a bad address, a template error) says nothing of the endpoint's health.
 */
export function breakerResultOf(outcome: DeliveryOutcome): BreakerResult | null {
  if (outcome.status === 'delivered') return 'success'
  if (outcome.status === 'permanent') return null
  return outcome.code === 'aborted' || outcome.code === 'no_transport' ? null : 'failure'
}

/**
 * A channel whose breaker was found closed with no failure counted is taken as such for this
 * long (1 s) without asking the store again: a healthy channel costs one read a second per
 * worker, not one per message, and a breaker another worker opened is seen within it.
 */
export const CLEAN_RECHECK_MS = 1000

/**
 * The default: each channel's breaker in the store, shared by every worker (see
 * BreakerService), with the worker's own memory of the channels it found clean.
 */
export function storeBreakers(
  port: Pick<DeliveryPort, 'admitBreaker' | 'recordBreaker'>,
  defaults: Partial<BreakerPolicy> | false,
  listener: BreakerListener,
  now: () => number,
): Breakers {
  /** channel -> until when it counts as clean without a store read. */
  const clean = new Map<string, number>()
  const keyOf = (c: BreakerKey) => `${c.infrastructureId}/${c.channelId}`
  const isClean = (k: string) => (clean.get(k) ?? Number.NEGATIVE_INFINITY) > now()
  const markClean = (k: string) => {
    if (clean.size >= 10_000) clean.clear()
    clean.set(k, now() + CLEAN_RECHECK_MS)
  }
  return {
    policyFor: (lookup) => resolveBreakerPolicy(defaults, lookup),
    async admit(channel, policy) {
      const k = keyOf(channel)
      if (isClean(k)) return { decision: 'go', clean: true }
      const gate = await port.admitBreaker(channel, policy)
      if (gate.decision === 'go' && gate.clean) markClean(k)
      return gate
    },
    async record(channel, policy, result) {
      const k = keyOf(channel)
      // A success on a breaker known clean changes nothing: no store call at all.
      if (result === 'success' && isClean(k)) return
      clean.delete(k)
      try {
        const change = await port.recordBreaker(channel, policy, result)
        if (result === 'success') markClean(k)
        if (change) listener.change(channel, change)
      } catch (e) {
        // The attempt's own settle must not fail for it: the next failure counts again.
        listener.error(channel, e)
      }
    },
  }
}
