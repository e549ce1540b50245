/** A per-tenant enqueue quota: a token bucket per infrastructure. */
export interface EnqueueQuota {
  /** Burst: enqueue calls a tenant may make at once. */
  readonly capacity: number
  /** Sustained rate: tokens added per second. */
  readonly refillPerSecond: number
}

interface Bucket {
  tokens: number
  at: number
}

// Buckets of idle tenants refill to full and carry no information; past this many they are
// dropped, so a host with many tenants holds at most this many entries between sweeps.
const SWEEP_AT = 10_000

/**
 * Token buckets keyed by tenant. `take` spends one token or tells how long until one is back.
 *
 * @example
 * const buckets = new TokenBuckets({ capacity: 100, refillPerSecond: 10 })
 * buckets.take(infrastructureId) // { ok: true } until 100 calls in a burst
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>()

  constructor(
    private readonly quota: EnqueueQuota,
    private readonly now: () => number = Date.now,
  ) {
    if (!(quota.capacity >= 1) || !(quota.refillPerSecond > 0)) {
      throw new RangeError('enqueueQuota needs capacity >= 1 and refillPerSecond > 0')
    }
  }

  take(key: string): { ok: true } | { ok: false; retryAfterSeconds: number } {
    const r = this.takeAll(new Map([[key, 1]]))
    return r.ok ? r : { ok: false, retryAfterSeconds: r.retryAfterSeconds }
  }

  /**
   * Spends `count` tokens of each key, all or nothing: when one key lacks its tokens none
   * is spent, and the answer names it. A count above the capacity (a batch larger than the
   * burst) is admitted only from a full bucket and leaves it in debt, so the sustained rate
   * holds.
   */
  takeAll(
    counts: ReadonlyMap<string, number>,
  ): { ok: true } | { ok: false; key: string; retryAfterSeconds: number } {
    const now = this.now()
    const buckets = [...counts].map(([key, n]) => ({ key, n, b: this.refilled(key, now) }))
    for (const { key, n, b } of buckets) {
      const need = Math.min(n, this.quota.capacity)
      if (b.tokens < need) {
        return {
          ok: false,
          key,
          retryAfterSeconds: Math.max(1, Math.ceil((need - b.tokens) / this.quota.refillPerSecond)),
        }
      }
    }
    for (const { n, b } of buckets) b.tokens -= n
    return { ok: true }
  }

  private refilled(key: string, now: number): Bucket {
    const b = this.buckets.get(key) ?? { tokens: this.quota.capacity, at: now }
    b.tokens = Math.min(this.quota.capacity, b.tokens + ((now - b.at) / 1000) * this.quota.refillPerSecond)
    b.at = now
    if (!this.buckets.has(key)) {
      if (this.buckets.size >= SWEEP_AT) this.sweep(now)
      this.buckets.set(key, b)
    }
    return b
  }

  private sweep(now: number): void {
    for (const [key, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.quota.refillPerSecond >= this.quota.capacity) {
        this.buckets.delete(key)
      }
    }
  }
}
