import type {
  DeliveryCounts,
  DeliveryState,
  Notification,
  NotificationDelivery,
  NotificationSkip,
  ThrottledCount,
} from '../domain/notification.js'
import type { TenantScope } from '../domain/tenant-scope.js'

export interface NotificationListFilter {
  readonly infrastructureId: string
  readonly businessId?: string | null
  readonly categoryKey?: string
  /** Notifications this user was a recipient of (a message or a skip). */
  readonly userId?: string
  readonly since?: Date
  readonly until?: Date
  /** Keyset pagination, newest first: older than this notification. */
  readonly before?: string
  readonly limit: number
}

export interface DeliveryFilter {
  readonly infrastructureId: string
  readonly notificationId: string
  readonly state?: DeliveryState
  readonly userId?: string
  /** Keyset pagination in (userId, channelType) order. */
  readonly after?: { readonly userId: string; readonly channelType: string }
  readonly limit: number
}

/**
 * Notifications and the recipients they left out. Readable and written by `infra_admin`
 * and `service` where the scope reaches the notification's (infrastructure, business);
 * members see none (a status names every recipient). Each names a category of its own
 * infrastructure. The messages themselves are the outbox's, written through `enqueueMany`.
 */
export interface NotificationRepository {
  /**
   * Appends the notification, or, when (infrastructureId, businessId, idempotencyKey) is
   * taken, returns the first one with `created: false` and writes nothing.
   * TenantScopeViolationError / ForbiddenRoleError when not the scope's to write.
   */
  insert(
    scope: TenantScope,
    notification: Notification,
  ): Promise<{ notification: Notification; created: boolean }>
  /** The notification holding the key, if any. */
  findByIdempotencyKey(
    scope: TenantScope,
    key: {
      readonly infrastructureId: string
      readonly businessId: string | null
      readonly idempotencyKey: string
    },
  ): Promise<Notification | null>
  /** Appends the skips of a notification, all in one batch. */
  insertSkips(scope: TenantScope, skips: readonly NotificationSkip[]): Promise<void>
  /** null when absent or not visible to the scope. */
  find(scope: TenantScope, infrastructureId: string, id: string): Promise<Notification | null>
  /** Newest first. */
  list(scope: TenantScope, filter: NotificationListFilter): Promise<Notification[]>
  /** Its messages (by their outbox state) and skips, in (userId, channelType) order. */
  deliveries(scope: TenantScope, filter: DeliveryFilter): Promise<NotificationDelivery[]>
  /** How many of its deliveries stand in each state. */
  counts(scope: TenantScope, infrastructureId: string, notificationId: string): Promise<DeliveryCounts>
  /**
   * Per category, the `throttled` skips of the notifications the scope reads, created at or
   * after `since`, by category key; categories with none are left out.
   */
  throttledCounts(scope: TenantScope, infrastructureId: string, since: Date): Promise<ThrottledCount[]>
}
