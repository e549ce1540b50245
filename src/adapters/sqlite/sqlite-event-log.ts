import { type Kysely, type Selectable, sql } from 'kysely'
import { TenantScopeViolationError } from '../../domain/errors.js'
import type { DeliveryEvent, EventCursor, EventType, NewDeliveryEvent } from '../../domain/events.js'
import type { JsonValue } from '../../domain/outbox-message.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { Clock } from '../../ports/clock.js'
import type { EventFilter, EventLog, NotificationRef } from '../../ports/event-log.js'
import { canAccess, canAccessInfrastructure, insertChecked } from './sqlite-scope.js'
import type { EventsTable, SqliteDatabase } from './sqlite-tables.js'

/**
 * The events of sql/0110 on SQLite (migration 20). The place is `0.<seq>`: one writer at a
 * time holds the file, so seq order is commit order.
 */
export class SqliteEventLog implements EventLog {
  constructor(
    private readonly db: Kysely<SqliteDatabase>,
    private readonly clock: Clock,
  ) {}

  /** No round trips here: one checked insert per event, in the unit's transaction. */
  async append(scope: TenantScope, events: readonly NewDeliveryEvent[]): Promise<void> {
    for (const e of events) {
      if (!scope.canAccessInfrastructure(e.infrastructureId))
        throw new TenantScopeViolationError(e.infrastructureId)
    }
    const at = this.clock.now().getTime()
    for (const e of events) {
      const written = await insertChecked(
        this.db,
        'messaging_events',
        {
          infrastructure_id: e.infrastructureId,
          id: e.id,
          business_id: e.businessId,
          type: e.type,
          message_id: e.messageId,
          notification_id: e.notificationId,
          channel_id: e.channelId,
          data: JSON.stringify(e.data),
          occurred_at: at,
        },
        canAccessInfrastructure(scope, sql.val(e.infrastructureId)),
      )
      if (written === 0) throw new TenantScopeViolationError(e.infrastructureId)
    }
  }

  /** One writer at a time holds the file: nothing to wait for. */
  async finishedNotifications(
    scope: TenantScope,
    refs: readonly NotificationRef[],
  ): Promise<NotificationRef[]> {
    const out: NotificationRef[] = []
    for (const ref of refs) {
      const open = await this.db
        .selectFrom('messaging_outbox')
        .select('id')
        .where('infrastructure_id', '=', ref.infrastructureId)
        .where('notification_id', '=', ref.notificationId)
        .where('status', 'in', ['pending', 'processing'])
        .where(
          canAccess(
            scope,
            sql.ref('messaging_outbox.infrastructure_id'),
            sql.ref('messaging_outbox.business_id'),
          ),
        )
        .limit(1)
        .executeTakeFirst()
      if (!open) out.push(ref)
    }
    return out
  }

  async last(scope: TenantScope, infrastructureId: string): Promise<EventCursor | null> {
    if (!scope.hasRole('infra_admin', 'service')) return null
    const row = await this.db
      .selectFrom('messaging_events')
      .select('seq')
      .where('infrastructure_id', '=', infrastructureId)
      .where(canAccessInfrastructure(scope, sql.ref('messaging_events.infrastructure_id')))
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst()
    return row ? { major: 0n, minor: BigInt(row.seq) } : null
  }

  async list(scope: TenantScope, filter: EventFilter): Promise<DeliveryEvent[]> {
    if (!scope.hasRole('infra_admin', 'service')) return []
    // A major above 0 is a place no SQLite log makes (PostgreSQL's): everything here is before it.
    if (filter.after !== null && filter.after.major > 0n) return []
    let q = this.db
      .selectFrom('messaging_events')
      .selectAll()
      .where('infrastructure_id', '=', filter.infrastructureId)
      .where(canAccessInfrastructure(scope, sql.ref('messaging_events.infrastructure_id')))
      .where('seq', '>', filter.after === null ? -1 : Number(filter.after.minor))
    if (filter.types !== undefined) q = q.where('type', 'in', [...filter.types])
    const rows = await q.orderBy('seq').limit(Math.max(0, filter.limit)).execute()
    return rows.map(toEvent)
  }
}

const toEvent = (row: Selectable<EventsTable>): DeliveryEvent => ({
  id: row.id,
  infrastructureId: row.infrastructure_id,
  businessId: row.business_id,
  type: row.type as EventType,
  messageId: row.message_id,
  notificationId: row.notification_id,
  channelId: row.channel_id,
  data: JSON.parse(row.data) as { [key: string]: JsonValue },
  cursor: `0.${row.seq}`,
  occurredAt: new Date(row.occurred_at),
})
