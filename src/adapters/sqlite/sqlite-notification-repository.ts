import { type Kysely, type SelectQueryBuilder, sql } from 'kysely'
import { ForbiddenRoleError, TenantScopeViolationError } from '../../domain/errors.js'
import type {
  DeliveryCounts,
  DeliveryState,
  Notification,
  NotificationDelivery,
  NotificationSkip,
  ThrottledCount,
} from '../../domain/notification.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type {
  DeliveryFilter,
  NotificationListFilter,
  NotificationRepository,
} from '../../ports/notification-repository.js'
import { notificationFilter } from '../shared/rows/keys.js'
import { type DeliveryRow, deliveryCounts, deliveryState } from '../shared/rows/notification-rows.js'
import { isUniqueViolation } from './sqlite-errors.js'
import { notificationRow, type SqliteKinds, skipRow, toDelivery, toNotification } from './sqlite-rows.js'
import { canAccess, canAccessInfrastructure, insertChecked } from './sqlite-scope.js'
import type { NotificationsTable, SqliteDatabase } from './sqlite-tables.js'

const n = {
  infra: sql.ref('messaging_notifications.infrastructure_id'),
  biz: sql.ref('messaging_notifications.business_id'),
}
const skips = {
  infra: sql.ref('messaging_notification_skips.infrastructure_id'),
  biz: sql.ref('messaging_notification_skips.business_id'),
}
const outbox = {
  infra: sql.ref('messaging_outbox.infrastructure_id'),
  biz: sql.ref('messaging_outbox.business_id'),
}

/** Notifications and skips: sql/0021's policies, written into each statement. */
export class SqliteNotificationRepository implements NotificationRepository {
  constructor(private readonly db: Kysely<SqliteDatabase>) {}

  async throttledCounts(
    scope: TenantScope,
    infrastructureId: string,
    since: Date,
  ): Promise<ThrottledCount[]> {
    if (!this.readable(scope)) return []
    const { rows } = await sql<{
      category_key: string
      throttled: number
    }>`select ${sql.ref('messaging_notifications.category_key')} as category_key, count(*) as throttled from ${sql.table('messaging_notification_skips')} join ${sql.table('messaging_notifications')} on ${n.infra} = ${skips.infra} and ${sql.ref('messaging_notifications.id')} = ${sql.ref('messaging_notification_skips.notification_id')} where ${skips.infra} = ${infrastructureId} and ${sql.ref('messaging_notification_skips.reason')} = 'throttled' and ${sql.ref('messaging_notification_skips.created_at')} >= ${since.getTime()} and ${canAccess(scope, skips.infra, skips.biz)} and ${canAccess(scope, n.infra, n.biz)} group by ${sql.ref('messaging_notifications.category_key')} order by ${sql.ref('messaging_notifications.category_key')}`.execute(
      this.db,
    )
    return rows.map((r) => ({
      infrastructureId,
      categoryKey: r.category_key,
      throttled: Number(r.throttled),
    }))
  }

  private readable(scope: TenantScope): boolean {
    return scope.hasRole('infra_admin', 'service')
  }

  private scoped(
    scope: TenantScope,
    q: SelectQueryBuilder<SqliteDatabase, 'messaging_notifications', object>,
  ) {
    return q.where(canAccess(scope, n.infra, n.biz))
  }

  async insert(
    scope: TenantScope,
    x: Notification,
  ): Promise<{ notification: Notification; created: boolean }> {
    if (!scope.canAccess(x.infrastructureId, x.businessId))
      throw new TenantScopeViolationError(x.infrastructureId, x.businessId)
    if (!this.readable(scope))
      throw new ForbiddenRoleError('notification.insert', ['infra_admin', 'service'], scope.role)
    try {
      await insertChecked(
        this.db,
        'messaging_notifications',
        notificationRow(x),
        canAccess(scope, sql.val(x.infrastructureId), sql.val(x.businessId)),
      )
    } catch (e) {
      if (isUniqueViolation(e) && x.idempotencyKey !== null) {
        const first = await this.findByIdempotencyKey(scope, {
          infrastructureId: x.infrastructureId,
          businessId: x.businessId,
          idempotencyKey: x.idempotencyKey,
        })
        if (first) return { notification: first, created: false }
      }
      throw e
    }
    return { notification: structuredClone(x), created: true }
  }

  async findByIdempotencyKey(
    scope: TenantScope,
    key: { infrastructureId: string; businessId: string | null; idempotencyKey: string },
  ): Promise<Notification | null> {
    if (!this.readable(scope)) return null
    let q = this.db
      .selectFrom('messaging_notifications')
      .selectAll()
      .where('infrastructure_id', '=', key.infrastructureId)
      .where('idempotency_key', '=', key.idempotencyKey)
    q =
      key.businessId === null
        ? q.where('business_id', 'is', null)
        : q.where('business_id', '=', key.businessId)
    const row = await this.scoped(scope, q).executeTakeFirst()
    return row ? toNotification(row as NotificationsTable) : null
  }

  async insertSkips(scope: TenantScope, list: readonly NotificationSkip[]): Promise<void> {
    if (list.length > 0 && !this.readable(scope))
      throw new ForbiddenRoleError('notification.insert', ['infra_admin', 'service'], scope.role)
    // A statement per row: SQLite runs in-process, so a row costs microseconds, not a round trip.
    for (const x of list) {
      const written = await insertChecked(
        this.db,
        'messaging_notification_skips',
        skipRow(x),
        canAccess(scope, sql.val(x.infrastructureId), sql.val(x.businessId)),
      )
      if (written === 0) throw new TenantScopeViolationError(x.infrastructureId, x.businessId)
    }
  }

  async find(scope: TenantScope, infrastructureId: string, id: string): Promise<Notification | null> {
    if (!this.readable(scope)) return null
    const row = await this.scoped(
      scope,
      this.db
        .selectFrom('messaging_notifications')
        .selectAll()
        .where('infrastructure_id', '=', infrastructureId)
        .where('id', '=', id),
    ).executeTakeFirst()
    return row ? toNotification(row as NotificationsTable) : null
  }

  async list(scope: TenantScope, f: NotificationListFilter): Promise<Notification[]> {
    if (!this.readable(scope)) return []
    let q = this.db.selectFrom('messaging_notifications').selectAll().where(notificationFilter(f))
    if (f.since !== undefined) q = q.where('created_at', '>=', f.since.getTime())
    if (f.until !== undefined) q = q.where('created_at', '<', f.until.getTime())
    if (f.before !== undefined) {
      const before = await this.find(scope, f.infrastructureId, f.before)
      if (!before) return []
      q = q.where(sql<boolean>`(created_at, id) < (${before.createdAt.getTime()}, ${before.id})`)
    }
    if (f.userId !== undefined) {
      // Notifications the user has a message of, or a skip: both index ranges by user.
      q = q.where(
        sql<boolean>`id in (select ${sql.ref('messaging_outbox.notification_id')} from ${sql.table('messaging_outbox')} where ${sql.ref('messaging_outbox.infrastructure_id')} = ${f.infrastructureId} and ${sql.ref('messaging_outbox.recipient_user_id')} = ${f.userId} and ${sql.ref('messaging_outbox.notification_id')} is not null and ${canAccess(scope, outbox.infra, outbox.biz)} union select ${sql.ref('messaging_notification_skips.notification_id')} from ${sql.table('messaging_notification_skips')} where ${sql.ref('messaging_notification_skips.infrastructure_id')} = ${f.infrastructureId} and ${sql.ref('messaging_notification_skips.user_id')} = ${f.userId} and ${canAccess(scope, skips.infra, skips.biz)})`,
      )
    }
    const rows = await this.scoped(scope, q)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(f.limit)
      .execute()
    return rows.map((r) => toNotification(r as NotificationsTable))
  }

  /** The union of a notification's messages and skips, in (user, channel type) order. */
  private union(scope: TenantScope, infrastructureId: string, notificationId: string) {
    return sql`select ${sql.ref('messaging_outbox.recipient_user_id')} as user_id, ${sql.ref('messaging_channels.type')} as channel_type, ${sql.ref('messaging_outbox.channel_id')} as channel_id, ${sql.ref('messaging_outbox.id')} as message_id, ${deliveryState(sql.ref('messaging_outbox.status'))} as state, null as reason, ${sql.ref('messaging_outbox.attempts')} as attempts, ${sql.ref('messaging_outbox.last_error')} as last_error, ${sql.ref('messaging_outbox.settled_at')} as settled_at, case when ${sql.ref('messaging_outbox.status')} = 'pending' then ${sql.ref('messaging_outbox.available_at')} end as available_at from ${sql.table('messaging_outbox')} join ${sql.table('messaging_channels')} on ${sql.ref('messaging_channels.infrastructure_id')} = ${sql.ref('messaging_outbox.infrastructure_id')} and ${sql.ref('messaging_channels.id')} = ${sql.ref('messaging_outbox.channel_id')} where ${sql.ref('messaging_outbox.infrastructure_id')} = ${infrastructureId} and ${sql.ref('messaging_outbox.notification_id')} = ${notificationId} and ${canAccess(scope, outbox.infra, outbox.biz)} and ${canAccessInfrastructure(scope, sql.ref('messaging_channels.infrastructure_id'))} union all select ${sql.ref('messaging_notification_skips.user_id')}, ${sql.ref('messaging_notification_skips.channel_type')}, null, null, 'skipped', ${sql.ref('messaging_notification_skips.reason')}, 0, null, null, null from ${sql.table('messaging_notification_skips')} where ${sql.ref('messaging_notification_skips.infrastructure_id')} = ${infrastructureId} and ${sql.ref('messaging_notification_skips.notification_id')} = ${notificationId} and ${canAccess(scope, skips.infra, skips.biz)}`
  }

  async deliveries(scope: TenantScope, f: DeliveryFilter): Promise<NotificationDelivery[]> {
    if (!this.readable(scope)) return []
    const conditions = [sql`1 = 1`]
    if (f.state !== undefined) conditions.push(sql`d.state = ${f.state}`)
    if (f.userId !== undefined) conditions.push(sql`d.user_id = ${f.userId}`)
    if (f.after !== undefined)
      conditions.push(sql`(d.user_id, d.channel_type) > (${f.after.userId}, ${f.after.channelType})`)
    const r = await sql<
      DeliveryRow<SqliteKinds>
    >`select * from (${this.union(scope, f.infrastructureId, f.notificationId)}) as d where ${sql.join(conditions, sql` and `)} order by d.user_id, d.channel_type limit ${f.limit}`.execute(
      this.db,
    )
    return r.rows.map(toDelivery)
  }

  async counts(
    scope: TenantScope,
    infrastructureId: string,
    notificationId: string,
  ): Promise<DeliveryCounts> {
    if (!this.readable(scope)) return deliveryCounts([])
    const r = await sql<{
      state: DeliveryState
      n: number
    }>`select d.state as state, count(*) as n from (${this.union(scope, infrastructureId, notificationId)}) as d group by d.state`.execute(
      this.db,
    )
    return deliveryCounts(r.rows)
  }
}
