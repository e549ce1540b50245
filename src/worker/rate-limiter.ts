import type { DeliveryPort } from '../application/delivery-port.js'
import type { RateLimit } from '../domain/channel.js'
import { TokenBuckets } from './token-bucket.js'

/** The channel a token is taken for. */
export interface RateLimitedChannel {
  readonly infrastructureId: string
  readonly channelId: string
}

/** Decides whether a channel's next message may go now. */
export interface RateLimiter {
  /** Takes one token: 0 when the message may go now, else the milliseconds until a token is due. */
  take(channel: RateLimitedChannel, limit: RateLimit): Promise<number>
  /** A provider's Retry-After: no token for the channel before `afterMs` from now. */
  defer(channel: RateLimitedChannel, afterMs: number): Promise<void>
}

/**
 * The default: the channel's bucket in the store, shared by every worker of the store, on
 * the store's clock (one take is one unit of work, a single statement on PostgreSQL). A
 * provider's Retry-After holds the channel for every worker.
 */
export function storeRateLimiter(port: Pick<DeliveryPort, 'takeToken' | 'deferChannel'>): RateLimiter {
  return {
    take: (channel, limit) => port.takeToken(channel, limit),
    defer: (channel, afterMs) => port.deferChannel(channel, afterMs),
  }
}

/**
 * A token bucket per channel in this process, no store round trip: with N workers a channel
 * sees up to N times its rate. For a single worker whose store is far away.
 */
export function localRateLimiter(now: () => number): RateLimiter {
  const buckets = new TokenBuckets(now)
  const keyOf = (channel: RateLimitedChannel) => `${channel.infrastructureId}/${channel.channelId}`
  return {
    take: async (channel, limit) => buckets.take(keyOf(channel), limit),
    defer: async (channel, afterMs) => buckets.defer(keyOf(channel), afterMs),
  }
}
