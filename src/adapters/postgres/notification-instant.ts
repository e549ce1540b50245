import { type RawBuilder, sql } from 'kysely'

/**
 * The instant of a notification, as a scalar subquery (run once per statement): every
 * message of a notification is written with its notification's created_at (sql/0090), so
 * `o.created_at = <this> AND o.notification_id = <id>` reads the notification's messages as
 * one range of messaging_outbox_created_idx. A notification the caller cannot see gives
 * null, and so no message.
 */
export const notificationInstant = (infrastructureId: string, notificationId: string): RawBuilder<Date> =>
  sql<Date>`(SELECT n.created_at FROM messaging_notifications AS n
              WHERE n.infrastructure_id = ${infrastructureId} AND n.id = ${notificationId})`
