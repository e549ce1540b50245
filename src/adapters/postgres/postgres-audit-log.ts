import { type Kysely, sql } from 'kysely'
import type { AuditEntry } from '../../domain/audit.js'
import { TenantScopeViolationError, ValidationError } from '../../domain/errors.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { AuditFilter, AuditLog } from '../../ports/audit-log.js'
import { classify } from './errors.js'
import { auditRow, type MessagingDatabase, toAuditEntry } from './schema.js'

export class PostgresAuditLog implements AuditLog {
  constructor(private readonly db: Kysely<MessagingDatabase>) {}

  async append(scope: TenantScope, entry: AuditEntry): Promise<void> {
    return this.appendMany(scope, [entry])
  }

  /** One multi-row INSERT; the insert policy checks every row, as it checks one. */
  async appendMany(scope: TenantScope, entries: readonly AuditEntry[]): Promise<void> {
    if (entries.length === 0) return
    for (const entry of entries) {
      // The insert policy holds the same rule (actor_id = the claims' sub); checking first
      // gives the caller the domain's error instead of a policy violation.
      if (entry.actorId !== scope.userId) {
        throw ValidationError.single('actorId', 'must_be_caller', 'an audit entry names its own caller')
      }
      if (entry.actorRole !== scope.role) {
        throw ValidationError.single('actorRole', 'must_be_caller', "an audit entry names its caller's role")
      }
      // Only into a tenant the caller reaches (the insert policy's rule since sql/0015): a
      // refusal elsewhere goes to the security log.
      if (!scope.canAccessInfrastructure(entry.infrastructureId)) {
        throw new TenantScopeViolationError(entry.infrastructureId)
      }
    }
    // No RETURNING: the appender may not be allowed to read what it wrote.
    await this.db
      .insertInto('messaging_audit_log')
      .values(entries.map(auditRow))
      .execute()
      .catch((e) =>
        Promise.reject(
          classify(e, {
            conflict: { entity: 'audit entry', key: entries.length === 1 ? entries[0]!.id : 'batch' },
            refused: () =>
              ValidationError.single('actorId', 'must_be_caller', 'an audit entry names its own caller'),
          }),
        ),
      )
  }

  async list(_scope: TenantScope, filter: AuditFilter): Promise<AuditEntry[]> {
    let q = this.db
      .selectFrom('messaging_audit_log')
      .select([
        'infrastructure_id',
        'actor_id',
        'id',
        'business_id',
        'actor_role',
        'action',
        'target_type',
        'target_id',
        'outcome',
        'error_code',
        'details',
        'at',
      ])
      .where('infrastructure_id', '=', filter.infrastructureId)
    if (filter.action !== undefined) q = q.where('action', '=', filter.action)
    // A batch's entry lists its messages: found by containment, within the tenant's entries.
    if (filter.targetId !== undefined) {
      const id = filter.targetId
      q = q.where(
        sql<boolean>`(target_id = ${id} or details -> 'messageIds' @> jsonb_build_array(${id}::text))`,
      )
    }
    const rows = await q.orderBy('at', 'desc').orderBy(sql`seq`, 'desc').limit(filter.limit).execute()
    return rows.map(toAuditEntry)
  }
}
