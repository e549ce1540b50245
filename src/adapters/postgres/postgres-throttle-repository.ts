import { type Kysely, sql } from 'kysely'
import type { CategoryThrottle } from '../../domain/category.js'
import { TenantScopeViolationError } from '../../domain/errors.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { ThrottleKey, ThrottleRepository } from '../../ports/throttle-repository.js'
import { classify } from './errors.js'
import type { MessagingDatabase } from './schema.js'

/**
 * Throttle counters (sql/0080), on the database's clock. A take is one statement for every
 * recipient: the upsert counts a slot only while the window has room (or starts the next
 * window), and a concurrent notify for the same user waits on the row and re-checks the
 * count the first committed. Rows are taken in user order, so two fan-outs never deadlock.
 */
export class PostgresThrottleRepository implements ThrottleRepository {
  constructor(private readonly db: Kysely<MessagingDatabase>) {}

  /** The scope is the unit of work's: its claims (and role) are what the policies check. */
  async take(
    _scope: TenantScope,
    key: ThrottleKey,
    userIds: readonly string[],
    throttle: CategoryThrottle,
  ): Promise<ReadonlySet<string>> {
    if (userIds.length === 0) return new Set()
    const w = throttle.windowSeconds
    const { rows } = await sql<{ user_id: string }>`
      insert into messaging_throttle_counters as t (infrastructure_id, user_id, category_key, window_start, taken)
      select ${key.infrastructureId}::uuid, u, ${key.categoryKey}, w.start, 1
        from unnest(${userIds}::uuid[]) as u,
             (select to_timestamp(floor(extract(epoch from messaging_now()) / ${w}::int)::float8 * ${w}::int) as start) as w
       order by u
      on conflict on constraint messaging_throttle_counters_pkey do update
        set taken = case when excluded.window_start > t.window_start then 1 else t.taken + 1 end,
            window_start = greatest(t.window_start, excluded.window_start)
        where excluded.window_start > t.window_start or t.taken < ${throttle.limit}::int
      returning t.user_id`
      .execute(this.db)
      .catch((e) => Promise.reject(classify(e, refused(key))))
    return new Set(rows.map((r) => r.user_id))
  }

  async giveBack(_scope: TenantScope, key: ThrottleKey, userIds: readonly string[]): Promise<void> {
    if (userIds.length === 0) return
    await sql`
      update messaging_throttle_counters set taken = taken - 1
       where infrastructure_id = ${key.infrastructureId}::uuid and category_key = ${key.categoryKey}
         and user_id = any(${userIds}::uuid[]) and taken > 0`
      .execute(this.db)
      .catch((e) => Promise.reject(classify(e, refused(key))))
  }
}

/** A policy refusal (42501): the infrastructure is not the scope's (or its role does not notify). */
const refused = (key: ThrottleKey) => ({
  refused: () => new TenantScopeViolationError(key.infrastructureId),
})
