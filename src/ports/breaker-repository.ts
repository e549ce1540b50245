import type { BreakerKey, BreakerState, BreakerView } from '../domain/breaker.js'
import type { TenantScope } from '../domain/tenant-scope.js'

export type { BreakerKey, BreakerView } from '../domain/breaker.js'

/** A breaker as read, with the store's now (epoch ms) that its times are compared against. */
export interface BreakerReading {
  /** Null: no breaker was ever written for the channel (closed). */
  readonly state: BreakerState | null
  readonly now: number
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
