import type { TenantScope } from './tenant-scope.js'

/**
 * Who may see and change recipient data: the rules the SQL policies of profiles,
 * preferences and tenant defaults state (sql/0020), as the memory store and the services
 * apply them. Contact points are personal: a member sees its own profile and choices only.
 */
export const recipientAccess = {
  /** A member its own profile (any grant in the infrastructure); an admin or a worker those of the businesses it reaches. */
  seeProfile(
    scope: TenantScope,
    infrastructureId: string,
    userId: string,
    businessId: string | null,
  ): boolean {
    if (!scope.canAccessInfrastructure(infrastructureId)) return false
    if (scope.hasRole('member')) return userId === scope.userId
    return scope.canAccess(infrastructureId, businessId)
  },

  /** A member its own contact points; an admin the profiles of the businesses it reaches; a worker none. */
  changeProfile(
    scope: TenantScope,
    infrastructureId: string,
    userId: string,
    businessId: string | null,
  ): boolean {
    if (!scope.canAccessInfrastructure(infrastructureId)) return false
    if (scope.hasRole('member')) return userId === scope.userId
    return scope.hasRole('infra_admin') && scope.canAccess(infrastructureId, businessId)
  },

  /** A member its own choices; an admin or a worker anyone's in the infrastructure. */
  seePreference(scope: TenantScope, infrastructureId: string, userId: string): boolean {
    if (!scope.canAccessInfrastructure(infrastructureId)) return false
    return scope.hasRole('member') ? userId === scope.userId : true
  },

  /** A member its own choices; an admin anyone's in the infrastructure; a worker none. */
  changePreference(scope: TenantScope, infrastructureId: string, userId: string): boolean {
    if (!scope.canAccessInfrastructure(infrastructureId)) return false
    return scope.hasRole('member') ? userId === scope.userId : scope.hasRole('infra_admin')
  },

  /** Defaults are no one's personal data: everyone of the infrastructure reads them all. */
  seeDefault(scope: TenantScope, infrastructureId: string): boolean {
    return scope.canAccessInfrastructure(infrastructureId)
  },

  changeDefault(scope: TenantScope, infrastructureId: string, businessId: string | null): boolean {
    return scope.hasRole('infra_admin') && scope.canAccess(infrastructureId, businessId)
  },
} as const
