import type { AuditEntry } from '../../domain/audit.js'
import type { BreakerState } from '../../domain/breaker.js'
import type { Category } from '../../domain/category.js'
import type { Channel } from '../../domain/channel.js'
import type { DeliveryAttempt } from '../../domain/delivery.js'
import type { Digest } from '../../domain/digest.js'
import type { EventEndpointRecord } from '../../domain/event-endpoint.js'
import type { DeliveryEvent } from '../../domain/events.js'
import type { InboxEntry } from '../../domain/inbox.js'
import type { Membership } from '../../domain/membership.js'
import type { Notification, NotificationSkip } from '../../domain/notification.js'
import type { OutboxMessage } from '../../domain/outbox-message.js'
import type { Preference, TenantDefault } from '../../domain/preference.js'
import type { MinuteCounts } from '../../domain/queue-history.js'
import type { QuietHoursDefault } from '../../domain/quiet-hours.js'
import type { BucketState } from '../../domain/rate-bucket.js'
import type { RecipientProfile } from '../../domain/recipient-profile.js'
import type { SecurityEvent } from '../../domain/security-log.js'
import type { TemplateSettings, TemplateVersion } from '../../domain/template.js'

/** An endpoint row with its lease columns. */
export interface MemoryEventEndpoint {
  readonly record: EventEndpointRecord
  readonly leaseToken: string | null
  readonly leasedUntil: number | null
}

/** The tables, keyed as the SQL keys them: every key starts with the infrastructure. */
export class MemoryState {
  readonly channels = new Map<string, Channel>()
  readonly members = new Map<string, Membership>()
  readonly outbox = new Map<string, OutboxMessage>()
  /** (infrastructure, business, idempotency key) -> outbox key: the unique index. */
  readonly idempotency = new Map<string, string>()
  /** outbox key -> a keyed message's place in its key's order (the SQL stores' ordering_seq). */
  readonly orderingSeq = new Map<string, number>()

  readonly audit: AuditEntry[] = []
  /** (actor, role, hour, action, error code) -> the count of refusals outside the actor's scope. */
  readonly security = new Map<string, SecurityEvent>()
  /** outbox key -> its attempts, oldest first. */
  readonly attempts = new Map<string, DeliveryAttempt[]>()
  /** (infrastructure, message, user) -> entry. */
  readonly inbox = new Map<string, InboxEntry>()
  /** (infrastructure, id) -> template version. */
  readonly templates = new Map<string, TemplateVersion>()
  /** infrastructure -> its template settings. */
  readonly templateSettings = new Map<string, TemplateSettings>()
  /** (infrastructure, user) -> profile. */
  readonly profiles = new Map<string, RecipientProfile>()
  /** (infrastructure, key) -> category. */
  readonly categories = new Map<string, Category>()
  /** (infrastructure, user, category, channel type) -> choice. */
  readonly preferences = new Map<string, Preference>()
  /** (infrastructure, business or '', category, channel type) -> default. */
  readonly tenantDefaults = new Map<string, TenantDefault>()
  /** (infrastructure, channel) -> the channel's rate bucket. */
  readonly rateBuckets = new Map<string, BucketState>()
  /** Throttle counters by infrastructure/user/category: the current window's start (ms) and slots taken. */
  /** Default quiet hours by infrastructure. */
  readonly quietHoursDefaults = new Map<string, QuietHoursDefault>()
  readonly throttles = new Map<string, { readonly windowStart: number; readonly taken: number }>()
  /** (infrastructure, id) -> digest. */
  readonly digests = new Map<string, Digest>()
  /** The group's key -> its open digest's (infrastructure, id) key. */
  readonly openDigests = new Map<string, string>()
  /** (infrastructure, channel) -> the channel's circuit breaker. */
  readonly breakers = new Map<string, BreakerState>()
  /** (infrastructure, minute ms) -> the queue's counters of that minute (domain/queue-history.ts). */
  readonly queueMinutes = new Map<string, MinuteCounts>()
  /** (infrastructure, id) -> notification. */
  readonly notifications = new Map<string, Notification>()
  /** (infrastructure, business, idempotency key) -> notification key: the unique index. */
  readonly notificationKeys = new Map<string, string>()
  /** (infrastructure, notification, user, channel type) -> skip. */
  readonly notificationSkips = new Map<string, NotificationSkip>()
  /** Every tenant's delivery events in commit order, each with its place (`0.<seq>`). */
  readonly events: DeliveryEvent[] = []
  /** (infrastructure, id) -> status webhook endpoint, with its lease. */
  readonly eventEndpoints = new Map<string, MemoryEventEndpoint>()
  /** The last place drawn (a private field: not one of the tables a dump lists). */
  #orderingDrawn = 0
  #eventDrawn = 0

  /** The next event's place: it only grows (units run one at a time, so in commit order). */
  drawEventSeq(): number {
    return ++this.#eventDrawn
  }

  /** The next place in an ordering key's order: it only grows (a rolled-back draw leaves a gap, as a sequence does). */
  drawOrderingSeq(): number {
    return ++this.#orderingDrawn
  }
}

export const profileKey = (infrastructureId: string, userId: string) => `${infrastructureId}/${userId}`
export const categoryKeyOf = (infrastructureId: string, key: string) => `${infrastructureId}/${key}`
export const preferenceKeyOf = (p: {
  infrastructureId: string
  userId: string
  categoryKey: string
  channelType: string
}) => `${p.infrastructureId}/${p.userId}/${p.categoryKey}/${p.channelType}`
export const tenantDefaultKeyOf = (d: {
  infrastructureId: string
  businessId: string | null
  categoryKey: string
  channelType: string
}) => `${d.infrastructureId}/${d.businessId ?? ''}/${d.categoryKey}/${d.channelType}`

export const queueMinuteKey = (infrastructureId: string, minute: number) => `${infrastructureId}/${minute}`
export const channelKey = (infrastructureId: string, id: string) => `${infrastructureId}/${id}`
export const memberKey = (infrastructureId: string, channelId: string, userId: string) =>
  `${infrastructureId}/${channelId}/${userId}`
export const messageKey = (infrastructureId: string, id: string) => `${infrastructureId}/${id}`
export const idempotencyKeyOf = (infrastructureId: string, businessId: string | null, key: string) =>
  `${infrastructureId}/${businessId ?? ''}/${key}`

/**
 * The undo log of one unit of work: each write records how to take itself back, so a unit
 * that throws leaves the state as it found it (what a rolled-back transaction does).
 */
export class Journal {
  private readonly undo: Array<() => void> = []

  setIn<K, V>(map: Map<K, V>, key: K, value: V): void {
    const had = map.has(key)
    const old = map.get(key)
    map.set(key, value)
    this.undo.push(() => (had ? map.set(key, old as V) : map.delete(key)))
  }

  deleteIn<K, V>(map: Map<K, V>, key: K): void {
    if (!map.has(key)) return
    const old = map.get(key) as V
    map.delete(key)
    this.undo.push(() => map.set(key, old))
  }

  push<T>(list: T[], value: T): void {
    list.push(value)
    this.undo.push(() => list.pop())
  }

  rollback(): void {
    for (let i = this.undo.length - 1; i >= 0; i--) this.undo[i]!()
    this.undo.length = 0
  }
}

/** A copy the caller may mutate without touching the store (dates stay dates). */
export const copy = <T>(value: T): T => structuredClone(value)
