import { type Kysely, sql } from 'kysely'
import type { RateLimit } from '../../domain/channel.js'
import { capacityOf, deferTo, waitMs } from '../../domain/rate-bucket.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { Clock } from '../../ports/clock.js'
import type { RateBucketKey, RateBucketRepository } from '../../ports/rate-bucket-repository.js'
import { assertBucketScope } from '../shared/bucket-scope.js'
import { canAccessInfrastructure, insertChecked } from './sqlite-scope.js'
import type { SqliteDatabase } from './sqlite-tables.js'

/**
 * Channels' rate buckets in the shared file. A take is one upsert whose update applies only
 * when a token is due (the refill computed in the statement), so processes sharing the file
 * never take the same token; the time is the store's clock, as for leases.
 */
export class SqliteRateBucketRepository implements RateBucketRepository {
  constructor(
    private readonly db: Kysely<SqliteDatabase>,
    private readonly clock: Clock,
  ) {}

  async take(scope: TenantScope, key: RateBucketKey, limit: RateLimit): Promise<number> {
    assertBucketScope(scope, key)
    const now = this.clock.now().getTime()
    const cap = capacityOf(limit)
    const avail = sql`min(${cap}, tokens + max(0, excluded.refilled_at - refilled_at) / 1000.0 * ${limit.perSecond})`
    // INSERT ... SELECT ... WHERE scope: the row's tenant checked in the statement itself, as
    // every other statement of the adapter is (the part a policy plays on PostgreSQL).
    const taken = await insertChecked(
      this.db,
      'messaging_rate_buckets',
      { ...keyColumns(key), tokens: cap - 1, refilled_at: now },
      canAccessInfrastructure(scope, sql.val(key.infrastructureId)),
      sql` on conflict (infrastructure_id, channel_id) do update
        set tokens = ${avail} - 1, refilled_at = max(refilled_at, excluded.refilled_at)
        where (held_until is null or held_until <= excluded.refilled_at) and ${avail} >= 1`,
    )
    if (taken > 0) return 0
    const state = await this.row(scope, key)
    return waitMs(state, limit, now)
  }

  async defer(scope: TenantScope, key: RateBucketKey, afterMs: number): Promise<void> {
    assertBucketScope(scope, key)
    const until = this.clock.now().getTime() + afterMs
    const next = deferTo(null, until)
    // Every right-hand side reads the row as it was: a hold that reaches further stays whole.
    const extends_ = sql`(held_until is null or held_until < excluded.held_until)`
    await insertChecked(
      this.db,
      'messaging_rate_buckets',
      { ...keyColumns(key), tokens: next.tokens, refilled_at: next.refilledAt, held_until: until },
      canAccessInfrastructure(scope, sql.val(key.infrastructureId)),
      sql` on conflict (infrastructure_id, channel_id) do update set
        tokens = case when ${extends_} then excluded.tokens else tokens end,
        refilled_at = case when ${extends_} then max(refilled_at, excluded.refilled_at) else refilled_at end,
        held_until = case when ${extends_} then excluded.held_until else held_until end`,
    )
  }

  private async row(scope: TenantScope, key: RateBucketKey) {
    const r = await this.db
      .selectFrom('messaging_rate_buckets')
      .select(['tokens', 'refilled_at', 'held_until'])
      .where(canAccessInfrastructure(scope, sql.ref('messaging_rate_buckets.infrastructure_id')))
      .where('infrastructure_id', '=', key.infrastructureId)
      .where('channel_id', '=', key.channelId)
      .executeTakeFirst()
    return r ? { tokens: r.tokens, refilledAt: r.refilled_at, heldUntil: r.held_until } : null
  }
}

const keyColumns = (k: RateBucketKey) => ({ infrastructure_id: k.infrastructureId, channel_id: k.channelId })
