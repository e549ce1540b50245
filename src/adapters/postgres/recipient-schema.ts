import type {
  CategoryRow as SharedCategoryRow,
  PreferenceRow as SharedPreferenceRow,
  ProfileRow as SharedProfileRow,
  TenantDefaultRow as SharedTenantDefaultRow,
} from '../shared/rows/recipient-rows.js'
import type { PostgresKinds } from './schema.js'

/** Rows of the recipient tables (sql/0020) as `pg` returns them: the shared row types. */
export type ProfileRow = SharedProfileRow<PostgresKinds>
export type CategoryRow = SharedCategoryRow<PostgresKinds>
export type PreferenceRow = SharedPreferenceRow<PostgresKinds>
export type TenantDefaultRow = SharedTenantDefaultRow<PostgresKinds>

export interface RecipientTables {
  messaging_profiles: ProfileRow
  messaging_categories: CategoryRow
  messaging_preferences: PreferenceRow
  messaging_tenant_defaults: TenantDefaultRow
}
