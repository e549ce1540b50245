import { destinationIssue } from '../domain/destinations.js'
import { NotFoundError, ValidationError } from '../domain/errors.js'
import {
  type CreateEventEndpointInput,
  createEventEndpointInput,
  EVENT_ENDPOINT_SECRET,
  type EventEndpointRecord,
  type EventEndpointRefInput,
  type EventEndpointView,
  type EventEndpointWithSecret,
  endpointView,
  eventEndpointRefInput,
  type ListEventEndpointsInput,
  listEventEndpointsInput,
  newSigningSecret,
  type UpdateEventEndpointInput,
  updateEventEndpointInput,
} from '../domain/event-endpoint.js'
import { type DeliveryEvent, formatEventCursor, parseEventCursor } from '../domain/events.js'
import { type ResealSecretsInput, resealSecretsInput } from '../domain/inputs.js'
import { assertRole, assertTenantScope, type TenantScope } from '../domain/tenant-scope.js'
import { parseInput } from '../domain/validation.js'
import type { EndpointFailure, EndpointLease } from '../ports/event-endpoint-repository.js'
import type { ServiceContext } from './context.js'
import { auditEntry, audited } from './context.js'

/**
 * Registration of status webhook endpoints (docs/live.md, "Status webhooks"): `infra_admin`
 * of the tenant only. The signing secret is minted here, sealed before the store sees it,
 * and shown once, in the create's (or rotate's) result.
 */
export class EventEndpointService {
  constructor(private readonly ctx: ServiceContext) {}

  /** The URL against the destination policy, as a webhook channel's is checked on save. */
  private checkUrl(url: string): void {
    const broken = destinationIssue(url, this.ctx.destinations)
    if (broken) throw new ValidationError([{ path: 'url', ...broken }])
  }

  private seal(infrastructureId: string, endpointId: string, secret: string): string {
    if (!this.ctx.secrets.encrypts && this.ctx.requireSealedSecrets) {
      throw ValidationError.single(
        'secret',
        'secret_key_required',
        'this store keeps signing secrets only sealed: configure a secret key (MESSAGING_SECRET_KEYS or the secrets option)',
      )
    }
    const sealed = this.ctx.secrets.seal(
      EVENT_ENDPOINT_SECRET,
      { signingSecret: secret },
      { infrastructureId, channelId: endpointId },
    )
    return sealed.signingSecret as string
  }

  /** The signing secret of a stored endpoint, opened: for the dispatcher only, never for a response. */
  openSecret(record: EventEndpointRecord): string {
    const opened = this.ctx.secrets.open(
      EVENT_ENDPOINT_SECRET,
      { signingSecret: record.secret },
      { infrastructureId: record.infrastructureId, channelId: record.id },
    )
    return opened.signingSecret as string
  }

  async create(scope: TenantScope, raw: CreateEventEndpointInput): Promise<EventEndpointWithSecret> {
    const input = parseInput(createEventEndpointInput, raw)
    this.checkUrl(input.url)
    const id = this.ctx.ids.next()
    const target = {
      infrastructureId: input.infrastructureId,
      action: 'event_endpoint.create',
      targetType: 'event_endpoint' as const,
      targetId: id,
    }
    return audited(this.ctx, scope, target, async () => {
      assertTenantScope(scope, input.infrastructureId)
      assertRole(scope, 'event_endpoint.create', 'infra_admin')
      const secret = newSigningSecret()
      const sealed = this.seal(input.infrastructureId, id, secret)
      const record = await this.ctx.uow.run(scope, async (r) => {
        // Sending starts after the newest event now: an endpoint hears of what happens from here on.
        const last = await r.events.last(scope, input.infrastructureId)
        const created = await r.eventEndpoints.create(scope, {
          infrastructureId: input.infrastructureId,
          id,
          url: input.url,
          eventTypes: input.eventTypes,
          enabled: input.enabled,
          secret: sealed,
          cursor: last === null ? null : formatEventCursor(last),
        })
        await r.audit.append(scope, auditEntry(this.ctx, scope, { ...target, details: { url: input.url } }))
        return created
      })
      return { endpoint: endpointView(record), secret }
    })
  }

  async list(scope: TenantScope, raw: ListEventEndpointsInput): Promise<EventEndpointView[]> {
    const input = parseInput(listEventEndpointsInput, raw)
    assertTenantScope(scope, input.infrastructureId)
    assertRole(scope, 'event_endpoint.list', 'infra_admin')
    const rows = await this.ctx.uow.run(scope, (r) => r.eventEndpoints.list(scope, input.infrastructureId))
    return rows.map(endpointView)
  }

  async get(scope: TenantScope, raw: EventEndpointRefInput): Promise<EventEndpointView> {
    const input = parseInput(eventEndpointRefInput, raw)
    assertTenantScope(scope, input.infrastructureId)
    assertRole(scope, 'event_endpoint.get', 'infra_admin')
    const row = await this.ctx.uow.run(scope, (r) =>
      r.eventEndpoints.get(scope, input.infrastructureId, input.endpointId),
    )
    if (!row) throw new NotFoundError('event endpoint', input.endpointId)
    return endpointView(row)
  }

  async update(scope: TenantScope, raw: UpdateEventEndpointInput): Promise<EventEndpointView> {
    const input = parseInput(updateEventEndpointInput, raw)
    if (input.url !== undefined) this.checkUrl(input.url)
    const target = {
      infrastructureId: input.infrastructureId,
      action: 'event_endpoint.update',
      targetType: 'event_endpoint' as const,
      targetId: input.endpointId,
    }
    return audited(this.ctx, scope, target, async () => {
      assertTenantScope(scope, input.infrastructureId)
      assertRole(scope, 'event_endpoint.update', 'infra_admin')
      const row = await this.ctx.uow.run(scope, async (r) => {
        const next = await r.eventEndpoints.update(scope, input.infrastructureId, input.endpointId, {
          ...(input.url !== undefined && { url: input.url }),
          ...(input.eventTypes !== undefined && { eventTypes: input.eventTypes }),
          ...(input.enabled !== undefined && { enabled: input.enabled }),
        })
        if (next) await r.audit.append(scope, auditEntry(this.ctx, scope, target))
        return next
      })
      if (!row) throw new NotFoundError('event endpoint', input.endpointId)
      return endpointView(row)
    })
  }

  /** A new signing secret, returned this once; the old one stops signing at once. */
  async rotateSecret(scope: TenantScope, raw: EventEndpointRefInput): Promise<EventEndpointWithSecret> {
    const input = parseInput(eventEndpointRefInput, raw)
    const target = {
      infrastructureId: input.infrastructureId,
      action: 'event_endpoint.rotate_secret',
      targetType: 'event_endpoint' as const,
      targetId: input.endpointId,
    }
    return audited(this.ctx, scope, target, async () => {
      assertTenantScope(scope, input.infrastructureId)
      assertRole(scope, 'event_endpoint.rotate_secret', 'infra_admin')
      const secret = newSigningSecret()
      const sealed = this.seal(input.infrastructureId, input.endpointId, secret)
      const row = await this.ctx.uow.run(scope, async (r) => {
        const next = await r.eventEndpoints.update(scope, input.infrastructureId, input.endpointId, {
          secret: sealed,
        })
        if (next) await r.audit.append(scope, auditEntry(this.ctx, scope, target))
        return next
      })
      if (!row) throw new NotFoundError('event endpoint', input.endpointId)
      return { endpoint: endpointView(row), secret }
    })
  }

  async remove(scope: TenantScope, raw: EventEndpointRefInput): Promise<void> {
    const input = parseInput(eventEndpointRefInput, raw)
    const target = {
      infrastructureId: input.infrastructureId,
      action: 'event_endpoint.delete',
      targetType: 'event_endpoint' as const,
      targetId: input.endpointId,
    }
    return audited(this.ctx, scope, target, async () => {
      assertTenantScope(scope, input.infrastructureId)
      assertRole(scope, 'event_endpoint.delete', 'infra_admin')
      const gone = await this.ctx.uow.run(scope, async (r) => {
        const removed = await r.eventEndpoints.remove(scope, input.infrastructureId, input.endpointId)
        if (removed) await r.audit.append(scope, auditEntry(this.ctx, scope, target))
        return removed
      })
      if (!gone) throw new NotFoundError('event endpoint', input.endpointId)
    })
  }

  /**
   * Key rotation: every endpoint secret of the tenant sealed again under the active key, so
   * the old key can go. For a caller the channels' reseal already checked (`infra_admin`).
   */
  async resealSecrets(scope: TenantScope, raw: ResealSecretsInput): Promise<number> {
    const { infrastructureId } = parseInput(resealSecretsInput, raw)
    const rows = await this.ctx.uow.run(scope, (r) => r.eventEndpoints.list(scope, infrastructureId))
    for (const row of rows) {
      const sealed = this.ctx.secrets.reseal(
        EVENT_ENDPOINT_SECRET,
        { signingSecret: row.secret },
        { infrastructureId, channelId: row.id },
      )
      await this.ctx.uow.run(scope, (r) =>
        r.eventEndpoints.update(scope, infrastructureId, row.id, { secret: sealed.signingSecret as string }),
      )
    }
    return rows.length
  }

  /** Due endpoints, leased to `token` (`service` or the fleet worker), each with its secret opened. */
  async lease(
    scope: TenantScope,
    options: { readonly limit: number; readonly leaseMs: number; readonly token: string },
  ): Promise<LeasedEndpoint[]> {
    assertRole(scope, 'event_endpoint.dispatch', 'service')
    const rows = await this.ctx.uow.run(scope, (r) => r.eventEndpoints.lease(scope, options))
    return rows.map((row) => {
      const lease = { infrastructureId: row.infrastructureId, id: row.id, token: options.token }
      try {
        return { ...row, lease, secret: this.openSecret(row), secretError: null }
      } catch (e) {
        // A secret that does not open here (no key, another key): the endpoint waits, its error says why.
        return { ...row, lease, secret: null, secretError: e instanceof Error ? e.message : String(e) }
      }
    })
  }

  /**
   * The tenant's events after `after`, through the event log's own paging (its read horizon
   * on PostgreSQL), so no event that commits later is ever stepped over.
   */
  events(
    scope: TenantScope,
    infrastructureId: string,
    after: string | null,
    limit: number,
  ): Promise<DeliveryEvent[]> {
    return this.ctx.uow.run(scope, (r) =>
      r.events.list(scope, {
        infrastructureId,
        after: after === null ? null : parseEventCursor(after),
        limit,
      }),
    )
  }

  advance(scope: TenantScope, lease: EndpointLease, cursor: string, leaseMs: number): Promise<boolean> {
    return this.ctx.uow.run(scope, (r) => r.eventEndpoints.advance(scope, lease, cursor, leaseMs))
  }

  release(scope: TenantScope, lease: EndpointLease, failure: EndpointFailure | null): Promise<boolean> {
    return this.ctx.uow.run(scope, (r) => r.eventEndpoints.release(scope, lease, failure))
  }
}

/** An endpoint a dispatcher holds: its lease, and its signing secret opened (null when it does not open here). */
export interface LeasedEndpoint extends Omit<EventEndpointRecord, 'secret'> {
  readonly lease: EndpointLease
  readonly secret: string | null
  readonly secretError: string | null
}

/**
 * What a status webhook dispatcher runs on, bound to one scope: a `service` principal's
 * tenants, or every tenant for the fleet worker.
 */
export interface EventDispatchPort {
  lease(options: {
    readonly limit: number
    readonly leaseMs: number
    readonly token: string
  }): Promise<LeasedEndpoint[]>
  events(infrastructureId: string, after: string | null, limit: number): Promise<DeliveryEvent[]>
  advance(lease: EndpointLease, cursor: string, leaseMs: number): Promise<boolean>
  release(lease: EndpointLease, failure: EndpointFailure | null): Promise<boolean>
}

export const createEventDispatchPort = (
  service: EventEndpointService,
  scope: TenantScope,
): EventDispatchPort => ({
  lease: (options) => service.lease(scope, options),
  events: (infrastructureId, after, limit) => service.events(scope, infrastructureId, after, limit),
  advance: (lease, cursor, leaseMs) => service.advance(scope, lease, cursor, leaseMs),
  release: (lease, failure) => service.release(scope, lease, failure),
})
