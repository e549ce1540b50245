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
}

export interface SettleCommand {
  readonly infrastructureId: string
  readonly id: string
  /** The token the claim handed out: the fence. */
  readonly leaseToken: string
  readonly settlement: Settlement
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
