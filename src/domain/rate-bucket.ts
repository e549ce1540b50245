import type { RateLimit } from './channel.js'

/*
 * The token bucket's rules, the same in every store and in a worker's own buckets: a bucket
 * starts full, refills at `perSecond` up to its capacity, and a take that finds no whole
 * token changes nothing. Times are epoch ms of whichever clock decides (the store's).
 */

/**
 * A bucket's stored state: `tokens` counted at `refilledAt`, and no token before `heldUntil`
 * (a provider's Retry-After; null: not held). `refilledAt` only moves forward: a taker whose
 * clock reading is a little older than the last take's (two transactions racing) refills
 * nothing rather than failing, so tokens are never counted twice.
 */
export interface BucketState {
  readonly tokens: number
  readonly refilledAt: number
  readonly heldUntil: number | null
}

/** A bucket holds at most this many tokens: `burst`, else one second's worth (at least 1). */
export const capacityOf = (limit: RateLimit): number => limit.burst ?? Math.max(1, Math.ceil(limit.perSecond))

/** A new bucket after its first take: full, less the token taken. */
export const firstTake = (limit: RateLimit, now: number): BucketState => ({
  tokens: capacityOf(limit) - 1,
  refilledAt: now,
  heldUntil: null,
})

/** The tokens a bucket holds at `at`. */
const tokensAt = (state: BucketState, limit: RateLimit, at: number): number =>
  Math.min(capacityOf(limit), state.tokens + (Math.max(0, at - state.refilledAt) / 1000) * limit.perSecond)

/** The bucket after one take at `now`, or null when no token is due (the state is then left as it is). */
export function takeOne(state: BucketState, limit: RateLimit, now: number): BucketState | null {
  if (state.heldUntil !== null && now < state.heldUntil) return null
  const tokens = tokensAt(state, limit, now)
  return tokens >= 1 ? { ...state, tokens: tokens - 1, refilledAt: Math.max(now, state.refilledAt) } : null
}

/**
 * How long until a token is due, for a take that found none: the wait for a Retry-After to
 * pass, then for the missing fraction of a token. At least 1 ms (a waiter that raced a refill
 * comes back at once); null state (another worker is creating the bucket): one token's time.
 */
export function waitMs(state: BucketState | null, limit: RateLimit, now: number): number {
  const perToken = 1000 / limit.perSecond
  if (!state) return Math.ceil(perToken)
  const at = Math.max(now, state.heldUntil ?? now)
  const tokens = tokensAt(state, limit, at)
  // Rounded to the µs first: a refill computed in floating point (0.7 tokens as 0.69999...)
  // must not turn a 30 ms wait into 31.
  const ms = Math.round((at - now + Math.max(0, 1 - tokens) * perToken) * 1000) / 1000
  return Math.max(1, Math.ceil(ms))
}

/**
 * The bucket after a Retry-After of `until`: held until then, with one token at that moment
 * and refilling from there; an earlier hold that reaches further stays.
 */
export function deferTo(state: BucketState | null, until: number): BucketState {
  if (state?.heldUntil != null && state.heldUntil >= until) return state
  return { tokens: 1, refilledAt: Math.max(until, state?.refilledAt ?? until), heldUntil: until }
}
