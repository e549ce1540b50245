import type { AuditEntry } from '../domain/audit.js'
import type { DeliveryAttempt, QueueCounts } from '../domain/delivery.js'
import type { MessageNotification } from '../domain/notification.js'
import type {
  ClaimedMessage,
  DeliveryStatus,
  JsonValue,
  MessagePriority,
  OutboxMessage,
  ReceiptStatus,
  Settlement,
} from '../domain/outbox-message.js'
import type { TenantScope } from '../domain/tenant-scope.js'
import type { TraceContext } from '../domain/trace-context.js'

/*
 * Time in this port: every "when" that a worker's clock would otherwise decide (lease
 * expiry, retry and release delays, due, redrive, queue ages) is a relative duration that
 * the store resolves against its own clock: PostgreSQL the database's `now()`, SQLite the
 * process clock of its one host, memory the clock it was given. A worker whose clock runs
 * ten minutes fast then takes no lease that is still live and sends nothing early. Only
 * an absolute time a host gave on purpose (an enqueue's `availableAt`, a prune cut-off)
 * stays absolute; whether it is due is still the store's clock's call.
 */

export interface ClaimOptions {
  /** At most this many messages. */
  readonly limit: number
  /** The lease each claimed message gets, from the store's now. */
  readonly leaseMs: number
  /** Restrict the claim to one infrastructure; otherwise every tenant the scope reaches. */
  readonly infrastructureId?: string
  /** Skip these infrastructures (the worker's per-tenant concurrency cap is reached for them). */
  readonly excludeInfrastructureIds?: readonly string[]
  /** At most this many messages of one infrastructure in this claim. */
  readonly perTenantLimit?: number
}

/** A held message, named by the lease that holds it: every lease operation is fenced by the token. */
export interface LeaseCommand {
  readonly infrastructureId: string
  readonly id: string
  readonly leaseToken: string
}

export interface SettleCommand extends LeaseCommand {
  readonly settlement: Settlement
}

/** One held message's settlement and the record of the attempt that led to it. */
export interface CompleteCommand {
  readonly settle: SettleCommand
  readonly attempt: DeliveryAttempt
}

/** A held message that stays held: its lease extended by `leaseMs` from the store's now, its attempt recorded. */
export interface RetainCommand {
  readonly lease: LeaseCommand & { readonly leaseMs: number }
  readonly attempt: DeliveryAttempt
}

export interface OutboxListFilter {
  readonly infrastructureId: string
  readonly businessId?: string | null
  readonly channelId?: string
  readonly status?: DeliveryStatus
  /** One of the message's `recipients`, or the user a notification's message goes to. */
  readonly recipient?: string
  /** Keyset pagination: messages after this id, in (createdAt, id) order. */
  readonly after?: string
  readonly limit: number
}

/** What a caller says of a new message; the store adds the channel's id and attempts and the delivery state. */
export interface NewOutboxMessage {
  readonly id: string
  readonly infrastructureId: string
  readonly businessId: string | null
  readonly payload: JsonValue
  readonly recipients: readonly string[] | null
  readonly idempotencyKey: string | null
  readonly createdBy: string
  /** When the caller asked (a record, never compared with a lease or a due time). */
  readonly createdAt: Date
  /**
   * The notification this message is one delivery of (notify's messages only; absent or
   * null on a plain enqueue). Such a message carries no idempotency key of its own (the
   * notification's key covers its fan-out) and is written by `infra_admin` or `service` only.
   */
  readonly notification?: MessageNotification | null
  /** Its place in its tenant's queue; absent: `normal`. */
  readonly priority?: MessagePriority
  /** Its ordering key (delivered after the tenant's earlier messages of the key); absent or null: none. */
  readonly orderingKey?: string | null
  /** The W3C trace context of the enqueuing span (absent or null: none was recording). */
  readonly traceContext?: TraceContext | null
}

/**
 * When a new message becomes due: at a time the host named (absolute, the host's intent),
 * or `afterMs` from the store's own now (`{ afterMs: 0 }`: at once).
 */
export type Due = { readonly at: Date } | { readonly afterMs: number }

/** One message of `enqueueMany`, its channel named by id or key. */
export interface EnqueueCommand {
  /** The new message: pending, unclaimed; its channel id and max attempts come from the channel. */
  readonly message: NewOutboxMessage
  readonly due: Due
  readonly channel: { readonly id: string } | { readonly key: string }
  /** Max attempts where the channel sets none. */
  readonly defaultMaxAttempts: number
  /**
   * Appended when the message is created; null: none of its own (a notify appends one entry
   * for the notification, not one per message of its fan-out).
   */
  readonly audit: AuditEntry | null
}

/**
 * Which messages of one infrastructure a cancel names: one message, every message of a
 * notification, or the message a plain enqueue's idempotency key produced (the key of a
 * notify is the notification's: name the notification).
 */
export type CancelTarget =
  | { readonly messageId: string }
  | { readonly notificationId: string }
  | { readonly businessId: string | null; readonly idempotencyKey: string }

export interface CancelCommand {
  readonly infrastructureId: string
  readonly target: CancelTarget
}

export interface CancelResult {
  /** Moved to `cancelled` by this call, stamped `settledAt` = the store's now; in (createdAt, id) order. */
  readonly cancelled: OutboxMessage[]
  /**
   * Named, in the scope, and left as they were: held under a live lease (the worker's
   * settlement decides), settled, or cancelled before. In (createdAt, id) order.
   */
  readonly kept: OutboxMessage[]
}

export interface RescheduleCommand {
  readonly infrastructureId: string
  readonly id: string
  readonly due: Due
}

/** Names a delivered message by what its provider knows it as (docs/live.md, "Provider receipts"). */
export interface ProviderMessageRef {
  readonly infrastructureId: string
  readonly channelId: string
  /** The id a delivered attempt recorded (`DeliveryAttempt.providerMessageId`), exactly. */
  readonly providerMessageId: string
}

export interface ReceiptCommand {
  readonly infrastructureId: string
  readonly id: string
  readonly status: ReceiptStatus
}

export interface EnqueueOutcome {
  readonly message: OutboxMessage
  /** false: the idempotency key was taken, `message` is the first one. */
  readonly created: boolean
}

/**
 * The append-only outbox and its delivery state. A message is visible and writable where
 * the scope reaches its (infrastructure, business); delivery state changes need role
 * `service` (redrive: `service` or `infra_admin`). Every lease operation is fenced by the
 * lease token: once the lease was lost (lapsed and claimed again), it changes nothing.
 */
export interface OutboxRepository {
  /**
   * Appends messages in order, all or nothing, and is the one way messages enter the store.
   * Each message must lie in the scope (TenantScopeViolationError otherwise, before any
   * channel is looked up), names its channel by id or key in its own infrastructure
   * (NotFoundError when absent, ChannelDisabledError when disabled, before anything is
   * written) and takes that channel's id and max attempts (else `defaultMaxAttempts`).
   * Idempotent: when (infrastructureId, businessId, idempotencyKey) is taken, the result is
   * the first message with `created: false` and nothing is written; a key repeated within
   * the batch answers with the batch's first message. Each message created appends its
   * `audit` entry, if it has one (details gain `channelId`), in the same unit of work. A
   * message of a notification with an idempotency key is a ValidationError, one written by
   * a member a ForbiddenRoleError. A plain message (no notification, not a digest's delivery:
   * `foldsIntoChannelDigest`) whose channel has `config.digest` writes nothing of the batch
   * and throws ChannelDigestsSignal, for the caller to fold it into the channel's digest.
   * One result per command, in order.
   */
  enqueueMany(scope: TenantScope, commands: readonly EnqueueCommand[]): Promise<EnqueueOutcome[]>
  /** null when absent or outside the scope. */
  findById(scope: TenantScope, infrastructureId: string, id: string): Promise<OutboxMessage | null>
  list(scope: TenantScope, filter: OutboxListFilter): Promise<OutboxMessage[]>
  /**
   * Leases up to `limit` claimable messages (pending and due, or holding a lapsed lease, both
   * by the store's clock) within the scope, fairly across tenants, each tenant's highest
   * priority first and within it the oldest `availableAt` (tenants take turns whatever
   * their priorities): status `processing`, a fresh lease token, `leasedUntil` = the
   * store's now + `leaseMs`, attempts + 1. Two concurrent claims never return one message
   * while its lease is live. Requires role `service` (else []).
   */
  claim(scope: TenantScope, options: ClaimOptions): Promise<ClaimedMessage[]>
  /**
   * Applies a settlement to a message still held under `leaseToken` (status `processing`):
   * a final status is stamped `settledAt` = the store's now; a retry is due `retryAfterMs`
   * after it. Fenced: a stale or repeated ack, a foreign scope or a non-service role
   * changes nothing and returns false.
   */
  settle(scope: TenantScope, command: SettleCommand): Promise<boolean>
  /** Extends a held lease to the store's now + `leaseMs`. `service` only; false when the lease is no longer held. */
  renew(scope: TenantScope, command: LeaseCommand & { readonly leaseMs: number }): Promise<boolean>
  /**
   * Gives a held message back without counting the attempt (shutdown, rate limit, paused
   * channel): status `pending`, due `delayMs` after the store's now, attempts - 1. `service` only.
   */
  release(scope: TenantScope, command: LeaseCommand & { readonly delayMs: number }): Promise<boolean>
  /**
   * Settles many held messages and appends the attempt of each one it settled, in one go
   * (one statement on PostgreSQL). Each item is fenced by its own lease token, as `settle`:
   * a stale or repeated token, a foreign scope or a non-service role changes nothing for
   * that message only (and records no attempt for it). Returns, per item in order, whether
   * it was settled.
   */
  completeMany(scope: TenantScope, items: readonly CompleteCommand[]): Promise<boolean[]>
  /**
   * For a broker's workers that retry a message themselves: extends each held lease, fenced
   * as `renew`, and appends the attempt only where that held. The status does not change.
   * Returns, per item in order, whether the lease was still held. `service` only.
   */
  retainMany(scope: TenantScope, items: readonly RetainCommand[]): Promise<boolean[]>
  /** The attempts of one message, oldest first; [] outside the scope. */
  listAttempts(scope: TenantScope, infrastructureId: string, messageId: string): Promise<DeliveryAttempt[]>
  /**
   * Sends a `dead` or `failed` message round again: `pending`, due at the store's now,
   * attempts 0, last error kept. `service` or `infra_admin`; null when absent, outside the
   * scope, or in another state.
   */
  redrive(
    scope: TenantScope,
    command: { readonly infrastructureId: string; readonly id: string },
  ): Promise<OutboxMessage | null>
  /**
   * Cancels the messages `target` names within the scope, in one unit: each one nobody
   * holds (`isCancellable`: pending, due or scheduled, or held under a lapsed lease) becomes
   * `cancelled` with its lease cleared, so a holder that comes back is refused by its fence;
   * one held under a live lease is left to its worker. `service` or `infra_admin` (else
   * nothing is named). A claim racing the cancel either takes the message first (it is then
   * held and kept) or does not see it at all.
   */
  cancel(scope: TenantScope, command: CancelCommand): Promise<CancelResult>
  /**
   * Moves the due time of a pending message (nobody holds it): `availableAt` as `due` says.
   * `service` or `infra_admin`; null when absent, outside the scope, or in another state.
   */
  reschedule(scope: TenantScope, command: RescheduleCommand): Promise<OutboxMessage | null>
  /**
   * The message of `ref.channelId` one of whose delivered attempts recorded
   * `ref.providerMessageId`, within the scope (the newest such message should a provider
   * reuse an id); null when none. `service` only.
   */
  findByProviderMessageId(scope: TenantScope, ref: ProviderMessageRef): Promise<OutboxMessage | null>
  /**
   * A provider's receipt: a `processed` message becomes `status` (`confirmed` or `bounced`,
   * both final; `settledAt` stays the delivery's). `service` only; null when absent,
   * outside the scope, or in any other state (a second receipt changes nothing).
   */
  applyReceipt(scope: TenantScope, command: ReceiptCommand): Promise<OutboxMessage | null>
  /**
   * Counts per (infrastructure, channel) within the scope, ordered by infrastructure then
   * channel; the oldest due message's age is taken against the store's now.
   */
  stats(scope: TenantScope, filter: { readonly infrastructureId?: string }): Promise<QueueCounts[]>
}
