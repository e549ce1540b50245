import { TenantScopeViolationError } from '../../domain/errors.js'
import type { TenantScope } from '../../domain/tenant-scope.js'

/**
 * Who may do what with status webhook endpoints, as sql/0130's policies say it, for the
 * stores without row-level security: admins of the tenant write, admins and services read.
 */
export const endpointWriter = (scope: TenantScope, infrastructureId: string): boolean =>
  !scope.isFleet && scope.hasRole('infra_admin') && scope.canAccessInfrastructure(infrastructureId)

export const endpointReader = (scope: TenantScope, infrastructureId: string): boolean =>
  scope.hasRole('infra_admin', 'service') && scope.canAccessInfrastructure(infrastructureId)

/** A create outside the writer's reach is refused as the insert policy refuses it. */
export function assertEndpointWriter(scope: TenantScope, infrastructureId: string): void {
  if (!endpointWriter(scope, infrastructureId)) throw new TenantScopeViolationError(infrastructureId)
}
