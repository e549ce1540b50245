import type { RateLimit } from '../domain/channel.js'
import type { TenantScope } from '../domain/tenant-scope.js'

/** The channel a bucket belongs to. */
export interface RateBucketKey {
  readonly infrastructureId: string
  readonly channelId: string
}

/**
 * One token bucket per channel, shared by every worker of the store: a channel limited to
 * 20/s sends 20/s however many workers serve it. Time is the store's (PostgreSQL's
 * `clock_timestamp()`, SQLite's and memory's the clock they were given), so workers with
 * skewed clocks still share one rate. `service` only, within the scope: a scope that does
 * not reach the channel's infrastructure gets TenantScopeViolationError and changes nothing.
 */
export interface RateBucketRepository {
  /**
   * Takes one token, atomically (two workers never take the same one): 0 when the message
   * may go now, else the milliseconds until a token is due (at least 1). A bucket starts
   * full (`burst`, default `ceil(perSecond)`) and refills at `perSecond`, never beyond it.
   */
  take(scope: TenantScope, key: RateBucketKey, limit: RateLimit): Promise<number>
  /**
   * No token before `afterMs` from the store's now (a provider's Retry-After), for every
   * worker; then one token, refilling from there. A later defer never shortens an earlier one.
   */
  defer(scope: TenantScope, key: RateBucketKey, afterMs: number): Promise<void>
}
