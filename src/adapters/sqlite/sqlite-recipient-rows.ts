import type { Selectable } from 'kysely'
import type { Category, CategoryChannel } from '../../domain/category.js'
import type { JsonValue } from '../../domain/outbox-message.js'
import type { Preference, TenantDefault } from '../../domain/preference.js'
import type { RecipientProfile } from '../../domain/recipient-profile.js'
import type {
  CategoriesTable,
  PreferencesTable,
  ProfilesTable,
  TenantDefaultsTable,
} from './sqlite-tables.js'

/** Rows <-> entities of the recipient tables. Dates are epoch milliseconds, booleans 0/1, JSON text. */

export const profileRow = (p: RecipientProfile): ProfilesTable => ({
  infrastructure_id: p.infrastructureId,
  user_id: p.userId,
  business_id: p.businessId,
  email: p.email,
  phone: p.phone,
  locale: p.locale,
  time_zone: p.timeZone,
  properties: JSON.stringify(p.properties),
  created_at: p.createdAt.getTime(),
  updated_at: p.updatedAt.getTime(),
  updated_by: p.updatedBy,
})

export const toProfile = (r: Selectable<ProfilesTable>): RecipientProfile => ({
  infrastructureId: r.infrastructure_id,
  userId: r.user_id,
  businessId: r.business_id,
  email: r.email,
  phone: r.phone,
  locale: r.locale,
  timeZone: r.time_zone,
  properties: JSON.parse(r.properties) as { [key: string]: JsonValue },
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
  updatedBy: r.updated_by,
})

export const categoryRow = (c: Category): CategoriesTable => ({
  infrastructure_id: c.infrastructureId,
  category_key: c.key,
  name: c.name,
  description: c.description,
  critical: c.critical ? 1 : 0,
  channels: JSON.stringify(c.channels),
  created_by: c.createdBy,
  created_at: c.createdAt.getTime(),
  updated_at: c.updatedAt.getTime(),
})

export const toCategory = (r: Selectable<CategoriesTable>): Category => ({
  infrastructureId: r.infrastructure_id,
  key: r.category_key,
  name: r.name,
  description: r.description,
  critical: r.critical === 1,
  channels: JSON.parse(r.channels) as Record<string, CategoryChannel>,
  createdBy: r.created_by,
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
})

export const preferenceRow = (p: Preference): PreferencesTable => ({
  infrastructure_id: p.infrastructureId,
  user_id: p.userId,
  category_key: p.categoryKey,
  channel_type: p.channelType,
  enabled: p.enabled ? 1 : 0,
  updated_by: p.updatedBy,
  updated_at: p.updatedAt.getTime(),
})

export const toPreference = (r: Selectable<PreferencesTable>): Preference => ({
  infrastructureId: r.infrastructure_id,
  userId: r.user_id,
  categoryKey: r.category_key,
  channelType: r.channel_type,
  enabled: r.enabled === 1,
  updatedBy: r.updated_by,
  updatedAt: new Date(r.updated_at),
})

export const tenantDefaultRow = (d: TenantDefault): TenantDefaultsTable => ({
  infrastructure_id: d.infrastructureId,
  business_id: d.businessId,
  category_key: d.categoryKey,
  channel_type: d.channelType,
  enabled: d.enabled ? 1 : 0,
  updated_by: d.updatedBy,
  updated_at: d.updatedAt.getTime(),
})

export const toTenantDefault = (r: Selectable<TenantDefaultsTable>): TenantDefault => ({
  infrastructureId: r.infrastructure_id,
  businessId: r.business_id,
  categoryKey: r.category_key,
  channelType: r.channel_type,
  enabled: r.enabled === 1,
  updatedBy: r.updated_by,
  updatedAt: new Date(r.updated_at),
})
