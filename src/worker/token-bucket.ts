import type { RateLimit } from '../domain/channel.js'

/**
 * A token bucket per channel, in this worker process. With N workers the channel sees up
 * to N times the rate: size `perSecond` for the fleet divided by its workers.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>()

  constructor(private readonly now: () => number = Date.now) {}

  /** Takes a token; returns 0 when one was available, else the milliseconds until one is. */
  take(key: string, limit: RateLimit): number {
    const capacity = limit.burst ?? Math.max(1, Math.ceil(limit.perSecond))
    const t = this.now()
    const b = this.buckets.get(key) ?? { tokens: capacity, at: t }
    b.tokens = Math.min(capacity, b.tokens + ((t - b.at) / 1000) * limit.perSecond)
    b.at = t
    this.buckets.set(key, b)
    if (b.tokens >= 1) {
      b.tokens -= 1
      return 0
    }
    return Math.ceil(((1 - b.tokens) / limit.perSecond) * 1000)
  }
}
