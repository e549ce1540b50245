import { type Kysely, sql } from 'kysely'
import { ForbiddenRoleError, TenantScopeViolationError } from '../../domain/errors.js'
import type { Preference, TenantDefault } from '../../domain/preference.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type {
  PreferenceKey,
  PreferenceRepository,
  TenantDefaultKey,
} from '../../ports/preference-repository.js'
import { preferenceKey, tenantDefaultFilter, tenantDefaultKey } from '../shared/rows/keys.js'
import { classify } from './errors.js'
import {
  type MessagingDatabase,
  preferenceRow,
  tenantDefaultRow,
  toPreference,
  toTenantDefault,
} from './schema.js'

/** Users' choices and the tenant's defaults. Scope and role are the policies' to decide. */
export class PostgresPreferenceRepository implements PreferenceRepository {
  constructor(private readonly db: Kysely<MessagingDatabase>) {}

  async set(scope: TenantScope, p: Preference): Promise<Preference> {
    try {
      const row = await this.db
        .insertInto('messaging_preferences')
        .values(preferenceRow(p))
        .onConflict((oc) =>
          oc.columns(['infrastructure_id', 'user_id', 'category_key', 'channel_type']).doUpdateSet({
            enabled: p.enabled,
            updated_by: p.updatedBy,
            updated_at: p.updatedAt,
          }),
        )
        .returningAll()
        .executeTakeFirstOrThrow()
      return toPreference(row)
    } catch (e) {
      throw classify(e, {
        missing: { entity: 'category', id: p.categoryKey },
        refused: () =>
          scope.canAccessInfrastructure(p.infrastructureId)
            ? new ForbiddenRoleError("preference.set of another user's", ['infra_admin'], scope.role)
            : new TenantScopeViolationError(p.infrastructureId),
      })
    }
  }

  async clear(_scope: TenantScope, key: PreferenceKey): Promise<boolean> {
    const rows = await this.db
      .deleteFrom('messaging_preferences')
      .where(preferenceKey(key))
      .returning('user_id')
      .execute()
    return rows.length > 0
  }

  async listForUsers(
    _scope: TenantScope,
    infrastructureId: string,
    userIds: readonly string[],
    categoryKey?: string,
  ): Promise<Preference[]> {
    if (userIds.length === 0) return []
    let q = this.db
      .selectFrom('messaging_preferences')
      .selectAll()
      .where('infrastructure_id', '=', infrastructureId)
      .where(sql<boolean>`user_id = any(${[...new Set(userIds)]}::uuid[])`)
    if (categoryKey !== undefined) q = q.where('category_key', '=', categoryKey)
    const rows = await q.execute()
    return rows.map(toPreference)
  }

  async setDefault(scope: TenantScope, d: TenantDefault): Promise<TenantDefault> {
    try {
      const row = await this.db
        .insertInto('messaging_tenant_defaults')
        .values(tenantDefaultRow(d))
        .onConflict((oc) =>
          oc.columns(['infrastructure_id', 'business_id', 'category_key', 'channel_type']).doUpdateSet({
            enabled: d.enabled,
            updated_by: d.updatedBy,
            updated_at: d.updatedAt,
          }),
        )
        .returningAll()
        .executeTakeFirstOrThrow()
      return toTenantDefault(row)
    } catch (e) {
      throw classify(e, {
        missing: { entity: 'category', id: d.categoryKey },
        refused: () =>
          !scope.canAccessInfrastructure(d.infrastructureId)
            ? new TenantScopeViolationError(d.infrastructureId)
            : !scope.hasRole('infra_admin')
              ? new ForbiddenRoleError('preference.set_default', ['infra_admin'], scope.role)
              : new TenantScopeViolationError(d.infrastructureId, d.businessId),
      })
    }
  }

  async clearDefault(_scope: TenantScope, key: TenantDefaultKey): Promise<boolean> {
    const q = this.db.deleteFrom('messaging_tenant_defaults').where(tenantDefaultKey(key))
    const rows = await q.returning('category_key').execute()
    return rows.length > 0
  }

  async listDefaults(
    _scope: TenantScope,
    filter: { infrastructureId: string; businessId?: string | null; categoryKey?: string },
  ): Promise<TenantDefault[]> {
    const q = this.db.selectFrom('messaging_tenant_defaults').selectAll().where(tenantDefaultFilter(filter))
    const rows = await q
      .orderBy('category_key')
      .orderBy('channel_type')
      .orderBy(sql`business_id nulls first`)
      .execute()
    return rows.map(toTenantDefault)
  }
}
