import type { NotificationListFilter } from '../../../ports/notification-repository.js'
import type { OutboxListFilter } from '../../../ports/outbox-repository.js'
import type { PreferenceKey, TenantDefaultKey } from '../../../ports/preference-repository.js'
import type { TemplateKey } from '../../../ports/template-repository.js'
import type { MemberRow, MembershipViewRow } from './channel-rows.js'
import type { ColumnKinds } from './columns.js'
import type { NotificationRow, TemplateRow } from './notification-rows.js'
import type { OutboxRow } from './outbox-rows.js'
import type { PreferenceRow, TenantDefaultRow } from './recipient-rows.js'
import { filtered, matching } from './where.js'

/**
 * The keys and list filters of the tables, written once for both SQL stores (each adds its
 * own scope: SQLite's predicate in the same statement, PostgreSQL's policies).
 */
type Any = ColumnKinds

/** A member of a channel, or (without `userId`) every member of it. */
export const memberKey = (k: { infrastructureId: string; channelId: string; userId?: string }) =>
  filtered<MemberRow<Any>>({
    infrastructure_id: k.infrastructureId,
    channel_id: k.channelId,
    user_id: k.userId,
  })

export const membershipViewFilter = (f: { infrastructureId: string; userId?: string; channelId?: string }) =>
  filtered<MembershipViewRow<Any>>({
    infrastructure_id: f.infrastructureId,
    user_id: f.userId,
    channel_id: f.channelId,
  })

export const preferenceKey = (k: PreferenceKey) =>
  matching<PreferenceRow<Any>>({
    infrastructure_id: k.infrastructureId,
    user_id: k.userId,
    category_key: k.categoryKey,
    channel_type: k.channelType,
  })

/** A tenant default's key: a null business is the tenant-wide default, matched as null. */
export const tenantDefaultKey = (k: TenantDefaultKey) =>
  matching<TenantDefaultRow<Any>>({
    infrastructure_id: k.infrastructureId,
    business_id: k.businessId,
    category_key: k.categoryKey,
    channel_type: k.channelType,
  })

export const tenantDefaultFilter = (f: {
  infrastructureId: string
  businessId?: string | null
  categoryKey?: string
}) =>
  filtered<TenantDefaultRow<Any>>({
    infrastructure_id: f.infrastructureId,
    business_id: f.businessId,
    category_key: f.categoryKey,
  })

/** Every version of a template key. */
export const templateKey = (k: TemplateKey) =>
  matching<TemplateRow<Any>>({
    infrastructure_id: k.infrastructureId,
    category_key: k.categoryKey,
    channel_type: k.channelType,
    locale: k.locale,
  })

/** The outbox list's filters but its cursor (the cursor's shape is each store's). */
export const outboxFilter = (f: OutboxListFilter) =>
  filtered<OutboxRow<Any>>({
    infrastructure_id: f.infrastructureId,
    business_id: f.businessId,
    channel_id: f.channelId,
    status: f.status,
  })

/** The notification list's column filters (its times, cursor and user are each store's). */
export const notificationFilter = (f: NotificationListFilter) =>
  filtered<NotificationRow<Any>>({
    infrastructure_id: f.infrastructureId,
    business_id: f.businessId,
    category_key: f.categoryKey,
  })
