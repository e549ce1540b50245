import { type Kysely, sql } from 'kysely'
import { type MinuteCounts, type QueueMinute, queueHistory } from '../../domain/queue-history.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { QueueHistoryRepository } from '../../ports/queue-history-repository.js'
import type { MessagingDatabase } from './schema.js'

interface HistoryRow {
  now_minute: string
  open: number
  counts: {
    minute: string
    enqueued: number
    delivered: number
    failed_attempts: number
    dead: number
    closed: number
    reopened: number
  }[]
}

/**
 * The queue's per-minute rollup (sql/0120) and the open messages now, in one statement (one
 * snapshot, so the backlog taken back from them is consistent), on the database's clock.
 * The policies decide what the scope reads: a caller without an infrastructure-wide
 * operator grant reads no minute and no open message.
 */
export class PostgresQueueHistoryRepository implements QueueHistoryRepository {
  constructor(private readonly db: Kysely<MessagingDatabase>) {}

  async minutes(scope: TenantScope, infrastructureId: string, minutes: number): Promise<QueueMinute[]> {
    const allowed = scope.hasRole('infra_admin', 'service')
    const { rows } = await sql<HistoryRow>`
      with m as (
        select q.minute, sum(q.enqueued)::int as enqueued, sum(q.delivered)::int as delivered,
               sum(q.failed_attempts)::int as failed_attempts, sum(q.dead)::int as dead,
               sum(q.closed)::int as closed, sum(q.reopened)::int as reopened
          from messaging_queue_minutes as q
         where q.infrastructure_id = ${infrastructureId}::uuid
           and q.minute > date_trunc('minute', messaging_now()) - ${minutes} * interval '1 minute'
         group by q.minute
      )
      select (extract(epoch from date_trunc('minute', messaging_now())) * 1000)::bigint::text as now_minute,
             (select count(*)::int from messaging_outbox as o
               where o.infrastructure_id = ${infrastructureId}::uuid
                 and o.queued
                 and ${allowed}
                 and tenant_can_access(o.infrastructure_id, null)) as open,
             coalesce((select jsonb_agg(m) from m), '[]'::jsonb) as counts`.execute(this.db)
    const row = rows[0]!
    const counts: MinuteCounts[] = row.counts.map((c) => ({
      minute: Date.parse(c.minute),
      enqueued: c.enqueued,
      delivered: c.delivered,
      failedAttempts: c.failed_attempts,
      dead: c.dead,
      closed: c.closed,
      reopened: c.reopened,
    }))
    return queueHistory(counts, row.open, Number(row.now_minute), minutes)
  }
}
