import { type Kysely, sql } from 'kysely'
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
import {
  type DeliveryRow,
  deliveryCounts,
  deliveryState,
  type NotificationRow as SharedNotificationRow,
} from '../shared/rows/notification-rows.js'
import { classify } from './errors.js'
import { notificationInstant } from './notification-instant.js'
import { json, type MessagingDatabase, type PostgresKinds, toDelivery, toNotification } from './schema.js'

type NotificationRow = SharedNotificationRow<PostgresKinds>

/**
 * A notification's messages and skips as one relation, one index range each: the messages
 * are the rows of the created index at the notification's instant (every message of a
 * notification carries its created_at, sql/0090), the skips the skips' primary key.
 */
const deliveriesOf = (infrastructureId: string, notificationId: string) => sql`
  SELECT o.recipient_user_id::text AS user_id, c.type COLLATE "C" AS channel_type, o.channel_id, o.id AS message_id,
         ${deliveryState(sql.ref('o.status'))} AS state,
         NULL::text AS reason, o.attempts, o.last_error, o.settled_at,
         CASE WHEN o.status = 'pending' THEN o.available_at END AS available_at
    FROM messaging_outbox AS o
    JOIN messaging_channels AS c ON c.infrastructure_id = o.infrastructure_id AND c.id = o.channel_id
   WHERE o.infrastructure_id = ${infrastructureId}
     AND o.created_at = ${notificationInstant(infrastructureId, notificationId)}
     AND o.notification_id = ${notificationId}
  UNION ALL
  SELECT s.user_id::text, s.channel_type, NULL, NULL, 'skipped', s.reason, 0, NULL, NULL, NULL
    FROM messaging_notification_skips AS s
   WHERE s.infrastructure_id = ${infrastructureId} AND s.notification_id = ${notificationId}`

/** Notifications and skips. The policies of sql/0021 decide who reads and writes them. */
export class PostgresNotificationRepository implements NotificationRepository {
  constructor(private readonly db: Kysely<MessagingDatabase>) {}

  /** The throttled skips by the partial index of sql/0082, joined to their notification's category. */
  async throttledCounts(
    _scope: TenantScope,
    infrastructureId: string,
    since: Date,
  ): Promise<ThrottledCount[]> {
    const { rows } = await sql<{ category_key: string; throttled: string }>`
      SELECT n.category_key, count(*) AS throttled
        FROM messaging_notification_skips AS s
        JOIN messaging_notifications AS n ON n.infrastructure_id = s.infrastructure_id AND n.id = s.notification_id
       WHERE s.infrastructure_id = ${infrastructureId} AND s.reason = 'throttled' AND s.created_at >= ${since}
       GROUP BY n.category_key
       ORDER BY n.category_key`.execute(this.db)
    return rows.map((r) => ({
      infrastructureId,
      categoryKey: r.category_key,
      throttled: Number(r.throttled),
    }))
  }

  async insert(
    scope: TenantScope,
    x: Notification,
  ): Promise<{ notification: Notification; created: boolean }> {
    try {
      const r = await sql<NotificationRow>`
        INSERT INTO messaging_notifications (infrastructure_id, id, business_id, category_key, target, data,
               idempotency_key, created_by, created_at, available_at, recipient_count, message_count, skipped_count)
        VALUES (${x.infrastructureId}, ${x.id}, ${x.businessId}, ${x.categoryKey}, ${json(x.target)}::jsonb,
                ${json(x.data)}::jsonb, ${x.idempotencyKey}, ${x.createdBy}, ${x.createdAt}, ${x.availableAt},
                ${x.recipientCount}, ${x.messageCount}, ${x.skippedCount})
        ON CONFLICT (infrastructure_id, business_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
        RETURNING *`.execute(this.db)
      if (r.rows[0]) return { notification: toNotification(r.rows[0]), created: true }
    } catch (e) {
      throw classify(e, {
        missing: { entity: 'category', id: x.categoryKey },
        refused: () =>
          scope.canAccess(x.infrastructureId, x.businessId)
            ? new ForbiddenRoleError('notification.insert', ['infra_admin', 'service'], scope.role)
            : new TenantScopeViolationError(x.infrastructureId, x.businessId),
      })
    }
    // The key was taken, by a transaction that committed first: its notification is the one.
    const first = await this.findByIdempotencyKey(scope, {
      infrastructureId: x.infrastructureId,
      businessId: x.businessId,
      idempotencyKey: x.idempotencyKey!,
    })
    if (!first) throw new TenantScopeViolationError(x.infrastructureId, x.businessId)
    return { notification: first, created: false }
  }

  async findByIdempotencyKey(
    _scope: TenantScope,
    key: { infrastructureId: string; businessId: string | null; idempotencyKey: string },
  ): Promise<Notification | null> {
    const r = await sql<NotificationRow>`
      SELECT * FROM messaging_notifications
       WHERE infrastructure_id = ${key.infrastructureId} AND business_id IS NOT DISTINCT FROM ${key.businessId}
         AND idempotency_key = ${key.idempotencyKey}`
      .execute(this.db)
      .catch((e) => Promise.reject(classify(e)))
    return r.rows[0] ? toNotification(r.rows[0]) : null
  }

  /** One statement for the batch: the rows travel as arrays (unnest), whatever their number. */
  async insertSkips(scope: TenantScope, skips: readonly NotificationSkip[]): Promise<void> {
    if (skips.length === 0) return
    const first = skips[0]!
    try {
      await sql`
        INSERT INTO messaging_notification_skips (infrastructure_id, notification_id, user_id, channel_type,
               business_id, reason, created_at)
        SELECT * FROM unnest(${skips.map((s) => s.infrastructureId)}::uuid[], ${skips.map((s) => s.notificationId)}::uuid[],
                             ${skips.map((s) => s.userId)}::uuid[], ${skips.map((s) => s.channelType)}::text[],
                             ${skips.map((s) => s.businessId)}::uuid[], ${skips.map((s) => s.reason)}::text[],
                             ${skips.map((s) => s.createdAt.toISOString())}::timestamptz[])`.execute(this.db)
    } catch (e) {
      throw classify(e, {
        refused: () =>
          scope.canAccess(first.infrastructureId, first.businessId)
            ? new ForbiddenRoleError('notification.insert', ['infra_admin', 'service'], scope.role)
            : new TenantScopeViolationError(first.infrastructureId, first.businessId),
      })
    }
  }

  async find(_scope: TenantScope, infrastructureId: string, id: string): Promise<Notification | null> {
    const r = await sql<NotificationRow>`
      SELECT * FROM messaging_notifications WHERE infrastructure_id = ${infrastructureId} AND id = ${id}`
      .execute(this.db)
      .catch((e) => Promise.reject(classify(e)))
    return r.rows[0] ? toNotification(r.rows[0]) : null
  }

  async list(scope: TenantScope, f: NotificationListFilter): Promise<Notification[]> {
    const where = [notificationFilter(f)]
    if (f.since !== undefined) where.push(sql`n.created_at >= ${f.since}`)
    if (f.until !== undefined) where.push(sql`n.created_at < ${f.until}`)
    if (f.before !== undefined) {
      const before = await this.find(scope, f.infrastructureId, f.before)
      if (!before) return []
      where.push(sql`(n.created_at, n.id) < (${before.createdAt}, ${before.id})`)
    }
    if (f.userId !== undefined) {
      // The user's messages and skips: an index range of each (messaging_outbox_recipient_idx, the skips' user
      // index). The recipient index holds one message per recipient of a fan-out (recipient_first, sql/0091).
      where.push(sql`n.id IN (
        SELECT o.notification_id FROM messaging_outbox AS o
         WHERE o.infrastructure_id = ${f.infrastructureId} AND o.recipient_user_id = ${f.userId}
           AND o.notification_id IS NOT NULL AND o.recipient_first IS NOT FALSE
        UNION
        SELECT s.notification_id FROM messaging_notification_skips AS s
         WHERE s.infrastructure_id = ${f.infrastructureId} AND s.user_id = ${f.userId})`)
    }
    const r = await sql<NotificationRow>`
      SELECT n.* FROM messaging_notifications AS n WHERE ${sql.join(where, sql` AND `)}
       ORDER BY n.created_at DESC, n.id DESC LIMIT ${f.limit}`
      .execute(this.db)
      .catch((e) => Promise.reject(classify(e)))
    return r.rows.map(toNotification)
  }

  async deliveries(_scope: TenantScope, f: DeliveryFilter): Promise<NotificationDelivery[]> {
    const where = [sql`true`]
    if (f.state !== undefined) where.push(sql`d.state = ${f.state}`)
    if (f.userId !== undefined) where.push(sql`d.user_id = ${f.userId}`)
    if (f.after !== undefined) {
      where.push(
        sql`(d.user_id COLLATE "C", d.channel_type) > (${f.after.userId}::text COLLATE "C", ${f.after.channelType}::text)`,
      )
    }
    const r = await sql<DeliveryRow<PostgresKinds>>`
      SELECT * FROM (${deliveriesOf(f.infrastructureId, f.notificationId)}) AS d
       WHERE ${sql.join(where, sql` AND `)}
       ORDER BY d.user_id COLLATE "C", d.channel_type LIMIT ${f.limit}`
      .execute(this.db)
      .catch((e) => Promise.reject(classify(e)))
    return r.rows.map(toDelivery)
  }

  async counts(
    _scope: TenantScope,
    infrastructureId: string,
    notificationId: string,
  ): Promise<DeliveryCounts> {
    const r = await sql<{ state: DeliveryState; n: number }>`
      SELECT d.state, count(*)::int AS n FROM (${deliveriesOf(infrastructureId, notificationId)}) AS d GROUP BY d.state`
      .execute(this.db)
      .catch((e) => Promise.reject(classify(e)))
    return deliveryCounts(r.rows)
  }
}
