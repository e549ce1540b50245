import { type Kysely, sql } from 'kysely'
import type { QuietHours, QuietHoursDefault } from '../../domain/quiet-hours.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { QuietHoursRepository } from '../../ports/quiet-hours-repository.js'
import { assertQuietHoursDefaultWriter } from '../shared/quiet-hours-scope.js'
import { canAccess, canAccessInfrastructure } from './sqlite-scope.js'
import type { SqliteDatabase } from './sqlite-tables.js'

interface Row {
  infrastructure_id: string
  quiet_hours: string
  updated_by: string
  updated_at: number
}

const toDefault = (r: Row): QuietHoursDefault => ({
  infrastructureId: r.infrastructure_id,
  quietHours: JSON.parse(r.quiet_hours) as QuietHours,
  updatedBy: r.updated_by,
  updatedAt: new Date(r.updated_at),
})

/** Infrastructures' default quiet hours: sql/0083's policies, written into each statement. */
export class SqliteQuietHoursRepository implements QuietHoursRepository {
  constructor(private readonly db: Kysely<SqliteDatabase>) {}

  async findDefault(scope: TenantScope, infrastructureId: string): Promise<QuietHoursDefault | null> {
    const { rows } = await sql<Row>`select infrastructure_id, quiet_hours, updated_by, updated_at
      from messaging_quiet_hours_defaults
      where infrastructure_id = ${infrastructureId}
        and ${canAccessInfrastructure(scope, sql.ref('infrastructure_id'))}`.execute(this.db)
    const row = rows[0]
    return row ? toDefault(row) : null
  }

  async saveDefault(scope: TenantScope, value: QuietHoursDefault): Promise<QuietHoursDefault> {
    assertQuietHoursDefaultWriter(scope, value.infrastructureId)
    await sql`insert into messaging_quiet_hours_defaults (infrastructure_id, quiet_hours, updated_by, updated_at)
      select ${value.infrastructureId}, ${JSON.stringify(value.quietHours)}, ${value.updatedBy}, ${value.updatedAt.getTime()}
       where ${canAccess(scope, sql.val(value.infrastructureId), sql.lit(null))}
      on conflict (infrastructure_id) do update
        set quiet_hours = excluded.quiet_hours, updated_by = excluded.updated_by, updated_at = excluded.updated_at`.execute(
      this.db,
    )
    return structuredClone(value)
  }

  async removeDefault(scope: TenantScope, infrastructureId: string): Promise<boolean> {
    assertQuietHoursDefaultWriter(scope, infrastructureId)
    const r = await sql`delete from messaging_quiet_hours_defaults
      where infrastructure_id = ${infrastructureId}
        and ${canAccess(scope, sql.ref('infrastructure_id'), sql.lit(null))}`.execute(this.db)
    return Number(r.numAffectedRows ?? 0) > 0
  }
}
