import type { Preference, TenantDefault } from '../domain/preference.js'
import type { TenantScope } from '../domain/tenant-scope.js'

export interface PreferenceKey {
  readonly infrastructureId: string
  readonly userId: string
  readonly categoryKey: string
  readonly channelType: string
}

export interface TenantDefaultKey {
  readonly infrastructureId: string
  readonly businessId: string | null
  readonly categoryKey: string
  readonly channelType: string
}

/**
 * Users' own choices and the tenant's defaults. A member reads and writes only its own
 * choices; an `infra_admin` reads and writes anyone's in its infrastructure, and the
 * defaults of the businesses its grants reach; `service` reads. Defaults are readable by
 * everyone of the infrastructure (the infrastructure-wide ones, and their own business's).
 * Each row names a category of its own infrastructure (NotFoundError otherwise).
 */
export interface PreferenceRepository {
  /** Inserts or replaces the choice. TenantScopeViolationError / ForbiddenRoleError when not the scope's to make. */
  set(scope: TenantScope, preference: Preference): Promise<Preference>
  /** false when there was no choice (or it is not the scope's). */
  clear(scope: TenantScope, key: PreferenceKey): Promise<boolean>
  /** The visible choices of `userIds` (up to 10,000), optionally of one category, in no particular order. */
  listForUsers(
    scope: TenantScope,
    infrastructureId: string,
    userIds: readonly string[],
    categoryKey?: string,
  ): Promise<Preference[]>
  /** Inserts or replaces a default (`infra_admin` within `tenant_can_access(infrastructure, business)`). */
  setDefault(scope: TenantScope, value: TenantDefault): Promise<TenantDefault>
  clearDefault(scope: TenantScope, key: TenantDefaultKey): Promise<boolean>
  /** Ordered by category, channel type, then infrastructure-wide before business defaults. */
  listDefaults(
    scope: TenantScope,
    filter: {
      readonly infrastructureId: string
      readonly businessId?: string | null
      readonly categoryKey?: string
    },
  ): Promise<TenantDefault[]>
}
