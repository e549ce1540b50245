import { type Kysely, sql } from 'kysely'
import {
  MINUTE_MS,
  type MinuteCounts,
  minuteOf,
  type QueueMinute,
  queueHistory,
} from '../../domain/queue-history.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { Clock } from '../../ports/clock.js'
import type { QueueHistoryRepository } from '../../ports/queue-history-repository.js'
import { canAccess } from './sqlite-scope.js'
import type { SqliteDatabase } from './sqlite-tables.js'

/**
 * The queue's per-minute rollup in the file (messaging_queue_minutes, written by the
 * outbox's batches) and the open messages now, read in the unit's one transaction so the
 * backlog taken back from them is consistent.
 */
export class SqliteQueueHistoryRepository implements QueueHistoryRepository {
  constructor(
    private readonly db: Kysely<SqliteDatabase>,
    private readonly clock: Clock,
  ) {}

  async minutes(scope: TenantScope, infrastructureId: string, minutes: number): Promise<QueueMinute[]> {
    const nowMinute = minuteOf(this.clock.now())
    if (!scope.hasRole('infra_admin', 'service')) return queueHistory([], 0, nowMinute, minutes)
    // The rollup covers every business of the infrastructure: an infrastructure-wide grant reads it.
    const wide = (table: string) => canAccess(scope, sql.ref(`${table}.infrastructure_id`), sql.val(null))
    const rows = await this.db
      .selectFrom('messaging_queue_minutes')
      .selectAll()
      .where('infrastructure_id', '=', infrastructureId)
      .where('minute', '>', nowMinute - minutes * MINUTE_MS)
      .where(wide('messaging_queue_minutes'))
      .execute()
    const open = await this.db
      .selectFrom('messaging_outbox')
      .select(sql<number>`count(*)`.as('n'))
      .where('infrastructure_id', '=', infrastructureId)
      .where('status', 'in', ['pending', 'processing'])
      .where(wide('messaging_outbox'))
      .executeTakeFirst()
    const counts: MinuteCounts[] = rows.map((r) => ({
      minute: r.minute,
      enqueued: r.enqueued,
      delivered: r.delivered,
      failedAttempts: r.failed_attempts,
      dead: r.dead,
      closed: r.closed,
      reopened: r.reopened,
    }))
    return queueHistory(counts, Number(open?.n ?? 0), nowMinute, minutes)
  }
}
