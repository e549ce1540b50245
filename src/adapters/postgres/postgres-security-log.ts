import { type Kysely, sql } from 'kysely'
import type { SecurityEvent, SecurityRefusal } from '../../domain/security-log.js'
import type { Role, TenantScope } from '../../domain/tenant-scope.js'
import type { SecurityLog, SecurityLogFilter } from '../../ports/security-log.js'
import type { MessagingDatabase } from './schema.js'

/**
 * Refusals outside the caller's scope, through `messaging_record_refusal` (sql/0015): the
 * function takes the caller from the transaction's claims and the hour from the database's
 * clock; the app roles cannot touch the table itself.
 */
export class PostgresSecurityLog implements SecurityLog {
  constructor(private readonly db: Kysely<MessagingDatabase>) {}

  async recordRefusal(_scope: TenantScope, r: SecurityRefusal): Promise<void> {
    // Errors are classified once, at the unit of work's boundary.
    await sql`select messaging_record_refusal(${r.action}, ${r.errorCode}, ${r.infrastructureId}::uuid, ${r.businessId}::uuid)`.execute(
      this.db,
    )
  }
}

interface SecurityLogRow {
  actor_id: string
  actor_role: Role
  window_start: Date
  action: string
  error_code: string
  refusals: string
  first_at: Date
  last_at: Date
  last_infrastructure_id: string
  last_business_id: string | null
}

/** The log newest refusal first, read as the tables' owner (no app role may read it). */
export async function listSecurityEvents(
  owner: Kysely<MessagingDatabase>,
  filter: SecurityLogFilter,
): Promise<SecurityEvent[]> {
  const { rows } = await sql<SecurityLogRow>`
    select actor_id, actor_role, window_start, action, error_code, refusals, first_at, last_at,
           last_infrastructure_id, last_business_id
      from messaging_security_log
     where (${filter.since ?? null}::timestamptz is null or last_at >= ${filter.since ?? null}::timestamptz)
       and (${filter.actorId ?? null}::uuid is null or actor_id = ${filter.actorId ?? null}::uuid)
     order by last_at desc, actor_id, actor_role, window_start, action, error_code
     limit ${filter.limit}`.execute(owner)
  return rows.map((r) => ({
    actorId: r.actor_id,
    actorRole: r.actor_role,
    windowStart: r.window_start,
    action: r.action,
    errorCode: r.error_code,
    refusals: Number(r.refusals),
    firstAt: r.first_at,
    lastAt: r.last_at,
    lastInfrastructureId: r.last_infrastructure_id,
    lastBusinessId: r.last_business_id,
  }))
}
