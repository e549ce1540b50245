import { type Kysely, sql } from 'kysely'
import { TenantScopeViolationError } from '../../domain/errors.js'
import type { EventEndpointRecord } from '../../domain/event-endpoint.js'
import type { EventType } from '../../domain/events.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type {
  EndpointFailure,
  EndpointLease,
  EventEndpointPatch,
  EventEndpointRepository,
  NewEventEndpoint,
} from '../../ports/event-endpoint-repository.js'
import { classify } from './errors.js'
import type { MessagingDatabase } from './schema.js'

interface Row {
  infrastructure_id: string
  id: string
  url: string
  event_types: string[] | null
  enabled: boolean
  secret: string
  cursor: string | null
  attempts: number
  next_attempt_at: Date
  last_error: string | null
  failing_since: Date | null
  created_at: Date
  updated_at: Date
}

const COLUMNS = sql.raw(`infrastructure_id, id, url, event_types, enabled, secret, cursor, attempts,
  next_attempt_at, last_error, failing_since, created_at, updated_at`)

const toRecord = (r: Row): EventEndpointRecord => ({
  infrastructureId: r.infrastructure_id,
  id: r.id,
  url: r.url,
  eventTypes: r.event_types as EventType[] | null,
  enabled: r.enabled,
  secret: r.secret,
  cursor: r.cursor,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  lastError: r.last_error,
  failingSince: r.failing_since,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
})

const ms = (value: number) => sql`(${value}::float8 * interval '1 millisecond')`

/**
 * The endpoints of sql/0130. RLS decides who sees and writes a row (admins of the tenant
 * write; admins and services read and lease; the fleet worker leases every tenant's); a
 * lease is FOR UPDATE SKIP LOCKED on the due rows, so two workers' leases never overlap.
 * A lease takes only endpoints whose tenant has an event after their cursor, below the
 * log's read horizon (one index probe of messaging_events_cursor_idx each): an idle
 * endpoint costs nothing but that probe.
 */
export class PostgresEventEndpointRepository implements EventEndpointRepository {
  constructor(private readonly db: Kysely<MessagingDatabase>) {}

  async create(_scope: TenantScope, e: NewEventEndpoint): Promise<EventEndpointRecord> {
    const types = e.eventTypes === null ? null : [...e.eventTypes]
    const { rows } = await sql<Row>`INSERT INTO messaging_event_endpoints
        (infrastructure_id, id, url, event_types, enabled, secret, cursor)
      VALUES (${e.infrastructureId}, ${e.id}, ${e.url}, ${types}::text[], ${e.enabled}, ${e.secret}, ${e.cursor})
      RETURNING ${COLUMNS}`
      .execute(this.db)
      .catch((err) =>
        Promise.reject(
          classify(err, {
            conflict: { entity: 'event endpoint', key: e.id },
            refused: () => new TenantScopeViolationError(e.infrastructureId),
          }),
        ),
      )
    return toRecord(rows[0]!)
  }

  async get(_scope: TenantScope, infrastructureId: string, id: string): Promise<EventEndpointRecord | null> {
    const { rows } = await sql<Row>`SELECT ${COLUMNS} FROM messaging_event_endpoints
       WHERE infrastructure_id = ${infrastructureId} AND id = ${id}`.execute(this.db)
    return rows[0] ? toRecord(rows[0]) : null
  }

  async list(_scope: TenantScope, infrastructureId: string): Promise<EventEndpointRecord[]> {
    const { rows } = await sql<Row>`SELECT ${COLUMNS} FROM messaging_event_endpoints
       WHERE infrastructure_id = ${infrastructureId} ORDER BY created_at, id`.execute(this.db)
    return rows.map(toRecord)
  }

  async update(
    scope: TenantScope,
    infrastructureId: string,
    id: string,
    patch: EventEndpointPatch,
  ): Promise<EventEndpointRecord | null> {
    // Only an admin changes an endpoint (a service may write its dispatch state, through lease and release).
    if (!scope.hasRole('infra_admin')) return null
    const sets = [sql`updated_at = messaging_now()`]
    if (patch.url !== undefined) sets.push(sql`url = ${patch.url}`)
    if (patch.eventTypes !== undefined)
      sets.push(sql`event_types = ${patch.eventTypes === null ? null : [...patch.eventTypes]}::text[]`)
    if (patch.enabled !== undefined) sets.push(sql`enabled = ${patch.enabled}`)
    if (patch.secret !== undefined) sets.push(sql`secret = ${patch.secret}`)
    if (patch.enabled === true)
      sets.push(sql`attempts = 0`, sql`failing_since = null`, sql`next_attempt_at = messaging_now()`)
    const { rows } = await sql<Row>`UPDATE messaging_event_endpoints SET ${sql.join(sets)}
       WHERE infrastructure_id = ${infrastructureId} AND id = ${id}
       RETURNING ${COLUMNS}`.execute(this.db)
    return rows[0] ? toRecord(rows[0]) : null
  }

  async remove(_scope: TenantScope, infrastructureId: string, id: string): Promise<boolean> {
    const r = await sql`DELETE FROM messaging_event_endpoints
       WHERE infrastructure_id = ${infrastructureId} AND id = ${id}`.execute(this.db)
    return Number(r.numAffectedRows ?? 0n) > 0
  }

  async lease(
    scope: TenantScope,
    options: { readonly limit: number; readonly leaseMs: number; readonly token: string },
  ): Promise<EventEndpointRecord[]> {
    // Leasing is a worker's: the update policy lets an admin write too, for its own calls.
    if (!scope.hasRole('service')) return []
    const { rows } = await sql<Row>`WITH due AS (
        SELECT infrastructure_id, id FROM messaging_event_endpoints AS d
         WHERE enabled AND next_attempt_at <= messaging_now()
           AND (leased_until IS NULL OR leased_until <= messaging_now())
           AND EXISTS (SELECT 1 FROM messaging_events AS ev
                        WHERE ev.infrastructure_id = d.infrastructure_id
                          AND (ev.tx, ev.seq) > (coalesce(split_part(d.cursor, '.', 1), '0')::xid8,
                                                 coalesce(split_part(d.cursor, '.', 2), '0')::bigint)
                          AND ev.tx < pg_snapshot_xmin(pg_current_snapshot()))
         ORDER BY next_attempt_at, id
         LIMIT ${Math.max(0, options.limit)}
         FOR UPDATE SKIP LOCKED)
      UPDATE messaging_event_endpoints AS e
         SET lease_token = ${options.token}::uuid, leased_until = messaging_now() + ${ms(options.leaseMs)}
        FROM due
       WHERE e.infrastructure_id = due.infrastructure_id AND e.id = due.id
      RETURNING ${sql.raw(
        'e.infrastructure_id, e.id, e.url, e.event_types, e.enabled, e.secret, e.cursor, e.attempts, e.next_attempt_at, e.last_error, e.failing_since, e.created_at, e.updated_at',
      )}`.execute(this.db)
    return rows
      .map(toRecord)
      .sort((a, b) => a.nextAttemptAt.getTime() - b.nextAttemptAt.getTime() || a.id.localeCompare(b.id))
  }

  private static held(lease: EndpointLease) {
    return sql`infrastructure_id = ${lease.infrastructureId} AND id = ${lease.id}
      AND lease_token = ${lease.token}::uuid AND leased_until > messaging_now()`
  }

  async advance(scope: TenantScope, lease: EndpointLease, cursor: string, leaseMs: number): Promise<boolean> {
    if (!scope.hasRole('service')) return false
    const r = await sql`UPDATE messaging_event_endpoints
         SET cursor = ${cursor}, attempts = 0, last_error = null, failing_since = null,
             leased_until = messaging_now() + ${ms(leaseMs)}, updated_at = messaging_now()
       WHERE ${PostgresEventEndpointRepository.held(lease)}`.execute(this.db)
    return Number(r.numAffectedRows ?? 0n) > 0
  }

  async release(scope: TenantScope, lease: EndpointLease, failure: EndpointFailure | null): Promise<boolean> {
    if (!scope.hasRole('service')) return false
    const held = PostgresEventEndpointRepository.held(lease)
    const r =
      failure === null
        ? await sql`UPDATE messaging_event_endpoints
             SET next_attempt_at = messaging_now(), lease_token = null, leased_until = null
           WHERE ${held}`.execute(this.db)
        : await sql`UPDATE messaging_event_endpoints
             SET attempts = attempts + ${failure.counted === false ? 0 : 1}::int, last_error = ${failure.error},
                 failing_since = ${failure.counted === false ? sql`failing_since` : sql`coalesce(failing_since, messaging_now())`},
                 next_attempt_at = messaging_now() + ${ms(failure.retryInMs)},
                 enabled = enabled AND NOT ${failure.disable},
                 lease_token = null, leased_until = null, updated_at = messaging_now()
           WHERE ${held}`.execute(this.db)
    return Number(r.numAffectedRows ?? 0n) > 0
  }
}
