import type { Category, CategoryChannel, CategoryDigest, CategoryThrottle } from '../../../domain/category.js'
import type { JsonValue } from '../../../domain/outbox-message.js'
import type { Preference, TenantDefault } from '../../../domain/preference.js'
import type { QuietHours } from '../../../domain/quiet-hours.js'
import type { RecipientProfile } from '../../../domain/recipient-profile.js'
import type { ColumnKinds, Columns, Json, Mode } from './columns.js'

/** messaging_profiles (sql/0020, SQLite v4). */
export interface ProfileRow<K extends ColumnKinds, M extends Mode = 'read'> {
  infrastructure_id: string
  user_id: string
  business_id: string | null
  email: string | null
  phone: string | null
  locale: string | null
  time_zone: string | null
  /** {"start": "22:00", "end": "07:00"} or null (PostgreSQL 0081, SQLite v17). */
  quiet_hours: Json<K, QuietHours, M> | null
  properties: Json<K, { [key: string]: JsonValue }, M>
  created_at: K['time']
  updated_at: K['time']
  updated_by: string
}

/** messaging_categories. */
export interface CategoryRow<K extends ColumnKinds, M extends Mode = 'read'> {
  infrastructure_id: string
  category_key: string
  name: string
  description: string | null
  critical: K['flag']
  channels: Json<K, Record<string, CategoryChannel>, M>
  /** null: no throttle (PostgreSQL 0080, SQLite v16). */
  throttle: Json<K, CategoryThrottle, M> | null
  /** null: no digest (PostgreSQL 0100, SQLite v21). */
  digest: Json<K, CategoryDigest, M> | null
  created_by: string
  created_at: K['time']
  updated_at: K['time']
}

/** messaging_preferences. */
export interface PreferenceRow<K extends ColumnKinds> {
  infrastructure_id: string
  user_id: string
  category_key: string
  channel_type: string
  enabled: K['flag']
  updated_by: string
  updated_at: K['time']
}

/** messaging_tenant_defaults. */
export interface TenantDefaultRow<K extends ColumnKinds> {
  infrastructure_id: string
  business_id: string | null
  category_key: string
  channel_type: string
  enabled: K['flag']
  updated_by: string
  updated_at: K['time']
}

/** Profile, category and preference rows <-> entities, over a store's column kinds. */
export const recipientRows = <K extends ColumnKinds>(c: Columns<K>) => ({
  profileRow: (p: RecipientProfile): ProfileRow<K, 'write'> => ({
    infrastructure_id: p.infrastructureId,
    user_id: p.userId,
    business_id: p.businessId,
    email: p.email,
    phone: p.phone,
    locale: p.locale,
    time_zone: p.timeZone,
    quiet_hours: p.quietHours === null ? null : c.toJson(p.quietHours),
    properties: c.toJson(p.properties),
    created_at: c.toTime(p.createdAt),
    updated_at: c.toTime(p.updatedAt),
    updated_by: p.updatedBy,
  }),
  toProfile: (r: ProfileRow<K>): RecipientProfile => ({
    infrastructureId: r.infrastructure_id,
    userId: r.user_id,
    businessId: r.business_id,
    email: r.email,
    phone: r.phone,
    locale: r.locale,
    timeZone: r.time_zone,
    quietHours: r.quiet_hours === null ? null : c.json<QuietHours>(r.quiet_hours),
    properties: c.json(r.properties),
    createdAt: c.time(r.created_at),
    updatedAt: c.time(r.updated_at),
    updatedBy: r.updated_by,
  }),
  categoryRow: (x: Category): CategoryRow<K, 'write'> => ({
    infrastructure_id: x.infrastructureId,
    category_key: x.key,
    name: x.name,
    description: x.description,
    critical: c.toFlag(x.critical),
    channels: c.toJson(x.channels),
    throttle: x.throttle === null ? null : c.toJson(x.throttle),
    digest: x.digest === null ? null : c.toJson(x.digest),
    created_by: x.createdBy,
    created_at: c.toTime(x.createdAt),
    updated_at: c.toTime(x.updatedAt),
  }),
  toCategory: (r: CategoryRow<K>): Category => ({
    infrastructureId: r.infrastructure_id,
    key: r.category_key,
    name: r.name,
    description: r.description,
    critical: c.flag(r.critical),
    channels: c.json(r.channels),
    throttle: r.throttle === null ? null : c.json<CategoryThrottle>(r.throttle),
    digest: r.digest === null ? null : c.json<CategoryDigest>(r.digest),
    createdBy: r.created_by,
    createdAt: c.time(r.created_at),
    updatedAt: c.time(r.updated_at),
  }),
  preferenceRow: (p: Preference): PreferenceRow<K> => ({
    infrastructure_id: p.infrastructureId,
    user_id: p.userId,
    category_key: p.categoryKey,
    channel_type: p.channelType,
    enabled: c.toFlag(p.enabled),
    updated_by: p.updatedBy,
    updated_at: c.toTime(p.updatedAt),
  }),
  toPreference: (r: PreferenceRow<K>): Preference => ({
    infrastructureId: r.infrastructure_id,
    userId: r.user_id,
    categoryKey: r.category_key,
    channelType: r.channel_type,
    enabled: c.flag(r.enabled),
    updatedBy: r.updated_by,
    updatedAt: c.time(r.updated_at),
  }),
  tenantDefaultRow: (d: TenantDefault): TenantDefaultRow<K> => ({
    infrastructure_id: d.infrastructureId,
    business_id: d.businessId,
    category_key: d.categoryKey,
    channel_type: d.channelType,
    enabled: c.toFlag(d.enabled),
    updated_by: d.updatedBy,
    updated_at: c.toTime(d.updatedAt),
  }),
  toTenantDefault: (r: TenantDefaultRow<K>): TenantDefault => ({
    infrastructureId: r.infrastructure_id,
    businessId: r.business_id,
    categoryKey: r.category_key,
    channelType: r.channel_type,
    enabled: c.flag(r.enabled),
    updatedBy: r.updated_by,
    updatedAt: c.time(r.updated_at),
  }),
})
