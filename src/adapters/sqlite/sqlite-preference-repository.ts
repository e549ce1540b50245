import { type Kysely, sql } from 'kysely'
import { ForbiddenRoleError, NotFoundError, TenantScopeViolationError } from '../../domain/errors.js'
import type { Preference, TenantDefault } from '../../domain/preference.js'
import { recipientAccess } from '../../domain/recipient-access.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type {
  PreferenceKey,
  PreferenceRepository,
  TenantDefaultKey,
} from '../../ports/preference-repository.js'
import { preferenceKey, tenantDefaultFilter, tenantDefaultKey } from '../shared/rows/keys.js'
import { isForeignKeyViolation } from './sqlite-errors.js'
import { preferenceRow, tenantDefaultRow, toPreference, toTenantDefault } from './sqlite-rows.js'
import { canAccess, canAccessInfrastructure, insertChecked } from './sqlite-scope.js'
import type { SqliteDatabase } from './sqlite-tables.js'

const prefInfra = sql.ref('messaging_preferences.infrastructure_id')
const defaultsInfra = sql.ref('messaging_tenant_defaults.infrastructure_id')
const defaultsBusiness = sql.ref('messaging_tenant_defaults.business_id')

/** Choices and defaults: sql/0020's policies, written into each statement. */
export class SqlitePreferenceRepository implements PreferenceRepository {
  constructor(private readonly db: Kysely<SqliteDatabase>) {}

  async set(scope: TenantScope, p: Preference): Promise<Preference> {
    if (!scope.canAccessInfrastructure(p.infrastructureId))
      throw new TenantScopeViolationError(p.infrastructureId)
    if (!recipientAccess.changePreference(scope, p.infrastructureId, p.userId))
      throw new ForbiddenRoleError("preference.set of another user's", ['infra_admin'], scope.role)
    const row = preferenceRow(p)
    try {
      const written = await insertChecked(
        this.db,
        'messaging_preferences',
        row,
        canAccessInfrastructure(scope, sql.val(p.infrastructureId)),
        sql` on conflict (infrastructure_id, user_id, category_key, channel_type) do update set enabled = ${row.enabled}, updated_by = ${row.updated_by}, updated_at = ${row.updated_at}`,
      )
      if (written === 0) throw new TenantScopeViolationError(p.infrastructureId)
    } catch (e) {
      if (isForeignKeyViolation(e)) throw new NotFoundError('category', p.categoryKey)
      throw e
    }
    return structuredClone(p)
  }

  async clear(scope: TenantScope, key: PreferenceKey): Promise<boolean> {
    if (!recipientAccess.changePreference(scope, key.infrastructureId, key.userId)) return false
    let q = this.db
      .deleteFrom('messaging_preferences')
      .where(preferenceKey(key))
      .where(canAccessInfrastructure(scope, prefInfra))
    if (scope.hasRole('member')) q = q.where('user_id', '=', scope.userId)
    const result = await q.executeTakeFirst()
    return Number(result.numDeletedRows) > 0
  }

  async listForUsers(
    scope: TenantScope,
    infrastructureId: string,
    userIds: readonly string[],
    categoryKey?: string,
  ): Promise<Preference[]> {
    if (userIds.length === 0) return []
    let q = this.db
      .selectFrom('messaging_preferences')
      .selectAll()
      .where('infrastructure_id', '=', infrastructureId)
      .where(
        sql<boolean>`user_id in (select u.value from json_each(${JSON.stringify([...new Set(userIds)])}) as u)`,
      )
      .where(canAccessInfrastructure(scope, prefInfra))
    if (scope.hasRole('member')) q = q.where('user_id', '=', scope.userId)
    if (categoryKey !== undefined) q = q.where('category_key', '=', categoryKey)
    return (await q.execute()).map(toPreference)
  }

  async setDefault(scope: TenantScope, d: TenantDefault): Promise<TenantDefault> {
    if (!scope.canAccessInfrastructure(d.infrastructureId))
      throw new TenantScopeViolationError(d.infrastructureId)
    if (!scope.hasRole('infra_admin'))
      throw new ForbiddenRoleError('preference.set_default', ['infra_admin'], scope.role)
    const row = tenantDefaultRow(d)
    try {
      const written = await insertChecked(
        this.db,
        'messaging_tenant_defaults',
        row,
        canAccess(scope, sql.val(d.infrastructureId), sql.val(d.businessId)),
        sql` on conflict (infrastructure_id, coalesce(business_id, ''), category_key, channel_type) do update set enabled = ${row.enabled}, updated_by = ${row.updated_by}, updated_at = ${row.updated_at}`,
      )
      if (written === 0) throw new TenantScopeViolationError(d.infrastructureId, d.businessId)
    } catch (e) {
      if (isForeignKeyViolation(e)) throw new NotFoundError('category', d.categoryKey)
      throw e
    }
    return structuredClone(d)
  }

  async clearDefault(scope: TenantScope, key: TenantDefaultKey): Promise<boolean> {
    if (!scope.hasRole('infra_admin')) return false
    const q = this.db
      .deleteFrom('messaging_tenant_defaults')
      .where(tenantDefaultKey(key))
      .where(canAccess(scope, defaultsInfra, defaultsBusiness))
    const result = await q.executeTakeFirst()
    return Number(result.numDeletedRows) > 0
  }

  async listDefaults(
    scope: TenantScope,
    filter: { infrastructureId: string; businessId?: string | null; categoryKey?: string },
  ): Promise<TenantDefault[]> {
    const q = this.db
      .selectFrom('messaging_tenant_defaults')
      .selectAll()
      .where(tenantDefaultFilter(filter))
      .where(canAccessInfrastructure(scope, defaultsInfra))
    const rows = await q
      .orderBy('category_key')
      .orderBy('channel_type')
      .orderBy(sql`coalesce(business_id, '')`)
      .execute()
    return rows.map(toTenantDefault)
  }
}
