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
}

/** A token bucket per channel in this process (with N workers a channel sees up to N times its rate). */
export function localRateLimiter(now: () => number): RateLimiter {
  const buckets = new TokenBuckets(now)
  return {
    take: async (channel, limit) => buckets.take(`${channel.infrastructureId}/${channel.channelId}`, limit),
  }
}
