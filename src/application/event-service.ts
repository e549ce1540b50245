import type { DeliveryEvent } from '../domain/events.js'
import { parseEventCursor } from '../domain/events.js'
import {
  type FollowEventsInput,
  followEventsInput,
  type ListEventsInput,
  listEventsInput,
} from '../domain/inputs.js'
import { assertRole, assertTenantScope, type TenantScope } from '../domain/tenant-scope.js'
import { parseInput } from '../domain/validation.js'
import type { ServiceContext } from './context.js'
import { EventStream, type EventStreamSink } from './event-stream.js'

/** Reads a tenant's delivery events (docs/live.md): `infra_admin` and `service` only. */
export class EventService {
  constructor(private readonly ctx: ServiceContext) {}

  /**
   * Follows the tenant's events live (`service` only): what comes after `after` (a listed
   * event's cursor), else from now on. Returns the function that stops it.
   */
  async follow(scope: TenantScope, raw: FollowEventsInput, sink: EventStreamSink): Promise<() => void> {
    const input = parseInput(followEventsInput, raw)
    assertTenantScope(scope, input.infrastructureId)
    assertRole(scope, 'events.follow', 'service')
    const stream = new EventStream(this.ctx, scope, input.infrastructureId, sink)
    await stream.open(input.after === undefined ? null : parseEventCursor(input.after))
    return () => stream.close()
  }

  /** Oldest first after `after` (a listed event's `cursor`); page on from the last one listed. */
  async list(scope: TenantScope, raw: ListEventsInput): Promise<DeliveryEvent[]> {
    const input = parseInput(listEventsInput, raw)
    assertTenantScope(scope, input.infrastructureId)
    assertRole(scope, 'events.list', 'infra_admin', 'service')
    return this.ctx.uow.run(scope, (r) =>
      r.events.list(scope, {
        infrastructureId: input.infrastructureId,
        after: input.after === undefined ? null : parseEventCursor(input.after),
        limit: input.limit,
        ...(input.type !== undefined && { types: [input.type] }),
      }),
    )
  }
}
