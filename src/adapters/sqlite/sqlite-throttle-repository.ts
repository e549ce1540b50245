import { type Kysely, sql } from 'kysely'
import { type CategoryThrottle, throttleWindowStart } from '../../domain/category.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { Clock } from '../../ports/clock.js'
import type { ThrottleKey, ThrottleRepository } from '../../ports/throttle-repository.js'
import { assertThrottleScope, inThrottleScope } from '../shared/throttle-scope.js'
import { canAccessInfrastructure } from './sqlite-scope.js'
import type { SqliteDatabase } from './sqlite-tables.js'

/**
 * Throttle counters in the shared file. A take is one upsert for every user (the ids bound
 * as one JSON array), whose update applies only while the window has room or a later window
 * starts; the rows it returns are the slots taken. The write transaction of the unit of work
 * keeps two processes from counting the same slot; the time is the store's clock.
 */
export class SqliteThrottleRepository implements ThrottleRepository {
  constructor(
    private readonly db: Kysely<SqliteDatabase>,
    private readonly clock: Clock,
  ) {}

  async take(
    scope: TenantScope,
    key: ThrottleKey,
    userIds: readonly string[],
    throttle: CategoryThrottle,
  ): Promise<ReadonlySet<string>> {
    assertThrottleScope(scope, key)
    if (userIds.length === 0) return new Set()
    const windowStart = throttleWindowStart(this.clock.now(), throttle.windowSeconds)
    const { rows } = await sql<{ user_id: string }>`
      insert into messaging_throttle_counters (infrastructure_id, user_id, category_key, window_start, taken)
      select ${key.infrastructureId}, u.value, ${key.categoryKey}, ${windowStart}, 1
        from json_each(${JSON.stringify(userIds)}) as u
       where ${canAccessInfrastructure(scope, sql.val(key.infrastructureId))}
      on conflict (infrastructure_id, user_id, category_key) do update
        set taken = case when excluded.window_start > window_start then 1 else taken + 1 end,
            window_start = max(window_start, excluded.window_start)
        where excluded.window_start > window_start or taken < ${throttle.limit}
      returning user_id`.execute(this.db)
    return new Set(rows.map((r) => r.user_id))
  }

  async giveBack(scope: TenantScope, key: ThrottleKey, userIds: readonly string[]): Promise<void> {
    if (userIds.length === 0 || !inThrottleScope(scope, key)) return
    await sql`
      update messaging_throttle_counters set taken = taken - 1
       where infrastructure_id = ${key.infrastructureId} and category_key = ${key.categoryKey}
         and user_id in (select value from json_each(${JSON.stringify(userIds)})) and taken > 0
         and ${canAccessInfrastructure(scope, sql.ref('infrastructure_id'))}`.execute(this.db)
  }
}
