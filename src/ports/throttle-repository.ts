import type { CategoryThrottle } from '../domain/category.js'
import type { TenantScope } from '../domain/tenant-scope.js'

/** The category whose throttle counters are taken. */
export interface ThrottleKey {
  readonly infrastructureId: string
  readonly categoryKey: string
}

/**
 * Per-recipient counters of a category's throttle: how many of its notifications reached a
 * user in the current window. Time is the store's (PostgreSQL's `messaging_now()`, SQLite's
 * and memory's the clock they were given). Those who notify (`infra_admin`, `service`) only,
 * within the scope: a scope that does not reach the infrastructure gets
 * TenantScopeViolationError and changes nothing.
 */
export interface ThrottleRepository {
  /**
   * Takes one slot per user in the current fixed window of `throttle.windowSeconds`,
   * atomically: two units of work racing for one user never take more than `limit` slots
   * between them. Returns the users who got one; the others are beyond the limit.
   * `userIds` holds each user at most once.
   */
  take(
    scope: TenantScope,
    key: ThrottleKey,
    userIds: readonly string[],
    throttle: CategoryThrottle,
  ): Promise<ReadonlySet<string>>
  /**
   * Gives back one slot per user, taken earlier in the same unit of work (a notify that found
   * its idempotency key taken by a concurrent one: nothing of it is delivered). Outside the
   * scope it changes nothing, as an update no policy admits.
   */
  giveBack(scope: TenantScope, key: ThrottleKey, userIds: readonly string[]): Promise<void>
}
