import { TenantScopeViolationError } from '../../domain/errors.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { ThrottleKey } from '../../ports/throttle-repository.js'

/**
 * The PostgreSQL policy's rule (sql/0080), for the stores without one: role `infra_admin`
 * or `service`, in an infrastructure the scope reaches. Either refusal is
 * TenantScopeViolationError, as a policy refusal is on PostgreSQL.
 */
export function assertThrottleScope(scope: TenantScope, key: ThrottleKey): void {
  if (!inThrottleScope(scope, key)) throw new TenantScopeViolationError(key.infrastructureId)
}

/** Whether the scope may count in the key's infrastructure: an update outside it changes no row. */
export function inThrottleScope(scope: TenantScope, key: ThrottleKey): boolean {
  return scope.hasRole('infra_admin', 'service') && scope.canAccessInfrastructure(key.infrastructureId)
}
