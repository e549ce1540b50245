import { z } from 'zod'
import { AUDIT_TARGET_TYPES, type AuditEntry } from '../domain/audit.js'
import type { ErrorCode } from '../domain/errors.js'
import { tenantIdSchema } from '../domain/ids.js'
import { type ListAuditInput, listAuditInput } from '../domain/inputs.js'
import { assertRole, assertTenantScope, type TenantScope } from '../domain/tenant-scope.js'
import { parseInput } from '../domain/validation.js'
import { auditEntry, type ServiceContext } from './context.js'

/** A call refused before it reached a service (the HTTP surface's enqueue quota). */
export interface Refusal {
  readonly infrastructureId: string
  readonly businessId?: string | null
  /** The action the call would have been: `outbox.enqueue`, ... */
  readonly action: string
  readonly targetType: AuditEntry['targetType']
  readonly errorCode: ErrorCode
  readonly details?: { readonly [key: string]: string | number | boolean | null }
}

const refusalSchema = z.object({
  infrastructureId: tenantIdSchema,
  businessId: tenantIdSchema.nullable().default(null),
  action: z.string().min(1).max(100),
  targetType: z.enum(AUDIT_TARGET_TYPES),
  errorCode: z.string().min(1).max(100),
  details: z
    .record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]))
    .nullable()
    .default(null),
})

/** Reads the audit trail of one infrastructure: `infra_admin` and `service` only. */
export class AuditService {
  constructor(private readonly ctx: ServiceContext) {}

  /**
   * Appends the `refused` entry of a call its host refused before any service ran (a spent
   * quota, say). The actor is the caller; only a tenant its scope reaches, so nobody writes
   * into another tenant's trail.
   */
  async recordRefusal(scope: TenantScope, raw: Refusal): Promise<void> {
    const r = parseInput(refusalSchema, raw)
    assertTenantScope(scope, r.infrastructureId)
    const entry = auditEntry(
      this.ctx,
      scope,
      {
        infrastructureId: r.infrastructureId,
        businessId: r.businessId,
        action: r.action,
        targetType: r.targetType,
        details: r.details,
      },
      r.errorCode,
    )
    await this.ctx.uow.run(scope, (repos) => repos.audit.append(scope, entry))
  }

  async list(scope: TenantScope, raw: ListAuditInput): Promise<AuditEntry[]> {
    const input = parseInput(listAuditInput, raw)
    assertTenantScope(scope, input.infrastructureId)
    assertRole(scope, 'audit.list', 'infra_admin', 'service')
    return this.ctx.uow.run(scope, (r) =>
      r.audit.list(scope, {
        infrastructureId: input.infrastructureId,
        limit: input.limit,
        ...(input.action !== undefined && { action: input.action }),
        ...(input.targetId !== undefined && { targetId: input.targetId }),
      }),
    )
  }
}
