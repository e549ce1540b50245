import { type CategoryThrottle, throttleWindowStart } from '../../domain/category.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { Clock } from '../../ports/clock.js'
import type { ThrottleKey, ThrottleRepository } from '../../ports/throttle-repository.js'
import { assertThrottleScope, inThrottleScope } from '../shared/throttle-scope.js'
import type { Journal, MemoryState } from './memory-state.js'

const counterKey = (k: ThrottleKey, userId: string) => `${k.infrastructureId}/${userId}/${k.categoryKey}`

/** Throttle counters in a map; a unit of work runs alone, so a take is atomic. */
export class MemoryThrottleRepository implements ThrottleRepository {
  constructor(
    private readonly state: MemoryState,
    private readonly journal: Journal,
    private readonly clock: Clock,
  ) {}

  async take(
    scope: TenantScope,
    key: ThrottleKey,
    userIds: readonly string[],
    throttle: CategoryThrottle,
  ): Promise<ReadonlySet<string>> {
    assertThrottleScope(scope, key)
    const windowStart = throttleWindowStart(this.clock.now(), throttle.windowSeconds)
    const granted = new Set<string>()
    for (const userId of userIds) {
      const k = counterKey(key, userId)
      const row = this.state.throttles.get(k)
      // The same rule as the SQL stores' upsert: a later window starts over, never an earlier one.
      const next =
        !row || windowStart > row.windowStart
          ? { windowStart, taken: 1 }
          : row.taken < throttle.limit
            ? { windowStart: row.windowStart, taken: row.taken + 1 }
            : null
      if (!next) continue
      this.journal.setIn(this.state.throttles, k, next)
      granted.add(userId)
    }
    return granted
  }

  async giveBack(scope: TenantScope, key: ThrottleKey, userIds: readonly string[]): Promise<void> {
    if (!inThrottleScope(scope, key)) return
    for (const userId of userIds) {
      const k = counterKey(key, userId)
      const row = this.state.throttles.get(k)
      if (row && row.taken > 0) this.journal.setIn(this.state.throttles, k, { ...row, taken: row.taken - 1 })
    }
  }
}
