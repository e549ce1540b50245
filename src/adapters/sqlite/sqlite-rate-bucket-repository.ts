import { type Kysely, sql } from 'kysely'
import type { RateLimit } from '../../domain/channel.js'
import { capacityOf, deferTo, waitMs } from '../../domain/rate-bucket.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { Clock } from '../../ports/clock.js'
import type { RateBucketKey, RateBucketRepository } from '../../ports/rate-bucket-repository.js'
import { assertBucketScope } from '../shared/bucket-scope.js'
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
    const { rows } = await sql<{ tokens: number }>`
      insert into messaging_rate_buckets (infrastructure_id, channel_id, tokens, refilled_at)
      values (${key.infrastructureId}, ${key.channelId}, ${cap - 1}, ${now})
      on conflict (infrastructure_id, channel_id) do update
        set tokens = ${avail} - 1, refilled_at = max(refilled_at, excluded.refilled_at)
        where (held_until is null or held_until <= excluded.refilled_at) and ${avail} >= 1
      returning tokens`.execute(this.db)
    if (rows.length > 0) return 0
    const state = await this.row(key)
    return waitMs(state, limit, now)
  }

  async defer(scope: TenantScope, key: RateBucketKey, afterMs: number): Promise<void> {
    assertBucketScope(scope, key)
    const until = this.clock.now().getTime() + afterMs
    const next = deferTo(null, until)
    // Every right-hand side reads the row as it was: a hold that reaches further stays whole.
    const extends_ = sql`(held_until is null or held_until < excluded.held_until)`
    await this.db
      .insertInto('messaging_rate_buckets')
      .values({ ...keyColumns(key), tokens: next.tokens, refilled_at: next.refilledAt, held_until: until })
      .onConflict((oc) =>
        oc.columns(['infrastructure_id', 'channel_id']).doUpdateSet({
          tokens: sql`case when ${extends_} then excluded.tokens else tokens end`,
          refilled_at: sql`case when ${extends_} then max(refilled_at, excluded.refilled_at) else refilled_at end`,
          held_until: sql`case when ${extends_} then excluded.held_until else held_until end`,
        }),
      )
      .execute()
  }

  private async row(key: RateBucketKey) {
    const r = await this.db
      .selectFrom('messaging_rate_buckets')
      .select(['tokens', 'refilled_at', 'held_until'])
      .where('infrastructure_id', '=', key.infrastructureId)
      .where('channel_id', '=', key.channelId)
      .executeTakeFirst()
    return r ? { tokens: r.tokens, refilledAt: r.refilled_at, heldUntil: r.held_until } : null
  }
}

const keyColumns = (k: RateBucketKey) => ({ infrastructure_id: k.infrastructureId, channel_id: k.channelId })
