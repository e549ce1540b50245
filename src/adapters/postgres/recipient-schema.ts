import type { Category, CategoryChannel } from '../../domain/category.js'
import type { JsonValue } from '../../domain/outbox-message.js'
import type { Preference, TenantDefault } from '../../domain/preference.js'
import type { RecipientProfile } from '../../domain/recipient-profile.js'

/** Rows of the recipient tables (sql/0020) as `pg` returns them. */
export interface ProfileRow {
  infrastructure_id: string
  user_id: string
  business_id: string | null
  email: string | null
  phone: string | null
  locale: string | null
  time_zone: string | null
  properties: { [key: string]: JsonValue }
  created_at: Date
  updated_at: Date
  updated_by: string
}

export interface CategoryRow {
  infrastructure_id: string
  category_key: string
  name: string
  description: string | null
  critical: boolean
  channels: Record<string, CategoryChannel>
  created_by: string
  created_at: Date
  updated_at: Date
}

export interface PreferenceRow {
  infrastructure_id: string
  user_id: string
  category_key: string
  channel_type: string
  enabled: boolean
  updated_by: string
  updated_at: Date
}

export interface TenantDefaultRow {
  infrastructure_id: string
  business_id: string | null
  category_key: string
  channel_type: string
  enabled: boolean
  updated_by: string
  updated_at: Date
}

export interface RecipientTables {
  messaging_profiles: ProfileRow
  messaging_categories: CategoryRow
  messaging_preferences: PreferenceRow
  messaging_tenant_defaults: TenantDefaultRow
}

export const toProfile = (r: ProfileRow): RecipientProfile => ({
  infrastructureId: r.infrastructure_id,
  userId: r.user_id,
  businessId: r.business_id,
  email: r.email,
  phone: r.phone,
  locale: r.locale,
  timeZone: r.time_zone,
  properties: r.properties,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  updatedBy: r.updated_by,
})

export const toCategory = (r: CategoryRow): Category => ({
  infrastructureId: r.infrastructure_id,
  key: r.category_key,
  name: r.name,
  description: r.description,
  critical: r.critical,
  channels: r.channels,
  createdBy: r.created_by,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
})

export const toPreference = (r: PreferenceRow): Preference => ({
  infrastructureId: r.infrastructure_id,
  userId: r.user_id,
  categoryKey: r.category_key,
  channelType: r.channel_type,
  enabled: r.enabled,
  updatedBy: r.updated_by,
  updatedAt: r.updated_at,
})

export const toTenantDefault = (r: TenantDefaultRow): TenantDefault => ({
  infrastructureId: r.infrastructure_id,
  businessId: r.business_id,
  categoryKey: r.category_key,
  channelType: r.channel_type,
  enabled: r.enabled,
  updatedBy: r.updated_by,
  updatedAt: r.updated_at,
})
