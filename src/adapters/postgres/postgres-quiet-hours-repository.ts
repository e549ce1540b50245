import { type Kysely, sql } from 'kysely'
import { ForbiddenRoleError, TenantScopeViolationError } from '../../domain/errors.js'
import type { QuietHours, QuietHoursDefault } from '../../domain/quiet-hours.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { QuietHoursRepository } from '../../ports/quiet-hours-repository.js'
import { classify } from './errors.js'
import { json, type MessagingDatabase } from './schema.js'

interface Row {
  infrastructure_id: string
  quiet_hours: QuietHours
  updated_by: string
  updated_at: Date
}

const toDefault = (r: Row): QuietHoursDefault => ({
  infrastructureId: r.infrastructure_id,
  quietHours: r.quiet_hours,
  updatedBy: r.updated_by,
  updatedAt: r.updated_at,
})

/** Infrastructures' default quiet hours (sql/0083). Scope and role are the policies' to decide. */
export class PostgresQuietHoursRepository implements QuietHoursRepository {
  constructor(private readonly db: Kysely<MessagingDatabase>) {}

  async findDefault(_scope: TenantScope, infrastructureId: string): Promise<QuietHoursDefault | null> {
    const { rows } = await sql<Row>`SELECT infrastructure_id, quiet_hours, updated_by, updated_at
      FROM messaging_quiet_hours_defaults WHERE infrastructure_id = ${infrastructureId}`.execute(this.db)
    const row = rows[0]
    return row ? toDefault(row) : null
  }

  async saveDefault(scope: TenantScope, value: QuietHoursDefault): Promise<QuietHoursDefault> {
    const { rows } = await sql<Row>`
      INSERT INTO messaging_quiet_hours_defaults AS d (infrastructure_id, quiet_hours, updated_by, updated_at)
      VALUES (${value.infrastructureId}, ${json(value.quietHours)}::jsonb, ${value.updatedBy}, ${value.updatedAt})
      ON CONFLICT ON CONSTRAINT messaging_quiet_hours_defaults_pkey DO UPDATE
        SET quiet_hours = excluded.quiet_hours, updated_by = excluded.updated_by, updated_at = excluded.updated_at
      RETURNING d.infrastructure_id, d.quiet_hours, d.updated_by, d.updated_at`
      .execute(this.db)
      .catch((e) => Promise.reject(classify(e, refused(scope, value.infrastructureId))))
    const row = rows[0]
    if (!row) throw new TenantScopeViolationError(value.infrastructureId)
    return toDefault(row)
  }

  async removeDefault(scope: TenantScope, infrastructureId: string): Promise<boolean> {
    // The policy hides the row from a non-writer: say so rather than "there was none".
    if (!scope.canAccess(infrastructureId, null)) throw new TenantScopeViolationError(infrastructureId)
    if (!scope.hasRole('infra_admin'))
      throw new ForbiddenRoleError('quiet_hours.set_default', ['infra_admin'], scope.role)
    const r =
      await sql`DELETE FROM messaging_quiet_hours_defaults WHERE infrastructure_id = ${infrastructureId}`
        .execute(this.db)
        .catch((e) => Promise.reject(classify(e, refused(scope, infrastructureId))))
    return Number(r.numAffectedRows ?? 0) > 0
  }
}

const refused = (scope: TenantScope, infrastructureId: string) => ({
  refused: () =>
    scope.canAccess(infrastructureId, null)
      ? new ForbiddenRoleError('quiet_hours.set_default', ['infra_admin'], scope.role)
      : new TenantScopeViolationError(infrastructureId),
})
