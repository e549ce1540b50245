import { type Kysely, sql } from 'kysely'
import { TenantScopeViolationError } from '../../domain/errors.js'
import type { DeliveryEvent, EventCursor, EventType, NewDeliveryEvent } from '../../domain/events.js'
import type { JsonValue } from '../../domain/outbox-message.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { EventFilter, EventLog, NotificationRef } from '../../ports/event-log.js'
import { classify } from './errors.js'
import { json, type MessagingDatabase } from './schema.js'

interface EventRow {
  infrastructure_id: string
  id: string
  tx: string
  seq: string
  business_id: string | null
  type: string
  message_id: string | null
  notification_id: string | null
  channel_id: string | null
  data: { [key: string]: JsonValue }
  occurred_at: Date
}

/**
 * The events of sql/0110. A place is `<tx>.<seq>`; a list reads only events of transactions
 * older than its snapshot's xmin, so a place handed out is never passed by an event that
 * commits later (the migration's comment says why).
 */
export class PostgresEventLog implements EventLog {
  constructor(private readonly db: Kysely<MessagingDatabase>) {}

  /**
   * One INSERT of every event from one jsonb parameter: a settle batch of 100 messages
   * writes its events in one round trip, with one statement text whatever the count (so
   * one plan). The insert policy checks each row; tx, seq and the time are the database's.
   */
  async append(scope: TenantScope, events: readonly NewDeliveryEvent[]): Promise<void> {
    if (events.length === 0) return
    for (const e of events) {
      if (!scope.canAccessInfrastructure(e.infrastructureId))
        throw new TenantScopeViolationError(e.infrastructureId)
    }
    const rows = events.map((e) => ({
      infrastructure_id: e.infrastructureId,
      id: e.id,
      business_id: e.businessId,
      type: e.type,
      message_id: e.messageId,
      notification_id: e.notificationId,
      channel_id: e.channelId,
      data: e.data,
    }))
    await sql`INSERT INTO messaging_events
        (infrastructure_id, id, business_id, type, message_id, notification_id, channel_id, data)
      SELECT e.infrastructure_id, e.id, e.business_id, e.type, e.message_id, e.notification_id, e.channel_id, e.data
        FROM jsonb_to_recordset(${json(rows)}::jsonb) AS e(infrastructure_id uuid, id uuid, business_id uuid,
             type text, message_id uuid, notification_id uuid, channel_id uuid, data jsonb)`
      .execute(this.db)
      .catch((e) =>
        Promise.reject(
          classify(e, {
            conflict: { entity: 'event', key: events.length === 1 ? events[0]!.id : 'batch' },
            refused: () => new TenantScopeViolationError(events[0]!.infrastructureId),
          }),
        ),
      )
  }

  /**
   * Two statements: the locks, then the check, so the check's snapshot is taken after every
   * transaction that held one of the locks before has committed (under READ COMMITTED a
   * statement that waited on a lock still reads with the snapshot it started with).
   */
  async finishedNotifications(
    _scope: TenantScope,
    refs: readonly NotificationRef[],
  ): Promise<NotificationRef[]> {
    if (refs.length === 0) return []
    const keys = [...new Set(refs.map((r) => `${r.infrastructureId}/${r.notificationId}`))].sort()
    await sql`SELECT pg_advisory_xact_lock(hashtextextended('messaging.notification/' || k, 0))
        FROM unnest(${keys}::text[]) WITH ORDINALITY AS t(k, n) ORDER BY n`.execute(this.db)
    const open = await sql<{
      infrastructure_id: string
      notification_id: string
    }>`SELECT DISTINCT o.infrastructure_id, o.notification_id
        FROM unnest(${refs.map((r) => r.infrastructureId)}::uuid[], ${refs.map((r) => r.notificationId)}::uuid[])
             AS t(infrastructure_id, notification_id)
        JOIN messaging_outbox AS o
          ON o.infrastructure_id = t.infrastructure_id AND o.notification_id = t.notification_id
       WHERE o.queued`.execute(this.db)
    const busy = new Set(open.rows.map((r) => `${r.infrastructure_id}/${r.notification_id}`))
    return refs.filter((r) => !busy.has(`${r.infrastructureId}/${r.notificationId}`))
  }

  /** The newest place below the horizon, as `list` reads. */
  async last(_scope: TenantScope, infrastructureId: string): Promise<EventCursor | null> {
    const r = await sql<{ tx: string; seq: string }>`SELECT tx::text AS tx, seq FROM messaging_events
       WHERE infrastructure_id = ${infrastructureId}
         AND tx < pg_snapshot_xmin(pg_current_snapshot())
       ORDER BY messaging_events.tx DESC, seq DESC
       LIMIT 1`.execute(this.db)
    const row = r.rows[0]
    return row ? { major: BigInt(row.tx), minor: BigInt(row.seq) } : null
  }

  /** RLS decides who reads (admins and services of the tenant); anyone else reads nothing. */
  async list(_scope: TenantScope, filter: EventFilter): Promise<DeliveryEvent[]> {
    const major = (filter.after?.major ?? 0n).toString()
    const minor = (filter.after?.minor ?? 0n).toString()
    const types = filter.types === undefined ? null : [...filter.types]
    const r = await sql<EventRow>`SELECT infrastructure_id, id, tx::text AS tx, seq, business_id, type,
             message_id, notification_id, channel_id, data, occurred_at
        FROM messaging_events
       WHERE infrastructure_id = ${filter.infrastructureId}
         AND (tx, seq) > (${major}::xid8, ${minor}::bigint)
         AND tx < pg_snapshot_xmin(pg_current_snapshot())
         AND (${types}::text[] IS NULL OR type = ANY (${types}::text[]))
       ORDER BY messaging_events.tx, seq
       LIMIT ${Math.max(0, filter.limit)}`.execute(this.db)
    return r.rows.map(toEvent)
  }
}

const toEvent = (row: EventRow): DeliveryEvent => ({
  id: row.id,
  infrastructureId: row.infrastructure_id,
  businessId: row.business_id,
  type: row.type as EventType,
  messageId: row.message_id,
  notificationId: row.notification_id,
  channelId: row.channel_id,
  data: row.data,
  cursor: `${row.tx}.${row.seq}`,
  occurredAt: row.occurred_at,
})
