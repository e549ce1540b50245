import { TenantScopeViolationError } from '../../domain/errors.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { RateBucketKey } from '../../ports/rate-bucket-repository.js'

/**
 * The PostgreSQL policies' rule (sql/0041), for the stores without them: role `service`, in
 * an infrastructure the scope reaches. Either refusal is TenantScopeViolationError, as a
 * policy refusal is on PostgreSQL (it cannot tell the two apart); the domain has already
 * refused a wrong role with ForbiddenRoleError before any store is asked.
 */
export function assertBucketScope(scope: TenantScope, key: RateBucketKey): void {
  if (!scope.hasRole('service') || !scope.canAccessInfrastructure(key.infrastructureId))
    throw new TenantScopeViolationError(key.infrastructureId)
}
