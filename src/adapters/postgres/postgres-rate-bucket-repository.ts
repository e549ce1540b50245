import { type Kysely, sql } from 'kysely'
import type { RateLimit } from '../../domain/channel.js'
import { TenantScopeViolationError } from '../../domain/errors.js'
import { capacityOf, waitMs } from '../../domain/rate-bucket.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { RateBucketKey, RateBucketRepository } from '../../ports/rate-bucket-repository.js'
import { classify } from './errors.js'
import type { MessagingDatabase } from './schema.js'

interface TakeRow {
  taken: boolean
  tokens: number | null
  /** refilled_at and held_until less the database's now, in ms. */
  refilled_in_ms: number | null
  held_in_ms: number | null
}

/** ms from the database's now to a timestamptz column of the bucket. */
const fromNow = (column: string) =>
  sql.raw(`(extract(epoch from b.${column} - messaging_now()) * 1000)::float8`)

/**
 * Channels' rate buckets (sql/0041), on the database's clock. A take is one statement: the
 * upsert takes a token only when one is due, and the same statement reads the bucket as it
 * stood to say how long the caller waits (a hint: the upsert alone decides who gets a token).
 */
export class PostgresRateBucketRepository implements RateBucketRepository {
  constructor(private readonly db: Kysely<MessagingDatabase>) {}

  /** The scope is the unit of work's: its claims (and role) are what the policies check. */
  async take(_scope: TenantScope, key: RateBucketKey, limit: RateLimit): Promise<number> {
    const cap = capacityOf(limit)
    const avail = sql`least(${cap}::float8, b.tokens + greatest(0, extract(epoch from excluded.refilled_at - b.refilled_at))::float8 * ${limit.perSecond}::float8)`
    const { rows } = await sql<TakeRow>`
      with took as (
        insert into messaging_rate_buckets as b (infrastructure_id, channel_id, tokens, refilled_at)
        values (${key.infrastructureId}::uuid, ${key.channelId}::uuid, ${cap - 1}::float8, messaging_now())
        on conflict on constraint messaging_rate_buckets_pkey do update
          set tokens = ${avail} - 1, refilled_at = greatest(b.refilled_at, excluded.refilled_at)
          where (b.held_until is null or b.held_until <= excluded.refilled_at) and ${avail} >= 1
        returning 1
      )
      select exists (select from took) as taken, b.tokens,
             ${fromNow('refilled_at')} as refilled_in_ms, ${fromNow('held_until')} as held_in_ms
        from (select) as one
        left join messaging_rate_buckets as b
          on b.infrastructure_id = ${key.infrastructureId}::uuid and b.channel_id = ${key.channelId}::uuid`
      .execute(this.db)
      .catch((e) => Promise.reject(classify(e, refused(key))))
    const row = rows[0]
    if (!row || row.taken) return 0
    const state =
      row.tokens === null || row.refilled_in_ms === null
        ? null
        : { tokens: row.tokens, refilledAt: row.refilled_in_ms, heldUntil: row.held_in_ms }
    return waitMs(state, limit, 0)
  }

  async defer(_scope: TenantScope, key: RateBucketKey, afterMs: number): Promise<void> {
    // Every right-hand side reads the row as it was: a hold that reaches further stays whole.
    await sql`
      insert into messaging_rate_buckets as b (infrastructure_id, channel_id, tokens, refilled_at, held_until)
      select ${key.infrastructureId}::uuid, ${key.channelId}::uuid, 1, u, u
        from (select messaging_now() + make_interval(secs => ${afterMs / 1000}::float8) as u) as hold
      on conflict on constraint messaging_rate_buckets_pkey do update
        set tokens = case when b.held_until is null or b.held_until < excluded.held_until
                          then excluded.tokens else b.tokens end,
            refilled_at = case when b.held_until is null or b.held_until < excluded.held_until
                               then greatest(b.refilled_at, excluded.refilled_at) else b.refilled_at end,
            held_until = greatest(b.held_until, excluded.held_until)`
      .execute(this.db)
      .catch((e) => Promise.reject(classify(e, refused(key))))
  }
}

/** A policy refusal (42501): the bucket's infrastructure is not the scope's (or its role is not `service`). */
const refused = (key: RateBucketKey) => ({
  refused: () => new TenantScopeViolationError(key.infrastructureId),
})
