import { type Kysely, type Selectable, sql } from 'kysely'
import type { EventEndpointRecord } from '../../domain/event-endpoint.js'
import type { EventType } from '../../domain/events.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { Clock } from '../../ports/clock.js'
import type {
  EndpointFailure,
  EndpointLease,
  EventEndpointPatch,
  EventEndpointRepository,
  NewEventEndpoint,
} from '../../ports/event-endpoint-repository.js'
import { assertEndpointWriter, endpointReader, endpointWriter } from '../shared/endpoint-scope.js'
import { canAccessInfrastructure } from './sqlite-scope.js'
import type { EventEndpointsTable, SqliteDatabase } from './sqlite-tables.js'

type Row = Selectable<EventEndpointsTable>

const toRecord = (r: Row): EventEndpointRecord => ({
  infrastructureId: r.infrastructure_id,
  id: r.id,
  url: r.url,
  eventTypes: r.event_types === null ? null : (JSON.parse(r.event_types) as EventType[]),
  enabled: r.enabled === 1,
  secret: r.secret,
  cursor: r.cursor,
  attempts: r.attempts,
  nextAttemptAt: new Date(r.next_attempt_at),
  lastError: r.last_error,
  failingSince: r.failing_since === null ? null : new Date(r.failing_since),
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
})

/**
 * Endpoints in the shared file. A unit of work holds the file's write lock from its first
 * statement (BEGIN IMMEDIATE), so a lease's select and update are never interleaved with
 * another process's: the UPDATE ... WHERE the lease ran out is the fence. A lease takes only
 * endpoints whose tenant has an event after their cursor (a cursor is `0.<seq>` here).
 */
export class SqliteEventEndpointRepository implements EventEndpointRepository {
  constructor(
    private readonly db: Kysely<SqliteDatabase>,
    private readonly clock: Clock,
  ) {}

  async create(scope: TenantScope, e: NewEventEndpoint): Promise<EventEndpointRecord> {
    assertEndpointWriter(scope, e.infrastructureId)
    const now = this.clock.now().getTime()
    const row: Row = {
      infrastructure_id: e.infrastructureId,
      id: e.id,
      url: e.url,
      event_types: e.eventTypes === null ? null : JSON.stringify(e.eventTypes),
      enabled: e.enabled ? 1 : 0,
      secret: e.secret,
      cursor: e.cursor,
      attempts: 0,
      next_attempt_at: now,
      last_error: null,
      failing_since: null,
      lease_token: null,
      leased_until: null,
      created_at: now,
      updated_at: now,
    }
    await this.db.insertInto('messaging_event_endpoints').values(row).execute()
    return toRecord(row)
  }

  async get(scope: TenantScope, infrastructureId: string, id: string): Promise<EventEndpointRecord | null> {
    if (!endpointReader(scope, infrastructureId)) return null
    const row = await this.db
      .selectFrom('messaging_event_endpoints')
      .selectAll()
      .where('infrastructure_id', '=', infrastructureId)
      .where('id', '=', id)
      .executeTakeFirst()
    return row ? toRecord(row) : null
  }

  async list(scope: TenantScope, infrastructureId: string): Promise<EventEndpointRecord[]> {
    if (!endpointReader(scope, infrastructureId)) return []
    const rows = await this.db
      .selectFrom('messaging_event_endpoints')
      .selectAll()
      .where('infrastructure_id', '=', infrastructureId)
      .orderBy('created_at')
      .orderBy('id')
      .execute()
    return rows.map(toRecord)
  }

  async update(
    scope: TenantScope,
    infrastructureId: string,
    id: string,
    patch: EventEndpointPatch,
  ): Promise<EventEndpointRecord | null> {
    if (!endpointWriter(scope, infrastructureId)) return null
    const now = this.clock.now().getTime()
    const row = await this.db
      .updateTable('messaging_event_endpoints')
      .set({
        ...(patch.url !== undefined && { url: patch.url }),
        ...(patch.eventTypes !== undefined && {
          event_types: patch.eventTypes === null ? null : JSON.stringify(patch.eventTypes),
        }),
        ...(patch.enabled !== undefined && { enabled: patch.enabled ? 1 : 0 }),
        ...(patch.secret !== undefined && { secret: patch.secret }),
        ...(patch.enabled === true && { attempts: 0, failing_since: null, next_attempt_at: now }),
        updated_at: now,
      })
      .where('infrastructure_id', '=', infrastructureId)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst()
    return row ? toRecord(row) : null
  }

  async remove(scope: TenantScope, infrastructureId: string, id: string): Promise<boolean> {
    if (!endpointWriter(scope, infrastructureId)) return false
    const r = await this.db
      .deleteFrom('messaging_event_endpoints')
      .where('infrastructure_id', '=', infrastructureId)
      .where('id', '=', id)
      .executeTakeFirst()
    return Number(r.numDeletedRows) > 0
  }

  async lease(
    scope: TenantScope,
    options: { readonly limit: number; readonly leaseMs: number; readonly token: string },
  ): Promise<EventEndpointRecord[]> {
    if (!scope.hasRole('service')) return []
    const now = this.clock.now().getTime()
    const { rows } = await sql<Row>`update messaging_event_endpoints
         set lease_token = ${options.token}, leased_until = ${now + options.leaseMs}
       where (infrastructure_id, id) in (
         select infrastructure_id, id from messaging_event_endpoints as d
          where enabled = 1 and next_attempt_at <= ${now}
            and (leased_until is null or leased_until <= ${now})
            and ${canAccessInfrastructure(scope, sql.ref('d.infrastructure_id'))}
            and exists (select 1 from messaging_events as ev
                         where ev.infrastructure_id = d.infrastructure_id
                           and ev.seq > coalesce(cast(substr(d.cursor, instr(d.cursor, '.') + 1) as integer), -1))
          order by d.next_attempt_at, d.id
          limit ${Math.max(0, options.limit)})
      returning *`.execute(this.db)
    return rows
      .map(toRecord)
      .sort((a, b) => a.nextAttemptAt.getTime() - b.nextAttemptAt.getTime() || a.id.localeCompare(b.id))
  }

  /** `where` of a write by the lease holder: its token, not run out, within the scope. */
  private held(scope: TenantScope, lease: EndpointLease, now: number) {
    return sql`infrastructure_id = ${lease.infrastructureId} and id = ${lease.id}
      and lease_token = ${lease.token} and leased_until > ${now}
      and ${canAccessInfrastructure(scope, sql.ref('infrastructure_id'))}`
  }

  async advance(scope: TenantScope, lease: EndpointLease, cursor: string, leaseMs: number): Promise<boolean> {
    if (!scope.hasRole('service')) return false
    const now = this.clock.now().getTime()
    const r = await sql`update messaging_event_endpoints
         set cursor = ${cursor}, attempts = 0, last_error = null, failing_since = null,
             leased_until = ${now + leaseMs}, updated_at = ${now}
       where ${this.held(scope, lease, now)}`.execute(this.db)
    return Number(r.numAffectedRows ?? 0n) > 0
  }

  async release(scope: TenantScope, lease: EndpointLease, failure: EndpointFailure | null): Promise<boolean> {
    if (!scope.hasRole('service')) return false
    const now = this.clock.now().getTime()
    const r =
      failure === null
        ? await sql`update messaging_event_endpoints
             set next_attempt_at = ${now}, lease_token = null, leased_until = null
           where ${this.held(scope, lease, now)}`.execute(this.db)
        : await sql`update messaging_event_endpoints
             set attempts = attempts + ${failure.counted === false ? 0 : 1}, last_error = ${failure.error},
                 failing_since = ${failure.counted === false ? sql`failing_since` : sql`coalesce(failing_since, ${now})`},
                 next_attempt_at = ${now + failure.retryInMs},
                 enabled = case when ${failure.disable ? 1 : 0} = 1 then 0 else enabled end,
                 lease_token = null, leased_until = null, updated_at = ${now}
           where ${this.held(scope, lease, now)}`.execute(this.db)
    return Number(r.numAffectedRows ?? 0n) > 0
  }
}
