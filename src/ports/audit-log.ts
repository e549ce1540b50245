import type { AuditEntry } from '../domain/audit.js'
import type { TenantScope } from '../domain/tenant-scope.js'

/**
 * The append-only audit trail. Any principal may append records of its own calls
 * (refused ones included, so a refusal outside the scope is still recorded); reading
 * needs role `infra_admin` or `service` and a grant for the infrastructure.
 */
export interface AuditLog {
  /** Throws ValidationError when `entry.actorId` is not the scope's user. */
  append(scope: TenantScope, entry: AuditEntry): Promise<void>
  /** Newest first. */
  list(
    scope: TenantScope,
    filter: { infrastructureId: string; action?: string; limit: number },
  ): Promise<AuditEntry[]>
}
