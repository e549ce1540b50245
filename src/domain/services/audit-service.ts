import type { AuditEntry } from '../audit.js'
import { type ListAuditInput, listAuditInput } from '../inputs.js'
import { assertRole, assertTenantScope, type TenantScope } from '../tenant-scope.js'
import { parseInput } from '../validation.js'
import type { ServiceContext } from './context.js'

/** Reads the audit trail of one infrastructure: `infra_admin` and `service` only. */
export class AuditService {
  constructor(private readonly ctx: ServiceContext) {}

  async list(scope: TenantScope, raw: ListAuditInput): Promise<AuditEntry[]> {
    const input = parseInput(listAuditInput, raw)
    assertTenantScope(scope, input.infrastructureId)
    assertRole(scope, 'audit.list', 'infra_admin', 'service')
    return this.ctx.uow.run(scope, (r) =>
      r.audit.list(scope, {
        infrastructureId: input.infrastructureId,
        limit: input.limit,
        ...(input.action !== undefined && { action: input.action }),
      }),
    )
  }
}
