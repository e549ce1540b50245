import { type Kysely, sql } from 'kysely'
import type { AuditEntry } from '../../domain/audit.js'
import { TenantScopeViolationError, ValidationError } from '../../domain/errors.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { AuditFilter, AuditLog } from '../../ports/audit-log.js'
import { auditRow, toAuditEntry } from './sqlite-rows.js'
import { canAccessInfrastructure, insertChecked } from './sqlite-scope.js'
import type { SqliteDatabase } from './sqlite-tables.js'

/**
 * The append-only audit trail (triggers refuse UPDATE and DELETE). An append names its
 * caller and lands only in an infrastructure the caller reaches (as PostgreSQL's insert
 * policy); a refusal outside the scope goes to the security log. Reads are scoped to the
 * infrastructure.
 */
export class SqliteAuditLog implements AuditLog {
  constructor(private readonly db: Kysely<SqliteDatabase>) {}

  /** No round trips here: one checked insert per entry, in the unit's transaction. */
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
    const written = await insertChecked(
      this.db,
      'messaging_audit_log',
      auditRow(entry),
      // The fleet worker reaches every tenant: its check is the caller's alone.
      scope.isFleet
        ? sql`${entry.actorId} = ${scope.userId}`
        : sql`${entry.actorId} = ${scope.userId} and ${canAccessInfrastructure(scope, sql.val(entry.infrastructureId))}`,
    )
    if (written === 0) {
      throw ValidationError.single('actorId', 'must_be_caller', 'an audit entry names its own caller')
    }
  }

  async list(scope: TenantScope, filter: AuditFilter): Promise<AuditEntry[]> {
    if (!scope.hasRole('infra_admin', 'service')) return []
    let q = this.db
      .selectFrom('messaging_audit_log')
      .selectAll()
      .where('infrastructure_id', '=', filter.infrastructureId)
      .where(canAccessInfrastructure(scope, sql.ref('messaging_audit_log.infrastructure_id')))
    if (filter.action !== undefined) q = q.where('action', '=', filter.action)
    if (filter.targetId !== undefined) {
      const id = filter.targetId
      q = q.where(
        sql<boolean>`(target_id = ${id} or exists (select 1 from json_each(details, '$.messageIds') as j where j.value = ${id}))`,
      )
    }
    // Newest first; records of one instant in reverse append order (rowid only grows, as
    // rows are never deleted), as PostgreSQL orders by (at, seq).
    const rows = await q
      .orderBy('at', 'desc')
      .orderBy(sql`rowid`, 'desc')
      .limit(Math.max(0, filter.limit))
      .execute()
    return rows.map(toAuditEntry)
  }
}
