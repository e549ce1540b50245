import type { AuditEntry } from '../domain/audit.js'
import type { ChannelStats, DeliveryAttempt } from '../domain/delivery.js'
import type { ClaimedMessage, DeliveryStatus, OutboxMessage, Settlement } from '../domain/outbox-message.js'
import type { TenantScope } from '../domain/tenant-scope.js'

export interface ClaimOptions {
  /** At most this many messages. */
  readonly limit: number
  /** The lease each claimed message gets, from `now`. */
  readonly leaseMs: number
  readonly now: Date
  /** Restrict the claim to one infrastructure; otherwise every tenant the scope reaches. */
  readonly infrastructureId?: string
  /** Skip these infrastructures (the worker's per-tenant concurrency cap is reached for them). */
  readonly excludeInfrastructureIds?: readonly string[]
  /** At most this many messages of one infrastructure in this claim. */
  readonly perTenantLimit?: number
}

export interface LeaseCommand {
  readonly infrastructureId: string
  readonly id: string
  readonly leaseToken: string
}

export interface SettleCommand {
  readonly infrastructureId: string
  readonly id: string
  /** The token the claim handed out: the fence. */
  readonly leaseToken: string
  readonly settlement: Settlement
}

/** One held message's settlement and the record of the attempt that led to it. */
export interface CompleteCommand {
  readonly settle: SettleCommand
  readonly attempt: DeliveryAttempt
}

export interface OutboxListFilter {
  readonly infrastructureId: string
  readonly businessId?: string | null
  readonly channelId?: string
  readonly status?: DeliveryStatus
  /** Keyset pagination: messages after this id, in (createdAt, id) order. */
  readonly after?: string
  readonly limit: number
}

/** One message of `enqueueMany`, its channel named by id or key. */
export interface EnqueueCommand {
  /** The new message (pending, unclaimed); its channel id and max attempts come from the channel. */
  readonly message: Omit<OutboxMessage, 'channelId' | 'maxAttempts'>
  readonly channel: { readonly id: string } | { readonly key: string }
  /** Max attempts where the channel sets none. */
  readonly defaultMaxAttempts: number
  /** Appended when the message is created. */
  readonly audit: AuditEntry
}

export interface EnqueueOutcome {
  readonly message: OutboxMessage
  /** false: the idempotency key was taken, `message` is the first one. */
  readonly created: boolean
}

/**
 * The append-only outbox. A message is visible and writable where the scope reaches
 * its (infrastructure, business); delivery state changes need role `service`.
 */
export interface OutboxRepository {
  /**
   * Appends the message, or, when (infrastructureId, businessId, idempotencyKey) is already
   * taken, returns the first message with `created: false` and writes nothing.
   * Throws TenantScopeViolationError outside the scope and NotFoundError when the channel
   * is not in the message's infrastructure.
   */
  enqueue(scope: TenantScope, message: OutboxMessage): Promise<{ message: OutboxMessage; created: boolean }>
  /**
   * Appends messages in order, all or nothing. Each names its channel by id or key in its own
   * infrastructure (NotFoundError when absent, ChannelDisabledError when disabled, before
   * anything is written) and takes that channel's id and max attempts (else
   * `defaultMaxAttempts`). Idempotent as `enqueue`; a key repeated within the batch answers
   * with the batch's first message. Each message created appends its `audit` entry (details
   * gain `channelId`) in the same unit of work. One result per command, in order.
   */
  enqueueMany(scope: TenantScope, commands: readonly EnqueueCommand[]): Promise<EnqueueOutcome[]>
  /** null when absent or outside the scope. */
  findById(scope: TenantScope, infrastructureId: string, id: string): Promise<OutboxMessage | null>
  list(scope: TenantScope, filter: OutboxListFilter): Promise<OutboxMessage[]>
  /**
   * Leases up to `limit` claimable messages (pending and due, or holding a lapsed lease)
   * within the scope, oldest `availableAt` first: status `processing`, a fresh lease
   * token, `leasedUntil = now + leaseMs`, attempts + 1. Two concurrent claims never
   * return one message while its lease is live. Requires role `service` (else []).
   */
  claim(scope: TenantScope, options: ClaimOptions): Promise<ClaimedMessage[]>
  /**
   * Applies a settlement to a message still held under `leaseToken` (status `processing`).
   * Fenced: a stale or repeated ack, a foreign scope or a non-service role changes nothing
   * and returns false.
   */
  settle(scope: TenantScope, command: SettleCommand): Promise<boolean>
}

/**
 * What delivery workers need beyond claim and settle. Every lease operation is fenced by
 * the lease token: once the lease was lost (lapsed and claimed again), it changes nothing.
 */
export interface OutboxDeliveryRepository {
  /** Extends a held lease to `leasedUntil`. `service` only; false when the lease is no longer held. */
  renew(scope: TenantScope, command: LeaseCommand & { readonly leasedUntil: Date }): Promise<boolean>
  /**
   * Gives a held message back without counting the attempt (shutdown, rate limit, paused
   * channel): status `pending`, due at `availableAt`, attempts - 1. `service` only.
   */
  release(scope: TenantScope, command: LeaseCommand & { readonly availableAt: Date }): Promise<boolean>
  /** Appends the record of one attempt. `service` only, within the scope (else TenantScopeViolationError). */
  recordAttempt(scope: TenantScope, attempt: DeliveryAttempt): Promise<void>
  /**
   * Settles many held messages and appends the attempt of each one it settled, in one go
   * (one statement on PostgreSQL). Each item is fenced by its own lease token, as `settle`:
   * a stale or repeated token, a foreign scope or a non-service role changes nothing for
   * that message only (and records no attempt for it). Returns, per item in order, whether
   * it was settled.
   */
  completeMany(scope: TenantScope, items: readonly CompleteCommand[]): Promise<boolean[]>
  /** The attempts of one message, oldest first; [] outside the scope. */
  listAttempts(scope: TenantScope, infrastructureId: string, messageId: string): Promise<DeliveryAttempt[]>
  /**
   * Sends a `dead` or `failed` message round again: `pending`, due at `now`, attempts 0,
   * last error kept. `service` or `infra_admin`; null when absent, outside the scope, or
   * in another state.
   */
  redrive(
    scope: TenantScope,
    command: { readonly infrastructureId: string; readonly id: string; readonly now: Date },
  ): Promise<OutboxMessage | null>
  /** Counts per (infrastructure, channel) within the scope, ordered by infrastructure then channel. */
  stats(
    scope: TenantScope,
    filter: { readonly infrastructureId?: string; readonly now: Date },
  ): Promise<ChannelStats[]>
}
