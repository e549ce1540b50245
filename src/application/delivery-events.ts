import type { EventType, NewDeliveryEvent } from '../domain/events.js'
import type { NotificationSkip } from '../domain/notification.js'
import type { ClaimedMessage, DeliveryStatus, JsonValue, OutboxMessage } from '../domain/outbox-message.js'
import type { ProviderReport } from '../domain/receipts.js'
import type { TenantScope } from '../domain/tenant-scope.js'
import type { Repositories } from '../ports/unit-of-work.js'
import type { ServiceContext } from './context.js'
import type { AttemptReport } from './settle.js'

/** What the event of a settled attempt is called, by the status it left the message in. */
const SETTLED: Partial<Record<DeliveryStatus, EventType>> = {
  processed: 'message.delivered',
  pending: 'message.failed',
  failed: 'message.failed',
  dead: 'message.dead',
}

const base = (ctx: ServiceContext, m: OutboxMessage, type: EventType) => ({
  id: ctx.ids.next(),
  infrastructureId: m.infrastructureId,
  businessId: m.businessId,
  type,
  messageId: m.id,
  notificationId: m.notification?.id ?? null,
  channelId: m.channelId,
})

/**
 * The event of one settled attempt. `message.failed` says whether another attempt follows
 * (`willRetry`: the message went back to `pending`) or not (a permanent failure, `failed`).
 */
export function settledEvent(
  ctx: ServiceContext,
  held: ClaimedMessage,
  report: AttemptReport,
  status: DeliveryStatus,
): NewDeliveryEvent | null {
  const type = SETTLED[status]
  if (type === undefined) return null
  const data: { [key: string]: JsonValue } = {
    attempt: held.attempts,
    status,
    ...(held.notification !== null && { userId: held.notification.userId }),
  }
  if (type === 'message.delivered') {
    data.provider = report.provider ?? null
    data.providerMessageId = report.providerMessageId
  } else {
    data.errorCode = report.errorCode
    data.error = report.error
  }
  if (type === 'message.failed') data.willRetry = status === 'pending'
  return { ...base(ctx, held, type), data }
}

export const cancelledEvent = (ctx: ServiceContext, m: OutboxMessage): NewDeliveryEvent => ({
  ...base(ctx, m, 'message.cancelled'),
  data: { attempt: m.attempts, ...(m.notification !== null && { userId: m.notification.userId }) },
})

/** `message.confirmed` or `message.bounced`: a provider's receipt for a delivered message. */
export const receiptEvent = (
  ctx: ServiceContext,
  m: OutboxMessage,
  report: Pick<ProviderReport, 'target' | 'providerStatus' | 'reason'>,
): NewDeliveryEvent => ({
  ...base(ctx, m, m.status === 'confirmed' ? 'message.confirmed' : 'message.bounced'),
  data: {
    status: m.status,
    providerStatus: report.providerStatus,
    providerMessageId: 'providerMessageId' in report.target ? report.target.providerMessageId : null,
    reason: report.reason,
    ...(m.notification !== null && { userId: m.notification.userId }),
  },
})

export const skippedEvent = (ctx: ServiceContext, s: NotificationSkip): NewDeliveryEvent => ({
  id: ctx.ids.next(),
  infrastructureId: s.infrastructureId,
  businessId: s.businessId,
  type: 'recipient.skipped',
  messageId: null,
  notificationId: s.notificationId,
  channelId: null,
  data: { userId: s.userId, channelType: s.channelType, reason: s.reason },
})

const FINAL: ReadonlySet<DeliveryStatus> = new Set(['processed', 'failed', 'dead', 'cancelled'])

/**
 * `notification.completed` for each notification of `settled` (messages this unit of work
 * just made final) whose every message is now final. A message redriven after that and
 * final again completes its notification again.
 */
export async function completedEvents(
  ctx: ServiceContext,
  r: Repositories,
  scope: TenantScope,
  settled: readonly { readonly message: OutboxMessage; readonly status: DeliveryStatus }[],
): Promise<NewDeliveryEvent[]> {
  const byKey = new Map<string, OutboxMessage>()
  for (const { message, status } of settled) {
    if (message.notification === null || !FINAL.has(status)) continue
    byKey.set(`${message.infrastructureId}/${message.notification.id}`, message)
  }
  if (byKey.size === 0) return []
  const finished = await r.events.finishedNotifications(
    scope,
    [...byKey.values()].map((m) => ({
      infrastructureId: m.infrastructureId,
      notificationId: m.notification!.id,
    })),
  )
  return finished.map(({ infrastructureId, notificationId }) => {
    const m = byKey.get(`${infrastructureId}/${notificationId}`)!
    return {
      id: ctx.ids.next(),
      infrastructureId,
      businessId: m.businessId,
      type: 'notification.completed' as const,
      messageId: null,
      notificationId,
      channelId: null,
      data: {},
    }
  })
}
