import type { AuditEntry } from '../domain/audit.js'
import type { TenantScope } from '../domain/tenant-scope.js'

export interface AuditFilter {
  readonly infrastructureId: string
  readonly action?: string
  readonly targetId?: string
  readonly limit: number
}

/** Whether `entry` is about `targetId`: its target, or a message its batch entry lists. */
export function isAbout(entry: AuditEntry, targetId: string): boolean {
  if (entry.targetId === targetId) return true
  const ids = entry.details?.messageIds
  return Array.isArray(ids) && ids.includes(targetId)
}

/**
 * The append-only audit trail. Any principal may append records of its own calls
 * (refused ones included, so a refusal outside the scope is still recorded); reading
 * needs role `infra_admin` or `service` and a grant for the infrastructure.
 */
export interface AuditLog {
  /** Throws ValidationError when `entry.actorId` is not the scope's user. */
  append(scope: TenantScope, entry: AuditEntry): Promise<void>
  /**
   * Several entries, each checked as `append` checks one; all or none (the unit of work).
   * One statement where the store has round trips: a settle batch spanning 100 tenants
   * wrote its 100 entries in 100 round trips (BENCHMARKS.md, G3).
   */
  appendMany(scope: TenantScope, entries: readonly AuditEntry[]): Promise<void>
  /**
   * Newest first. `targetId`: the entries whose target it is, and the batch entries that
   * list it in `details.messageIds` (who queued a message of an `enqueueMany`).
   */
  list(scope: TenantScope, filter: AuditFilter): Promise<AuditEntry[]>
}
