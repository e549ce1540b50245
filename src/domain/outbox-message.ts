import { IllegalTransitionError } from './errors.js'
import type { MessageNotification } from './notification.js'
import type { TraceContext } from './trace-context.js'

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }

export const DELIVERY_STATUSES = [
  'pending',
  'processing',
  'processed',
  'failed',
  'dead',
  'cancelled',
  'confirmed',
  'bounced',
] as const
/**
 * `pending -> processing -> processed | failed`; a retryable failure goes back to
 * `pending`; a message out of attempts is `dead`. `processed` and `failed` are final;
 * `dead` (and `failed`) leave only by an explicit redrive. A cancel moves a `pending`
 * message (or one whose holder's lease lapsed) to `cancelled`, which is final. A provider's
 * receipt moves a `processed` message to `confirmed` (it reached the recipient) or `bounced`
 * (it did not); both final.
 */
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number]

/**
 * Within one tenant's queue a claim takes higher priorities first (then the oldest due);
 * between tenants the round robin stays fair whatever their priorities: a tenant's `high`
 * goes ahead of its own `normal` and `low`, never ahead of another tenant's turn.
 */
export const MESSAGE_PRIORITIES = ['high', 'normal', 'low'] as const
export type MessagePriority = (typeof MESSAGE_PRIORITIES)[number]

/**
 * What a dead (or failed for good) message does to its ordering key, per channel
 * (`config.orderingOnDead`): `hold` keeps the key's later messages waiting until it is
 * redriven or cancelled, `skip` lets them go on. Absent: `hold`, so a key's order is never
 * broken unless its channel says so.
 */
export const ORDERING_ON_DEAD = ['hold', 'skip'] as const
export type OrderingOnDead = (typeof ORDERING_ON_DEAD)[number]

/** The stored rank of a priority: claims take the lowest rank first (0 high, 1 normal, 2 low). */
export const priorityRank = (p: MessagePriority): number => MESSAGE_PRIORITIES.indexOf(p)
export const priorityOfRank = (rank: number): MessagePriority => MESSAGE_PRIORITIES[rank] ?? 'normal'

/** A queued message. Everything but the delivery-state fields is immutable after enqueue. */
export interface OutboxMessage {
  readonly id: string
  readonly infrastructureId: string
  readonly businessId: string | null
  readonly channelId: string
  readonly payload: JsonValue
  /** User ids or addresses; null means the channel's opted-in members. */
  readonly recipients: readonly string[] | null
  readonly idempotencyKey: string | null
  readonly maxAttempts: number
  readonly createdBy: string
  readonly createdAt: Date
  /**
   * Set on the messages a notify wrote, null on a plain enqueue: the notification, the
   * recipient user, the category and the template version to render (see docs/notify.md).
   */
  readonly notification: MessageNotification | null
  /** Its place in its tenant's queue. */
  readonly priority: MessagePriority
  /**
   * Messages of one tenant with the same key are delivered one at a time, in enqueue order
   * (docs/worker.md, "Ordering keys"); null: none, the message goes in parallel with the rest.
   */
  readonly orderingKey: string | null
  /** The trace the enqueue ran in (docs/live.md); null when no span was recording. */
  readonly traceContext: TraceContext | null
  // delivery state
  readonly status: DeliveryStatus
  readonly attempts: number
  readonly availableAt: Date
  readonly leaseToken: string | null
  readonly leasedUntil: Date | null
  readonly lastError: string | null
  readonly settledAt: Date | null
}

/** A message leased to one claimer; its `leaseToken` fences every later ack. */
export interface ClaimedMessage extends OutboxMessage {
  readonly status: 'processing'
  readonly leaseToken: string
  readonly leasedUntil: Date
}

const TRANSITIONS: Readonly<Record<DeliveryStatus, readonly DeliveryStatus[]>> = {
  pending: ['processing', 'cancelled'],
  // processing -> processing: a lapsed lease claimed again by another worker;
  // processing -> cancelled: only once the lease lapsed (`isCancellable`).
  processing: ['processed', 'failed', 'pending', 'dead', 'processing', 'cancelled'],
  processed: ['confirmed', 'bounced'],
  failed: ['pending'],
  dead: ['pending'],
  cancelled: [],
  confirmed: [],
  bounced: [],
}

/** What a provider's receipt says became of a delivered message. */
export const RECEIPT_STATUSES = ['confirmed', 'bounced'] as const
export type ReceiptStatus = (typeof RECEIPT_STATUSES)[number]

/** Statuses a message never leaves but by an explicit redrive (failed, dead) or not at all: what retention may remove. */
export const SETTLED_STATUSES = ['processed', 'failed', 'dead', 'cancelled', 'confirmed', 'bounced'] as const

export function canTransition(from: DeliveryStatus, to: DeliveryStatus): boolean {
  return TRANSITIONS[from].includes(to)
}

/** Throws IllegalTransitionError for any move the state machine does not allow. */
export function assertTransition(from: DeliveryStatus, to: DeliveryStatus, reason?: string): void {
  if (!canTransition(from, to)) throw new IllegalTransitionError(from, to, reason)
}

/** A message can be claimed when it is pending and due, or when its holder's lease lapsed. */
export function isClaimable(m: OutboxMessage, now: Date): boolean {
  if (m.status === 'pending') return m.availableAt.getTime() <= now.getTime()
  if (m.status === 'processing') return m.leasedUntil !== null && m.leasedUntil.getTime() <= now.getTime()
  return false
}

/**
 * A cancel takes a message nobody holds: pending (due or scheduled), or held under a lease
 * that lapsed (its holder is gone; should it come back, its ack is fenced by the token). A
 * message held under a live lease is left to its worker: its settlement wins, so a message
 * is never both sent and cancelled.
 */
export function isCancellable(m: OutboxMessage, now: Date): boolean {
  if (m.status === 'pending') return true
  return m.status === 'processing' && m.leasedUntil !== null && m.leasedUntil.getTime() <= now.getTime()
}

/** What an ack asks for. */
export type AckOutcome =
  | { readonly outcome: 'processed' }
  | {
      readonly outcome: 'failed'
      readonly reason: string
      /** Retry after this delay unless attempts are exhausted (then dead); absent: failed for good. */
      readonly retryAfterMs?: number | undefined
    }

/**
 * The delivery-state change an ack makes to a held message. Times are the store's: a final
 * status is stamped with the store's now, and a retry falls due `retryAfterMs` after it.
 */
export type Settlement =
  | { readonly status: 'processed'; readonly lastError: null }
  | { readonly status: 'failed' | 'dead'; readonly lastError: string }
  | { readonly status: 'pending'; readonly lastError: string; readonly retryAfterMs: number }

/**
 * Decides the next state of a held message. Pure: the repository applies it, fenced
 * by the lease token, so a stale ack changes nothing.
 */
export function settle(message: OutboxMessage, ack: AckOutcome): Settlement {
  if (message.status !== 'processing') {
    throw new IllegalTransitionError(message.status, ack.outcome, 'only a claimed message can be acked')
  }
  if (ack.outcome === 'processed') return { status: 'processed', lastError: null }
  if (ack.retryAfterMs === undefined) return { status: 'failed', lastError: ack.reason }
  if (message.attempts >= message.maxAttempts) return { status: 'dead', lastError: ack.reason }
  return { status: 'pending', lastError: ack.reason, retryAfterMs: Math.max(0, ack.retryAfterMs) }
}

/** The retry delay of a settlement, null for a final status (the SQL stores' column shape). */
export const retryDelayOf = (s: Settlement): number | null => (s.status === 'pending' ? s.retryAfterMs : null)

/** Bytes of the payload as stored (UTF-8 JSON). */
const encoder = new TextEncoder()
export function payloadBytes(payload: JsonValue): number {
  return encoder.encode(JSON.stringify(payload)).byteLength
}
