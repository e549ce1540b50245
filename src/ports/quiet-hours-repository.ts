import type { QuietHoursDefault } from '../domain/quiet-hours.js'
import type { TenantScope } from '../domain/tenant-scope.js'

/**
 * An infrastructure's default quiet hours. Everyone of the infrastructure reads it; its
 * `infra_admin` with an infrastructure-wide grant writes it. A write outside that changes
 * nothing and throws TenantScopeViolationError (ForbiddenRoleError for another role).
 */
export interface QuietHoursRepository {
  /** null when none is set, or outside the scope. */
  findDefault(scope: TenantScope, infrastructureId: string): Promise<QuietHoursDefault | null>
  /** Sets (or replaces) the default. */
  saveDefault(scope: TenantScope, value: QuietHoursDefault): Promise<QuietHoursDefault>
  /** Removes it; false when there was none. */
  removeDefault(scope: TenantScope, infrastructureId: string): Promise<boolean>
}
