import type { AuditEntry } from '../../domain/audit.js'
import { TenantScopeViolationError, ValidationError } from '../../domain/errors.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import { type AuditFilter, type AuditLog, isAbout } from '../../ports/audit-log.js'
import { copy, type Journal, type MemoryState } from './memory-state.js'

export class MemoryAuditLog implements AuditLog {
  constructor(
    private readonly state: MemoryState,
    private readonly journal: Journal,
  ) {}

  async appendMany(scope: TenantScope, entries: readonly AuditEntry[]): Promise<void> {
    for (const entry of entries) await this.append(scope, entry)
  }

  async append(scope: TenantScope, entry: AuditEntry): Promise<void> {
    if (entry.actorId !== scope.userId) {
      throw ValidationError.single('actorId', 'must_be_caller', 'an audit entry names its own caller')
    }
    // Only into a tenant the caller reaches: a refusal elsewhere goes to the security log.
    if (!scope.canAccessInfrastructure(entry.infrastructureId)) {
      throw new TenantScopeViolationError(entry.infrastructureId)
    }
    this.journal.push(this.state.audit, copy(entry))
  }

  async list(scope: TenantScope, filter: AuditFilter): Promise<AuditEntry[]> {
    if (!scope.canAccessInfrastructure(filter.infrastructureId) || !scope.hasRole('infra_admin', 'service'))
      return []
    const out: AuditEntry[] = []
    for (let i = this.state.audit.length - 1; i >= 0 && out.length < filter.limit; i--) {
      const e = this.state.audit[i]!
      if (e.infrastructureId !== filter.infrastructureId) continue
      if (filter.action !== undefined && e.action !== filter.action) continue
      if (filter.targetId !== undefined && !isAbout(e, filter.targetId)) continue
      out.push(copy(e))
    }
    return out
  }
}
