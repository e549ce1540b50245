import { TenantScopeViolationError } from '../../domain/errors.js'
import {
  type DeliveryEvent,
  type EventCursor,
  type NewDeliveryEvent,
  parseEventCursor,
} from '../../domain/events.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { Clock } from '../../ports/clock.js'
import type { EventFilter, EventLog, NotificationRef } from '../../ports/event-log.js'
import { copy, type Journal, type MemoryState } from './memory-state.js'

/** Units of work run one at a time here, so a place drawn at append is commit order already. */
export class MemoryEventLog implements EventLog {
  constructor(
    private readonly state: MemoryState,
    private readonly journal: Journal,
    private readonly clock: Clock,
  ) {}

  async append(scope: TenantScope, events: readonly NewDeliveryEvent[]): Promise<void> {
    for (const e of events) {
      if (!scope.canAccessInfrastructure(e.infrastructureId))
        throw new TenantScopeViolationError(e.infrastructureId)
    }
    const occurredAt = this.clock.now()
    for (const e of events) {
      this.journal.push(this.state.events, {
        ...copy(e),
        cursor: `0.${this.state.drawEventSeq()}`,
        occurredAt,
      })
    }
  }

  async finishedNotifications(
    _scope: TenantScope,
    refs: readonly NotificationRef[],
  ): Promise<NotificationRef[]> {
    const open = new Set<string>()
    for (const m of this.state.outbox.values()) {
      if (m.notification !== null && (m.status === 'pending' || m.status === 'processing'))
        open.add(`${m.infrastructureId}/${m.notification.id}`)
    }
    return refs.filter((r) => !open.has(`${r.infrastructureId}/${r.notificationId}`))
  }

  async last(scope: TenantScope, infrastructureId: string): Promise<EventCursor | null> {
    if (!scope.canAccessInfrastructure(infrastructureId) || !scope.hasRole('infra_admin', 'service'))
      return null
    return lastOf(this.state.events, infrastructureId)
  }

  async list(scope: TenantScope, filter: EventFilter): Promise<DeliveryEvent[]> {
    if (!scope.canAccessInfrastructure(filter.infrastructureId) || !scope.hasRole('infra_admin', 'service'))
      return []
    const out: DeliveryEvent[] = []
    const after = filter.after
    for (const e of this.state.events) {
      if (out.length >= filter.limit) break
      if (e.infrastructureId !== filter.infrastructureId) continue
      if (after !== null && !isAfter(e.cursor, after.major, after.minor)) continue
      if (filter.types !== undefined && !filter.types.includes(e.type)) continue
      out.push(copy(e))
    }
    return out
  }
}

export function lastOf(events: readonly DeliveryEvent[], infrastructureId: string): EventCursor | null {
  for (let i = events.length - 1; i >= 0; i--) {
    if (events[i]!.infrastructureId === infrastructureId) return parseEventCursor(events[i]!.cursor)
  }
  return null
}

function isAfter(cursor: string, major: bigint, minor: bigint): boolean {
  const c = parseEventCursor(cursor)!
  return c.major > major || (c.major === major && c.minor > minor)
}
