import { ForbiddenRoleError, TenantScopeViolationError } from '../../domain/errors.js'
import type { TenantScope } from '../../domain/tenant-scope.js'

/**
 * The write policy of sql/0083, for the stores without one: an `infra_admin` with an
 * infrastructure-wide grant (a business's admin does not set the whole tenant's default).
 */
export function assertQuietHoursDefaultWriter(scope: TenantScope, infrastructureId: string): void {
  if (!scope.canAccess(infrastructureId, null)) throw new TenantScopeViolationError(infrastructureId)
  if (!scope.hasRole('infra_admin'))
    throw new ForbiddenRoleError('quiet_hours.set_default', ['infra_admin'], scope.role)
}
