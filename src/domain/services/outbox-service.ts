import { ChannelDisabledError, NotFoundError, PayloadTooLargeError } from '../errors.js'
import {
  type AckInput,
  ackInput,
  type ClaimInput,
  claimInput,
  type EnqueueInput,
  enqueueInput,
  type ListMessagesInput,
  listMessagesInput,
  type MessageRefInput,
  messageRefInput,
} from '../inputs.js'
import {
  type AckOutcome,
  type ClaimedMessage,
  type DeliveryStatus,
  type OutboxMessage,
  payloadBytes,
  settle,
} from '../outbox-message.js'
import { assertRole, assertTenantScope, type TenantScope } from '../tenant-scope.js'
import { parseInput } from '../validation.js'
import { auditEntry, audited, type ServiceContext } from './context.js'

export interface EnqueueResult {
  readonly message: OutboxMessage
  /** false when the idempotency key was seen before: `message` is the first one. */
  readonly created: boolean
}

export interface AckResult {
  /** false when the lease token no longer holds the message (stale or repeated ack): nothing changed. */
  readonly acked: boolean
  readonly status: DeliveryStatus
}

/** The outbox: append, claim under a lease, ack fenced by that lease. */
export class OutboxService {
  constructor(private readonly ctx: ServiceContext) {}

  async enqueue(scope: TenantScope, raw: EnqueueInput): Promise<EnqueueResult> {
    const result = await this.append(scope, raw)
    if (result.created) this.ctx.wake?.notify(result.message.infrastructureId)
    return result
  }

  private async append(scope: TenantScope, raw: EnqueueInput): Promise<EnqueueResult> {
    const input = parseInput(enqueueInput, raw)
    const bytes = payloadBytes(input.payload)
    if (bytes > this.ctx.limits.maxPayloadBytes) {
      throw new PayloadTooLargeError('payload', bytes, this.ctx.limits.maxPayloadBytes)
    }
    const id = this.ctx.ids.next()
    const target = {
      infrastructureId: input.infrastructureId,
      businessId: input.businessId,
      action: 'outbox.enqueue',
      targetType: 'message' as const,
      targetId: id,
    }
    return audited(this.ctx, scope, target, async () => {
      assertTenantScope(scope, input.infrastructureId, input.businessId)
      return this.ctx.uow.run(scope, async (r) => {
        const channel = input.channelId
          ? await r.channels.findById(scope, input.infrastructureId, input.channelId)
          : await r.channels.findByKey(scope, input.infrastructureId, input.channelKey!)
        if (!channel) throw new NotFoundError('channel', input.channelId ?? input.channelKey!)
        if (!channel.enabled) throw new ChannelDisabledError(channel.id)
        const now = this.ctx.clock.now()
        const result = await r.outbox.enqueue(scope, {
          id,
          infrastructureId: input.infrastructureId,
          businessId: input.businessId,
          channelId: channel.id,
          payload: input.payload,
          recipients: input.recipients,
          idempotencyKey: input.idempotencyKey,
          maxAttempts: channel.maxAttempts ?? this.ctx.limits.defaultMaxAttempts,
          createdBy: scope.userId,
          createdAt: now,
          status: 'pending',
          attempts: 0,
          availableAt: input.availableAt ?? now,
          leaseToken: null,
          leasedUntil: null,
          lastError: null,
          settledAt: null,
        })
        if (result.created) {
          await r.audit.append(
            scope,
            auditEntry(this.ctx, scope, { ...target, details: { channelId: channel.id, bytes } }),
          )
        }
        return result
      })
    })
  }

  async get(scope: TenantScope, raw: MessageRefInput): Promise<OutboxMessage> {
    const input = parseInput(messageRefInput, raw)
    assertTenantScope(scope, input.infrastructureId)
    const m = await this.ctx.uow.run(scope, (r) =>
      r.outbox.findById(scope, input.infrastructureId, input.messageId),
    )
    if (!m) throw new NotFoundError('message', input.messageId)
    return m
  }

  async list(scope: TenantScope, raw: ListMessagesInput): Promise<OutboxMessage[]> {
    const input = parseInput(listMessagesInput, raw)
    assertTenantScope(
      scope,
      input.infrastructureId,
      input.businessId === undefined ? undefined : input.businessId,
    )
    return this.ctx.uow.run(scope, (r) =>
      r.outbox.list(scope, {
        infrastructureId: input.infrastructureId,
        limit: input.limit,
        ...(input.businessId !== undefined && { businessId: input.businessId }),
        ...(input.channelId !== undefined && { channelId: input.channelId }),
        ...(input.status !== undefined && { status: input.status }),
        ...(input.after !== undefined && { after: input.after }),
      }),
    )
  }

  /** Leases a batch for delivery. `service` only. */
  async claim(scope: TenantScope, raw: ClaimInput = {}): Promise<ClaimedMessage[]> {
    const input = parseInput(claimInput, raw)
    assertRole(scope, 'outbox.claim', 'service')
    if (input.infrastructureId !== undefined) assertTenantScope(scope, input.infrastructureId)
    return this.ctx.uow.run(scope, (r) =>
      r.outbox.claim(scope, {
        limit: input.limit,
        leaseMs: input.leaseMs,
        now: this.ctx.clock.now(),
        ...(input.infrastructureId !== undefined && { infrastructureId: input.infrastructureId }),
      }),
    )
  }

  /** Marks a held message processed or failed (retry, or dead once out of attempts). `service` only. */
  async ack(scope: TenantScope, raw: AckInput): Promise<AckResult> {
    const input = parseInput(ackInput, raw)
    const target = {
      infrastructureId: input.infrastructureId,
      action: 'outbox.ack',
      targetType: 'message' as const,
      targetId: input.messageId,
    }
    return audited(this.ctx, scope, target, async () => {
      assertTenantScope(scope, input.infrastructureId)
      assertRole(scope, 'outbox.ack', 'service')
      return this.ctx.uow.run(scope, async (r) => {
        const m = await r.outbox.findById(scope, input.infrastructureId, input.messageId)
        if (!m) throw new NotFoundError('message', input.messageId)
        if (m.status !== 'processing' || m.leaseToken !== input.leaseToken)
          return { acked: false, status: m.status }
        const outcome: AckOutcome =
          input.outcome === 'processed'
            ? { outcome: 'processed' }
            : { outcome: 'failed', reason: input.reason, retryAfterMs: input.retryAfterMs }
        const settlement = settle(m, outcome, this.ctx.clock.now())
        const acked = await r.outbox.settle(scope, {
          infrastructureId: input.infrastructureId,
          id: input.messageId,
          leaseToken: input.leaseToken,
          settlement,
        })
        if (!acked) return { acked: false, status: m.status }
        await r.audit.append(
          scope,
          auditEntry(this.ctx, scope, {
            ...target,
            businessId: m.businessId,
            details: { status: settlement.status, attempts: m.attempts },
          }),
        )
        return { acked: true, status: settlement.status }
      })
    })
  }
}
