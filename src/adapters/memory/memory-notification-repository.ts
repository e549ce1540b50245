import { ForbiddenRoleError, TenantScopeViolationError } from '../../domain/errors.js'
import {
  DELIVERY_STATES,
  type DeliveryCounts,
  type DeliveryState,
  type Notification,
  type NotificationDelivery,
  type NotificationSkip,
  type ThrottledCount,
} from '../../domain/notification.js'
import type { DeliveryStatus } from '../../domain/outbox-message.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type {
  DeliveryFilter,
  NotificationListFilter,
  NotificationRepository,
} from '../../ports/notification-repository.js'
import { channelKey, copy, type Journal, type MemoryState } from './memory-state.js'

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
/** (createdAt, id) descending: the order of listing pages. */
const newestFirst = (a: Notification, b: Notification) =>
  b.createdAt.getTime() - a.createdAt.getTime() || cmp(b.id, a.id)

/** A receipt refines a delivery: `confirmed` is still delivered, `bounced` did not reach its recipient. */
const STATE_OF: Partial<Record<DeliveryStatus, DeliveryState>> = {
  processed: 'delivered',
  confirmed: 'delivered',
  processing: 'pending',
  bounced: 'failed',
}
export const stateOf = (status: DeliveryStatus): DeliveryState =>
  STATE_OF[status] ?? (status as DeliveryState)

export const notificationKeyOf = (infrastructureId: string, id: string) => `${infrastructureId}/${id}`
const idempotencyOf = (infrastructureId: string, businessId: string | null, key: string) =>
  `${infrastructureId}/${businessId ?? ''}/${key}`

export class MemoryNotificationRepository implements NotificationRepository {
  constructor(
    private readonly state: MemoryState,
    private readonly journal: Journal,
  ) {}

  private visible(scope: TenantScope, n: { infrastructureId: string; businessId: string | null }): boolean {
    return scope.hasRole('infra_admin', 'service') && scope.canAccess(n.infrastructureId, n.businessId)
  }

  async insert(
    scope: TenantScope,
    n: Notification,
  ): Promise<{ notification: Notification; created: boolean }> {
    if (!scope.canAccess(n.infrastructureId, n.businessId))
      throw new TenantScopeViolationError(n.infrastructureId, n.businessId)
    if (!scope.hasRole('infra_admin', 'service'))
      throw new ForbiddenRoleError('notification.insert', ['infra_admin', 'service'], scope.role)
    if (n.idempotencyKey !== null) {
      const k = idempotencyOf(n.infrastructureId, n.businessId, n.idempotencyKey)
      const first = this.state.notificationKeys.get(k)
      if (first !== undefined)
        return { notification: copy(this.state.notifications.get(first)!), created: false }
      this.journal.setIn(this.state.notificationKeys, k, notificationKeyOf(n.infrastructureId, n.id))
    }
    this.journal.setIn(this.state.notifications, notificationKeyOf(n.infrastructureId, n.id), copy(n))
    return { notification: copy(n), created: true }
  }

  async findByIdempotencyKey(
    scope: TenantScope,
    key: { infrastructureId: string; businessId: string | null; idempotencyKey: string },
  ): Promise<Notification | null> {
    const at = this.state.notificationKeys.get(
      idempotencyOf(key.infrastructureId, key.businessId, key.idempotencyKey),
    )
    const n = at === undefined ? undefined : this.state.notifications.get(at)
    return n && this.visible(scope, n) ? copy(n) : null
  }

  async insertSkips(scope: TenantScope, skips: readonly NotificationSkip[]): Promise<void> {
    for (const s of skips) {
      const parent = this.state.notifications.get(notificationKeyOf(s.infrastructureId, s.notificationId))
      if (!this.visible(scope, s) || !parent || parent.businessId !== s.businessId)
        throw new TenantScopeViolationError(s.infrastructureId, s.businessId)
      this.journal.setIn(
        this.state.notificationSkips,
        `${s.infrastructureId}/${s.notificationId}/${s.userId}/${s.channelType}`,
        copy(s),
      )
    }
  }

  async find(scope: TenantScope, infrastructureId: string, id: string): Promise<Notification | null> {
    const n = this.state.notifications.get(notificationKeyOf(infrastructureId, id))
    return n && this.visible(scope, n) ? copy(n) : null
  }

  async list(scope: TenantScope, f: NotificationListFilter): Promise<Notification[]> {
    const before =
      f.before === undefined
        ? undefined
        : this.state.notifications.get(notificationKeyOf(f.infrastructureId, f.before))
    if (f.before !== undefined && (!before || !this.visible(scope, before))) return []
    const ofUser = f.userId === undefined ? null : this.notificationsOf(f.infrastructureId, f.userId)
    return [...this.state.notifications.values()]
      .filter(
        (n) =>
          n.infrastructureId === f.infrastructureId &&
          this.visible(scope, n) &&
          (f.businessId === undefined || n.businessId === f.businessId) &&
          (f.categoryKey === undefined || n.categoryKey === f.categoryKey) &&
          (ofUser === null || ofUser.has(n.id)) &&
          (f.since === undefined || n.createdAt.getTime() >= f.since.getTime()) &&
          (f.until === undefined || n.createdAt.getTime() < f.until.getTime()) &&
          (before === undefined || newestFirst(n, before) > 0),
      )
      .sort(newestFirst)
      .slice(0, f.limit)
      .map(copy)
  }

  /** The notifications a user has a message or a skip of. */
  private notificationsOf(infrastructureId: string, userId: string): Set<string> {
    const ids = new Set<string>()
    for (const m of this.state.outbox.values()) {
      if (m.infrastructureId === infrastructureId && m.notification?.userId === userId)
        ids.add(m.notification.id)
    }
    for (const s of this.state.notificationSkips.values()) {
      if (s.infrastructureId === infrastructureId && s.userId === userId) ids.add(s.notificationId)
    }
    return ids
  }

  async throttledCounts(
    scope: TenantScope,
    infrastructureId: string,
    since: Date,
  ): Promise<ThrottledCount[]> {
    const by = new Map<string, number>()
    for (const s of this.state.notificationSkips.values()) {
      if (s.infrastructureId !== infrastructureId || s.reason !== 'throttled') continue
      if (s.createdAt.getTime() < since.getTime() || !this.visible(scope, s)) continue
      const n = this.state.notifications.get(notificationKeyOf(infrastructureId, s.notificationId))
      if (!n) continue
      by.set(n.categoryKey, (by.get(n.categoryKey) ?? 0) + 1)
    }
    return [...by]
      .sort(([a], [b]) => cmp(a, b))
      .map(([categoryKey, throttled]) => ({ infrastructureId, categoryKey, throttled }))
  }

  private all(scope: TenantScope, infrastructureId: string, notificationId: string): NotificationDelivery[] {
    const n = this.state.notifications.get(notificationKeyOf(infrastructureId, notificationId))
    if (!n || !this.visible(scope, n)) return []
    const out: NotificationDelivery[] = []
    for (const m of this.state.outbox.values()) {
      if (m.infrastructureId !== infrastructureId || m.notification?.id !== notificationId) continue
      const channel = this.state.channels.get(channelKey(m.infrastructureId, m.channelId))
      out.push({
        userId: m.notification.userId,
        channelType: channel?.type ?? '',
        channelId: m.channelId,
        messageId: m.id,
        state: stateOf(m.status),
        reason: null,
        attempts: m.attempts,
        lastError: m.lastError,
        settledAt: m.settledAt,
        availableAt: m.status === 'pending' ? m.availableAt : null,
      })
    }
    for (const s of this.state.notificationSkips.values()) {
      if (s.infrastructureId !== infrastructureId || s.notificationId !== notificationId) continue
      out.push({
        userId: s.userId,
        channelType: s.channelType,
        channelId: null,
        messageId: null,
        state: 'skipped',
        reason: s.reason,
        attempts: 0,
        lastError: null,
        settledAt: null,
        availableAt: null,
      })
    }
    return out.sort((a, b) => cmp(a.userId, b.userId) || cmp(a.channelType, b.channelType))
  }

  async deliveries(scope: TenantScope, f: DeliveryFilter): Promise<NotificationDelivery[]> {
    const after = f.after
    return this.all(scope, f.infrastructureId, f.notificationId)
      .filter(
        (d) =>
          (f.state === undefined || d.state === f.state) &&
          (f.userId === undefined || d.userId === f.userId) &&
          (after === undefined ||
            cmp(d.userId, after.userId) > 0 ||
            (d.userId === after.userId && cmp(d.channelType, after.channelType) > 0)),
      )
      .slice(0, f.limit)
      .map(copy)
  }

  async counts(
    scope: TenantScope,
    infrastructureId: string,
    notificationId: string,
  ): Promise<DeliveryCounts> {
    const counts = Object.fromEntries(DELIVERY_STATES.map((s) => [s, 0])) as Record<DeliveryState, number>
    for (const d of this.all(scope, infrastructureId, notificationId)) counts[d.state]++
    return counts
  }
}
