import type { DeliveryEvent, EventCursor, EventType, NewDeliveryEvent } from '../domain/events.js'
import type { TenantScope } from '../domain/tenant-scope.js'

export interface NotificationRef {
  readonly infrastructureId: string
  readonly notificationId: string
}

export interface EventFilter {
  readonly infrastructureId: string
  /** Events after this place; null: from the oldest kept. */
  readonly after: EventCursor | null
  readonly types?: readonly EventType[]
  readonly limit: number
}

/**
 * Each tenant's log of delivery events, written in the unit of work of the change each tells
 * of (so an event is never lost, nor told of a change that rolled back). Listing pages in
 * the log's order, which is commit order: a reader that pages on from the last place it saw
 * never misses an event that commits after its read (docs/live.md, "The cursor").
 */
export interface EventLog {
  /**
   * Appends `events` in one statement where the store has round trips (a settle batch writes
   * all its events at once). Each into a tenant the scope reaches, else
   * TenantScopeViolationError and nothing is written.
   */
  append(scope: TenantScope, events: readonly NewDeliveryEvent[]): Promise<void>
  /** Oldest first, after `filter.after`; `infra_admin` and `service` of the tenant only (else empty). */
  list(scope: TenantScope, filter: EventFilter): Promise<DeliveryEvent[]>
  /**
   * Of these notifications, those none of whose messages is pending or processing any more:
   * what a settle or a cancel that just made some of their messages final writes
   * `notification.completed` for. On PostgreSQL it first waits for every other transaction
   * asking about one of them (a transaction lock per notification, in one order), so of two
   * settles of a notification's last two messages, the second to ask sees both final.
   */
  finishedNotifications(scope: TenantScope, refs: readonly NotificationRef[]): Promise<NotificationRef[]>
  /**
   * The place of the newest event `list` would show now (null: none): where a stream that
   * resumes from nothing starts. Same readers as `list`.
   */
  last(scope: TenantScope, infrastructureId: string): Promise<EventCursor | null>
}
