import type { BreakerState } from '../domain/breaker.js'
import type { TenantScope } from '../domain/tenant-scope.js'

/** The channel a breaker belongs to. */
export interface BreakerKey {
  readonly infrastructureId: string
  readonly channelId: string
}

/** A breaker as read, with the store's now (epoch ms) that its times are compared against. */
export interface BreakerReading {
  /** Null: no breaker was ever written for the channel (closed). */
  readonly state: BreakerState | null
  readonly now: number
}

/** A breaker that is not closed, as operators see it (the console's health view). */
export interface BreakerView extends BreakerKey {
  readonly status: 'open' | 'half_open'
  readonly failures: number
  readonly openedAt: Date | null
  /** When the next probe may go (open) or the probe out now is given up on (half open). */
  readonly retryAt: Date | null
}

/**
 * One circuit breaker per channel, shared by every worker of the store, on the store's clock
 * (PostgreSQL's messaging_now(), SQLite's and memory's the clock they were given). Reading,
 * locking and saving are `service` only, within the scope; `listOpen` is for any role with a
 * grant for the infrastructure. A scope that does not reach the channel's infrastructure
 * gets TenantScopeViolationError and changes nothing.
 */
export interface BreakerRepository {
  /** The breaker as it stands, without a lock: the delivery's hot path. */
  read(scope: TenantScope, key: BreakerKey): Promise<BreakerReading>
  /**
   * The breaker, locked until the unit of work ends (two workers deciding a transition run
   * one after the other), so a `save` in the same unit writes what was decided on it.
   */
  lock(scope: TenantScope, key: BreakerKey): Promise<BreakerReading>
  save(scope: TenantScope, key: BreakerKey, state: BreakerState): Promise<void>
  /** The tenant's breakers that are open or half open, oldest opened first. */
  listOpen(scope: TenantScope, infrastructureId: string): Promise<BreakerView[]>
}
