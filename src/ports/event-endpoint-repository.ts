import type { EventEndpointRecord } from '../domain/event-endpoint.js'
import type { EventType } from '../domain/events.js'
import type { TenantScope } from '../domain/tenant-scope.js'

export interface NewEventEndpoint {
  readonly infrastructureId: string
  readonly id: string
  readonly url: string
  readonly eventTypes: readonly EventType[] | null
  readonly enabled: boolean
  /** Sealed. */
  readonly secret: string
  /** Where sending starts: the newest event at creation (null: the log's start). */
  readonly cursor: string | null
}

export interface EventEndpointPatch {
  readonly url?: string
  readonly eventTypes?: readonly EventType[] | null
  /** Enabling clears the failure run and makes the endpoint due now. */
  readonly enabled?: boolean
  /** Sealed. */
  readonly secret?: string
}

/** A leased endpoint: its token fences every later write of the holder. */
export interface EndpointLease {
  readonly infrastructureId: string
  readonly id: string
  readonly token: string
}

export interface EndpointFailure {
  /** Redacted already. */
  readonly error: string
  /** From the store's now. */
  readonly retryInMs: number
  /** Disable the endpoint (the failure run is too long). */
  readonly disable: boolean
  /**
   * False: the endpoint was not tried (its secret does not open in this process): the error
   * and the next time are written, the failure run is left as it was. Default true.
   */
  readonly counted?: boolean
}

/**
 * Tenants' status webhook endpoints, with each one's place in its tenant's event log and a
 * lease, so one dispatcher at a time sends an endpoint's events (docs/live.md, "Status
 * webhooks"). Admin calls (`create`, `update`, `remove`) are `infra_admin` within the scope
 * (else TenantScopeViolationError and nothing written); `get` and `list` read what the
 * scope reaches. The dispatch calls are the delivery worker's: `service` of the tenant, or
 * the fleet worker. Times are the store's clock.
 */
export interface EventEndpointRepository {
  create(scope: TenantScope, endpoint: NewEventEndpoint): Promise<EventEndpointRecord>
  get(scope: TenantScope, infrastructureId: string, id: string): Promise<EventEndpointRecord | null>
  /** Oldest first. */
  list(scope: TenantScope, infrastructureId: string): Promise<EventEndpointRecord[]>
  update(
    scope: TenantScope,
    infrastructureId: string,
    id: string,
    patch: EventEndpointPatch,
  ): Promise<EventEndpointRecord | null>
  remove(scope: TenantScope, infrastructureId: string, id: string): Promise<boolean>
  /**
   * Up to `limit` enabled endpoints that are due, not leased by anyone (a lease that ran
   * out is free) and have something to send (an event of their tenant after their cursor
   * that the log's `list` would show now), longest due first, leased with `token` for `leaseMs`. Two concurrent
   * leases never return the same endpoint while its lease is live.
   */
  lease(
    scope: TenantScope,
    options: { readonly limit: number; readonly leaseMs: number; readonly token: string },
  ): Promise<EventEndpointRecord[]>
  /**
   * An event was accepted: the cursor moves to it, the failure run ends, and the lease is
   * renewed for `leaseMs`. Fenced by the token: false (and nothing written) once the lease
   * is someone else's or gone.
   */
  advance(scope: TenantScope, lease: EndpointLease, cursor: string, leaseMs: number): Promise<boolean>
  /**
   * Gives the lease back: due again now (nothing failed) or after `failure.retryInMs`, the
   * failure counted. Fenced as `advance`.
   */
  release(scope: TenantScope, lease: EndpointLease, failure: EndpointFailure | null): Promise<boolean>
}
