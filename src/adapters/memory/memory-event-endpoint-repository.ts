import type { EventEndpointRecord } from '../../domain/event-endpoint.js'
import { parseEventCursor } from '../../domain/events.js'
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
import { copy, type Journal, type MemoryEventEndpoint, type MemoryState } from './memory-state.js'

const keyOf = (infrastructureId: string, id: string) => `${infrastructureId}/${id}`

/**
 * Endpoints in a map; a unit of work runs alone, so a lease's look and take are one step. A
 * lease takes only endpoints whose tenant has an event after their cursor.
 */
export class MemoryEventEndpointRepository implements EventEndpointRepository {
  constructor(
    private readonly state: MemoryState,
    private readonly journal: Journal,
    private readonly clock: Clock,
  ) {}

  async create(scope: TenantScope, e: NewEventEndpoint): Promise<EventEndpointRecord> {
    assertEndpointWriter(scope, e.infrastructureId)
    const now = this.clock.now()
    const record: EventEndpointRecord = {
      ...copy(e),
      attempts: 0,
      nextAttemptAt: now,
      lastError: null,
      failingSince: null,
      createdAt: now,
      updatedAt: now,
    }
    this.journal.setIn(this.state.eventEndpoints, keyOf(e.infrastructureId, e.id), {
      record,
      leaseToken: null,
      leasedUntil: null,
    })
    return copy(record)
  }

  async get(scope: TenantScope, infrastructureId: string, id: string): Promise<EventEndpointRecord | null> {
    if (!endpointReader(scope, infrastructureId)) return null
    const row = this.state.eventEndpoints.get(keyOf(infrastructureId, id))
    return row ? copy(row.record) : null
  }

  async list(scope: TenantScope, infrastructureId: string): Promise<EventEndpointRecord[]> {
    if (!endpointReader(scope, infrastructureId)) return []
    return [...this.state.eventEndpoints.values()]
      .filter((r) => r.record.infrastructureId === infrastructureId)
      .map((r) => copy(r.record))
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.id.localeCompare(b.id))
  }

  async update(
    scope: TenantScope,
    infrastructureId: string,
    id: string,
    patch: EventEndpointPatch,
  ): Promise<EventEndpointRecord | null> {
    if (!endpointWriter(scope, infrastructureId)) return null
    const key = keyOf(infrastructureId, id)
    const row = this.state.eventEndpoints.get(key)
    if (!row) return null
    const now = this.clock.now()
    const restart = patch.enabled === true
    const record: EventEndpointRecord = {
      ...row.record,
      ...(patch.url !== undefined && { url: patch.url }),
      ...(patch.eventTypes !== undefined && { eventTypes: copy(patch.eventTypes) }),
      ...(patch.enabled !== undefined && { enabled: patch.enabled }),
      ...(patch.secret !== undefined && { secret: patch.secret }),
      ...(restart && { attempts: 0, failingSince: null, nextAttemptAt: now }),
      updatedAt: now,
    }
    this.journal.setIn(this.state.eventEndpoints, key, { ...row, record })
    return copy(record)
  }

  async remove(scope: TenantScope, infrastructureId: string, id: string): Promise<boolean> {
    if (!endpointWriter(scope, infrastructureId)) return false
    const key = keyOf(infrastructureId, id)
    if (!this.state.eventEndpoints.has(key)) return false
    this.journal.deleteIn(this.state.eventEndpoints, key)
    return true
  }

  async lease(
    scope: TenantScope,
    options: { readonly limit: number; readonly leaseMs: number; readonly token: string },
  ): Promise<EventEndpointRecord[]> {
    if (!scope.hasRole('service')) return []
    const now = this.clock.now().getTime()
    const due = [...this.state.eventEndpoints.entries()]
      .filter(
        ([, r]) =>
          r.record.enabled &&
          scope.canAccessInfrastructure(r.record.infrastructureId) &&
          r.record.nextAttemptAt.getTime() <= now &&
          (r.leasedUntil === null || r.leasedUntil <= now) &&
          this.hasNews(r.record),
      )
      .sort(
        ([, a], [, b]) =>
          a.record.nextAttemptAt.getTime() - b.record.nextAttemptAt.getTime() ||
          a.record.id.localeCompare(b.record.id),
      )
      .slice(0, Math.max(0, options.limit))
    for (const [key, r] of due) {
      this.journal.setIn(this.state.eventEndpoints, key, {
        ...r,
        leaseToken: options.token,
        leasedUntil: now + options.leaseMs,
      })
    }
    return due.map(([, r]) => copy(r.record))
  }

  /** Some event of the endpoint's tenant after its cursor: what a lease looks for. */
  private hasNews(e: EventEndpointRecord): boolean {
    const after = e.cursor === null ? null : parseEventCursor(e.cursor)
    return this.state.events.some((ev) => {
      if (ev.infrastructureId !== e.infrastructureId) return false
      if (after === null) return true
      const c = parseEventCursor(ev.cursor)!
      return c.major > after.major || (c.major === after.major && c.minor > after.minor)
    })
  }

  /** The row while `lease` holds it (its token, not run out), else null. */
  private held(scope: TenantScope, lease: EndpointLease): [string, MemoryEventEndpoint] | null {
    if (!scope.hasRole('service') || !scope.canAccessInfrastructure(lease.infrastructureId)) return null
    const key = keyOf(lease.infrastructureId, lease.id)
    const row = this.state.eventEndpoints.get(key)
    const now = this.clock.now().getTime()
    if (!row || row.leaseToken !== lease.token || row.leasedUntil === null || row.leasedUntil <= now)
      return null
    return [key, row]
  }

  async advance(scope: TenantScope, lease: EndpointLease, cursor: string, leaseMs: number): Promise<boolean> {
    const held = this.held(scope, lease)
    if (!held) return false
    const [key, row] = held
    const now = this.clock.now()
    this.journal.setIn(this.state.eventEndpoints, key, {
      ...row,
      leasedUntil: now.getTime() + leaseMs,
      record: { ...row.record, cursor, attempts: 0, lastError: null, failingSince: null, updatedAt: now },
    })
    return true
  }

  async release(scope: TenantScope, lease: EndpointLease, failure: EndpointFailure | null): Promise<boolean> {
    const held = this.held(scope, lease)
    if (!held) return false
    const [key, row] = held
    const now = this.clock.now()
    const record: EventEndpointRecord =
      failure === null
        ? { ...row.record, nextAttemptAt: now }
        : {
            ...row.record,
            attempts: row.record.attempts + (failure.counted === false ? 0 : 1),
            lastError: failure.error,
            failingSince:
              failure.counted === false ? row.record.failingSince : (row.record.failingSince ?? now),
            nextAttemptAt: new Date(now.getTime() + failure.retryInMs),
            enabled: row.record.enabled && !failure.disable,
            updatedAt: now,
          }
    this.journal.setIn(this.state.eventEndpoints, key, { record, leaseToken: null, leasedUntil: null })
    return true
  }
}
