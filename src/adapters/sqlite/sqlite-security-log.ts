import { type Kysely, sql } from 'kysely'
import { type SecurityEvent, type SecurityRefusal, securityWindowOf } from '../../domain/security-log.js'
import type { Role, TenantScope } from '../../domain/tenant-scope.js'
import type { SecurityLog, SecurityLogFilter } from '../../ports/security-log.js'
import type { SqliteDatabase } from './sqlite-tables.js'

/** Refusals outside the caller's scope: one upsert per refusal into the caller's row of the hour. */
export class SqliteSecurityLog implements SecurityLog {
  constructor(private readonly db: Kysely<SqliteDatabase>) {}

  async recordRefusal(scope: TenantScope, r: SecurityRefusal): Promise<void> {
    const at = r.at.getTime()
    await this.db
      .insertInto('messaging_security_log')
      .values({
        actor_id: scope.userId,
        actor_role: scope.role,
        window_start: securityWindowOf(r.at).getTime(),
        action: r.action,
        error_code: r.errorCode,
        refusals: 1,
        first_at: at,
        last_at: at,
        last_infrastructure_id: r.infrastructureId,
        last_business_id: r.businessId,
      })
      .onConflict((oc) =>
        oc.columns(['actor_id', 'actor_role', 'window_start', 'action', 'error_code']).doUpdateSet({
          refusals: sql`refusals + 1`,
          last_at: sql`excluded.last_at`,
          last_infrastructure_id: sql`excluded.last_infrastructure_id`,
          last_business_id: sql`excluded.last_business_id`,
        }),
      )
      .execute()
  }
}

/** The log newest refusal first (what operators read; no scope, host code only). */
export async function listSecurityEvents(
  db: Kysely<SqliteDatabase>,
  filter: SecurityLogFilter,
): Promise<SecurityEvent[]> {
  let q = db.selectFrom('messaging_security_log').selectAll()
  if (filter.since !== undefined) q = q.where('last_at', '>=', filter.since.getTime())
  if (filter.actorId !== undefined) q = q.where('actor_id', '=', filter.actorId)
  const rows = await q
    .orderBy('last_at', 'desc')
    .orderBy('actor_id')
    .orderBy('actor_role')
    .orderBy('window_start')
    .orderBy('action')
    .orderBy('error_code')
    .limit(filter.limit)
    .execute()
  return rows.map((r) => ({
    actorId: r.actor_id,
    actorRole: r.actor_role as Role,
    windowStart: new Date(r.window_start),
    action: r.action,
    errorCode: r.error_code,
    refusals: r.refusals,
    firstAt: new Date(r.first_at),
    lastAt: new Date(r.last_at),
    lastInfrastructureId: r.last_infrastructure_id,
    lastBusinessId: r.last_business_id,
  }))
}
