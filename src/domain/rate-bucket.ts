import type { RateLimit } from './channel.js'

/*
 * The token bucket's rules, the same in every store and in a worker's own buckets: a bucket
 * starts full, refills at `perSecond` up to its capacity, and a take that finds no whole
 * token changes nothing. Times are epoch ms of whichever clock decides (the store's).
 */

/** A bucket's stored state: `tokens` held at `refilledAt` (in the future while a Retry-After holds). */
export interface BucketState {
  readonly tokens: number
  readonly refilledAt: number
}

/** A bucket holds at most this many tokens: `burst`, else one second's worth (at least 1). */
export const capacityOf = (limit: RateLimit): number => limit.burst ?? Math.max(1, Math.ceil(limit.perSecond))

/** A new bucket after its first take: full, less the token taken. */
export const firstTake = (limit: RateLimit, now: number): BucketState => ({
  tokens: capacityOf(limit) - 1,
  refilledAt: now,
})

/** The bucket after one take at `now`, or null when no token is due (the state is then left as it is). */
export function takeOne(state: BucketState, limit: RateLimit, now: number): BucketState | null {
  if (now < state.refilledAt) return null
  const tokens = Math.min(
    capacityOf(limit),
    state.tokens + ((now - state.refilledAt) / 1000) * limit.perSecond,
  )
  return tokens >= 1 ? { tokens: tokens - 1, refilledAt: now } : null
}

/**
 * How long until a token is due, for a take that found none: the wait for a Retry-After to
 * pass, then for the missing fraction of a token. At least 1 ms (a waiter that raced a refill
 * comes back at once); null state (another worker is creating the bucket): one token's time.
 */
export function waitMs(state: BucketState | null, limit: RateLimit, now: number): number {
  const perToken = 1000 / limit.perSecond
  if (!state) return Math.ceil(perToken)
  const blocked = Math.max(0, state.refilledAt - now)
  const at = Math.max(now, state.refilledAt)
  const tokens = Math.min(
    capacityOf(limit),
    state.tokens + ((at - state.refilledAt) / 1000) * limit.perSecond,
  )
  // Rounded to the µs first: a refill computed in floating point (0.7 tokens as 0.69999...)
  // must not turn a 30 ms wait into 31.
  const ms = Math.round((blocked + Math.max(0, 1 - tokens) * perToken) * 1000) / 1000
  return Math.max(1, Math.ceil(ms))
}

/** The bucket after a Retry-After of `until`: one token then, unless an earlier defer reaches further. */
export function deferTo(state: BucketState | null, until: number): BucketState {
  if (state && state.refilledAt >= until) return state
  return { tokens: 1, refilledAt: until }
}
