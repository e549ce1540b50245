import type { RateLimit } from '../domain/channel.js'
import { type BucketState, deferTo, firstTake, takeOne, waitMs } from '../domain/rate-bucket.js'

/**
 * A token bucket per channel, in this worker process, by the same rules as the stores'
 * shared buckets. With N workers the channel sees up to N times the rate.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, BucketState>()

  constructor(private readonly now: () => number = Date.now) {}

  /** Takes a token; returns 0 when one was available, else the milliseconds until one is. */
  take(key: string, limit: RateLimit): number {
    const t = this.now()
    const state = this.buckets.get(key)
    const next = state ? takeOne(state, limit, t) : firstTake(limit, t)
    if (!next) return waitMs(state ?? null, limit, t)
    this.buckets.set(key, next)
    return 0
  }

  /** No token before `afterMs` from now (a provider's Retry-After). */
  defer(key: string, afterMs: number): void {
    this.buckets.set(key, deferTo(this.buckets.get(key) ?? null, this.now() + afterMs))
  }
}
