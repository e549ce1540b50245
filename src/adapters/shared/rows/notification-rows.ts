import { type RawBuilder, sql } from 'kysely'
import {
  DELIVERY_STATES,
  type DeliveryCounts,
  type DeliveryState,
  type Notification,
  type NotificationDelivery,
  type NotificationSkip,
  type NotifyTarget,
  type SkipReason,
} from '../../../domain/notification.js'
import type { JsonValue } from '../../../domain/outbox-message.js'
import type { TemplateChannelType, TemplateSettings, TemplateVersion } from '../../../domain/template.js'
import type { SavedTemplateSettings } from '../../../ports/template-repository.js'
import { type ColumnKinds, type Columns, type Json, type Mode, timeOrNull, toTimeOrNull } from './columns.js'

/** messaging_notifications (sql/0021, SQLite v5). */
export interface NotificationRow<K extends ColumnKinds, M extends Mode = 'read'> {
  infrastructure_id: string
  id: string
  business_id: string | null
  category_key: string
  target: Json<K, NotifyTarget, M>
  data: Json<K, { [key: string]: JsonValue }, M>
  idempotency_key: string | null
  created_by: string
  created_at: K['time']
  available_at: K['time'] | null
  recipient_count: number
  message_count: number
  skipped_count: number
}

/** messaging_notification_skips. */
export interface SkipRow<K extends ColumnKinds> {
  infrastructure_id: string
  notification_id: string
  user_id: string
  channel_type: string
  business_id: string | null
  reason: SkipReason
  created_at: K['time']
}

/** One row of a notification's deliveries: its messages and skips as one relation. */
export interface DeliveryRow<K extends ColumnKinds> {
  user_id: string
  channel_type: string
  channel_id: string | null
  message_id: string | null
  state: DeliveryState
  reason: SkipReason | null
  attempts: number
  last_error: string | null
  settled_at: K['time'] | null
  available_at: K['time'] | null
}

/** messaging_templates (sql/0040, SQLite v6). */
export interface TemplateRow<K extends ColumnKinds, M extends Mode = 'read'> {
  infrastructure_id: string
  id: string
  category_key: string
  channel_type: TemplateChannelType
  locale: string
  version: number
  content: Json<K, Record<string, string>, M>
  created_by: string
  created_at: K['time']
}

/** messaging_template_settings. */
export interface TemplateSettingsRow<K extends ColumnKinds> {
  infrastructure_id: string
  default_locale: string
  updated_by: string
  updated_at: K['time']
}

/** Notification, skip, delivery and template rows <-> entities, over a store's column kinds. */
export const notificationRows = <K extends ColumnKinds>(c: Columns<K>) => ({
  notificationRow: (x: Notification): NotificationRow<K, 'write'> => ({
    infrastructure_id: x.infrastructureId,
    id: x.id,
    business_id: x.businessId,
    category_key: x.categoryKey,
    target: c.toJson(x.target),
    data: c.toJson(x.data),
    idempotency_key: x.idempotencyKey,
    created_by: x.createdBy,
    created_at: c.toTime(x.createdAt),
    available_at: toTimeOrNull(c, x.availableAt),
    recipient_count: x.recipientCount,
    message_count: x.messageCount,
    skipped_count: x.skippedCount,
  }),
  toNotification: (r: NotificationRow<K>): Notification => ({
    id: r.id,
    infrastructureId: r.infrastructure_id,
    businessId: r.business_id,
    categoryKey: r.category_key,
    target: c.json(r.target),
    data: c.json(r.data),
    idempotencyKey: r.idempotency_key,
    createdBy: r.created_by,
    createdAt: c.time(r.created_at),
    availableAt: timeOrNull(c, r.available_at),
    recipientCount: r.recipient_count,
    messageCount: r.message_count,
    skippedCount: r.skipped_count,
  }),
  skipRow: (x: NotificationSkip): SkipRow<K> => ({
    infrastructure_id: x.infrastructureId,
    notification_id: x.notificationId,
    user_id: x.userId,
    channel_type: x.channelType,
    business_id: x.businessId,
    reason: x.reason,
    created_at: c.toTime(x.createdAt),
  }),
  toDelivery: (x: DeliveryRow<K>): NotificationDelivery => ({
    userId: x.user_id,
    channelType: x.channel_type,
    channelId: x.channel_id,
    messageId: x.message_id,
    state: x.state,
    reason: x.reason,
    attempts: x.attempts,
    lastError: x.last_error,
    settledAt: timeOrNull(c, x.settled_at),
    availableAt: timeOrNull(c, x.available_at),
  }),
  templateRow: (t: TemplateVersion): TemplateRow<K, 'write'> => ({
    infrastructure_id: t.infrastructureId,
    id: t.id,
    category_key: t.categoryKey,
    channel_type: t.channelType,
    locale: t.locale,
    version: t.version,
    content: c.toJson(t.content),
    created_by: t.createdBy,
    created_at: c.toTime(t.createdAt),
  }),
  toTemplate: (r: TemplateRow<K>): TemplateVersion => ({
    id: r.id,
    infrastructureId: r.infrastructure_id,
    categoryKey: r.category_key,
    channelType: r.channel_type,
    locale: r.locale,
    version: r.version,
    content: c.json(r.content),
    createdBy: r.created_by,
    createdAt: c.time(r.created_at),
  }),
  settingsRow: (s: SavedTemplateSettings): TemplateSettingsRow<K> => ({
    infrastructure_id: s.infrastructureId,
    default_locale: s.defaultLocale,
    updated_by: s.updatedBy,
    updated_at: c.toTime(s.updatedAt),
  }),
  toSettings: (r: TemplateSettingsRow<K>): TemplateSettings => ({
    infrastructureId: r.infrastructure_id,
    defaultLocale: r.default_locale,
    updatedBy: r.updated_by,
    updatedAt: c.time(r.updated_at),
  }),
})

/**
 * A message's delivery state from its outbox status, in SQL (both stores' deliveries
 * relation): a message being sent is still pending to the reader, a processed one delivered;
 * a provider's receipt keeps a confirmed one delivered and makes a bounced one failed.
 */
export const deliveryState = (status: RawBuilder<unknown>) =>
  sql<DeliveryState>`case ${status} when 'processed' then 'delivered' when 'confirmed' then 'delivered' when 'bounced' then 'failed' when 'processing' then 'pending' else ${status} end`

/** A notification's counts by delivery state from grouped rows; a state with no row counts 0. */
export function deliveryCounts(
  rows: readonly { state: DeliveryState; n: number | string }[],
): DeliveryCounts {
  const counts = Object.fromEntries(DELIVERY_STATES.map((s) => [s, 0])) as Record<DeliveryState, number>
  for (const row of rows) counts[row.state] = Number(row.n)
  return counts
}
