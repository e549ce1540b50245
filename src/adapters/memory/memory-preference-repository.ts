import { ForbiddenRoleError, NotFoundError, TenantScopeViolationError } from '../../domain/errors.js'
import type { Preference, TenantDefault } from '../../domain/preference.js'
import { recipientAccess } from '../../domain/recipient-access.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type {
  PreferenceKey,
  PreferenceRepository,
  TenantDefaultKey,
} from '../../ports/preference-repository.js'
import {
  categoryKeyOf,
  copy,
  type Journal,
  type MemoryState,
  preferenceKeyOf,
  tenantDefaultKeyOf,
} from './memory-state.js'

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

export class MemoryPreferenceRepository implements PreferenceRepository {
  constructor(
    private readonly state: MemoryState,
    private readonly journal: Journal,
  ) {}

  /** The composite foreign key: the category must exist in the row's own infrastructure. */
  private requireCategory(infrastructureId: string, categoryKey: string): void {
    if (!this.state.categories.has(categoryKeyOf(infrastructureId, categoryKey)))
      throw new NotFoundError('category', categoryKey)
  }

  async set(scope: TenantScope, p: Preference): Promise<Preference> {
    if (!scope.canAccessInfrastructure(p.infrastructureId))
      throw new TenantScopeViolationError(p.infrastructureId)
    if (!recipientAccess.changePreference(scope, p.infrastructureId, p.userId))
      throw new ForbiddenRoleError("preference.set of another user's", ['infra_admin'], scope.role)
    this.requireCategory(p.infrastructureId, p.categoryKey)
    this.journal.setIn(this.state.preferences, preferenceKeyOf(p), copy(p))
    return copy(p)
  }

  async clear(scope: TenantScope, key: PreferenceKey): Promise<boolean> {
    if (!recipientAccess.changePreference(scope, key.infrastructureId, key.userId)) return false
    const k = preferenceKeyOf(key)
    if (!this.state.preferences.has(k)) return false
    this.journal.deleteIn(this.state.preferences, k)
    return true
  }

  async listForUsers(
    scope: TenantScope,
    infrastructureId: string,
    userIds: readonly string[],
    categoryKey?: string,
  ): Promise<Preference[]> {
    const users = new Set(userIds)
    return [...this.state.preferences.values()]
      .filter(
        (p) =>
          p.infrastructureId === infrastructureId &&
          users.has(p.userId) &&
          (categoryKey === undefined || p.categoryKey === categoryKey) &&
          recipientAccess.seePreference(scope, p.infrastructureId, p.userId),
      )
      .map(copy)
  }

  async setDefault(scope: TenantScope, d: TenantDefault): Promise<TenantDefault> {
    if (!scope.canAccessInfrastructure(d.infrastructureId))
      throw new TenantScopeViolationError(d.infrastructureId)
    if (!scope.hasRole('infra_admin'))
      throw new ForbiddenRoleError('preference.set_default', ['infra_admin'], scope.role)
    if (!recipientAccess.changeDefault(scope, d.infrastructureId, d.businessId))
      throw new TenantScopeViolationError(d.infrastructureId, d.businessId)
    this.requireCategory(d.infrastructureId, d.categoryKey)
    this.journal.setIn(this.state.tenantDefaults, tenantDefaultKeyOf(d), copy(d))
    return copy(d)
  }

  async clearDefault(scope: TenantScope, key: TenantDefaultKey): Promise<boolean> {
    if (!recipientAccess.changeDefault(scope, key.infrastructureId, key.businessId)) return false
    const k = tenantDefaultKeyOf(key)
    if (!this.state.tenantDefaults.has(k)) return false
    this.journal.deleteIn(this.state.tenantDefaults, k)
    return true
  }

  async listDefaults(
    scope: TenantScope,
    filter: { infrastructureId: string; businessId?: string | null; categoryKey?: string },
  ): Promise<TenantDefault[]> {
    return [...this.state.tenantDefaults.values()]
      .filter(
        (d) =>
          d.infrastructureId === filter.infrastructureId &&
          (filter.businessId === undefined || d.businessId === filter.businessId) &&
          (filter.categoryKey === undefined || d.categoryKey === filter.categoryKey) &&
          recipientAccess.seeDefault(scope, d.infrastructureId),
      )
      .sort(
        (a, b) =>
          compare(a.categoryKey, b.categoryKey) ||
          compare(a.channelType, b.channelType) ||
          compare(a.businessId ?? '', b.businessId ?? ''),
      )
      .map(copy)
  }
}
