import type { BreakerPolicy, BreakerResult } from '../domain/breaker.js'
import type { RateLimit } from '../domain/channel.js'
import { NotFoundError } from '../domain/errors.js'
import { type AckInput, ackInput, type ClaimInput, claimInput } from '../domain/inputs.js'
import type { ClaimedMessage } from '../domain/outbox-message.js'
import { assertRole, assertTenantScope, type TenantScope } from '../domain/tenant-scope.js'
import { parseInput } from '../domain/validation.js'
import type { BreakerKey, BreakerView } from '../ports/breaker-repository.js'
import type { RateBucketKey } from '../ports/rate-bucket-repository.js'
import { type BreakerChange, type BreakerGate, BreakerService } from './breaker-service.js'
import { type ChannelLookup, openChannel } from './channel-opener.js'
import { audited, type ServiceContext } from './context.js'
import { type RenderStep, renderHeld } from './delivery-render.js'
import { type RetainItem, retainHeld } from './retain.js'
import { type AttemptReport, type SettleItem, type SettleResult, settleHeld } from './settle.js'
import type { TemplateService } from './template-service.js'

export type { RetainItem } from './retain.js'
export type { AttemptReport, SettleItem, SettleResult } from './settle.js'

/** What one claim asks for: the facade's `claim` and the worker's claims alike. */
export interface ClaimRequest {
  readonly limit: number
  readonly leaseMs: number
  /** Only this infrastructure (which the scope must reach); otherwise every tenant it reaches. */
  readonly infrastructureId?: string
  /** Skip these infrastructures (a worker's per-tenant cap is reached for them). */
  readonly excludeInfrastructureIds?: readonly string[]
  /** At most this many messages of one infrastructure in this claim. */
  readonly perTenantLimit?: number
}

/** A held message named by its lease: what renewing and releasing need. */
export type LeaseRef = Pick<ClaimedMessage, 'infrastructureId' | 'id' | 'leaseToken'>

/**
 * Claiming, holding and settling messages: one claim path and one settle path, used by the
 * facade (and so the HTTP surface) and by delivery workers through their DeliveryPort.
 */
export class DeliveryService {
  private readonly breakers: BreakerService

  constructor(private readonly ctx: ServiceContext) {
    this.breakers = new BreakerService(ctx)
  }

  /** Leases due messages, fairly across tenants. `service` only. */
  claim(scope: TenantScope, request: ClaimRequest): Promise<ClaimedMessage[]> {
    assertRole(scope, 'outbox.claim', 'service')
    if (request.infrastructureId !== undefined) assertTenantScope(scope, request.infrastructureId)
    return this.ctx.uow.run(scope, (r) =>
      r.outbox.claim(scope, {
        limit: request.limit,
        leaseMs: request.leaseMs,
        ...(request.infrastructureId !== undefined && { infrastructureId: request.infrastructureId }),
        ...(request.excludeInfrastructureIds !== undefined && {
          excludeInfrastructureIds: request.excludeInfrastructureIds,
        }),
        ...(request.perTenantLimit !== undefined && { perTenantLimit: request.perTenantLimit }),
      }),
    )
  }

  /** The facade's claim: validated input, then the one claim path. */
  claimInput(scope: TenantScope, raw: ClaimInput = {}): Promise<ClaimedMessage[]> {
    const input = parseInput(claimInput, raw)
    return this.claim(scope, input)
  }

  /**
   * Settles held messages, each fenced by its own lease, in one unit of work: each attempt
   * recorded, the settlement audited (see `settleHeld`). Results in the order of `items`.
   */
  async settle(scope: TenantScope, items: readonly SettleItem[]): Promise<SettleResult[]> {
    if (items.length === 0) return []
    assertRole(scope, 'outbox.ack', 'service')
    const results = await this.ctx.uow.run(scope, (r) => settleHeld(this.ctx, r, scope, items))
    // Committed: the tenants' event streams read what the settle wrote.
    this.ctx.eventFeed.publish(
      items.filter((_, i) => results[i]!.acked).map((it) => it.held.infrastructureId),
    )
    return results
  }

  /**
   * A host's ack (the facade, `POST /ack`): the message is read under its lease, then settled
   * through the same path as a worker's, so its attempt is recorded and audited alike.
   * `acked: false` when the lease token no longer holds it.
   */
  async ack(scope: TenantScope, raw: AckInput): Promise<SettleResult> {
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
      const settled = await this.ctx.uow.run(scope, async (r): Promise<SettleResult> => {
        const m = await r.outbox.findById(scope, input.infrastructureId, input.messageId)
        if (!m) throw new NotFoundError('message', input.messageId)
        if (m.status !== 'processing' || m.leaseToken !== input.leaseToken || m.leasedUntil === null)
          return { acked: false, status: m.status }
        const held = m as ClaimedMessage
        const now = this.ctx.clock.now()
        const report: AttemptReport =
          input.outcome === 'processed'
            ? { ...ackReport(scope, now), outcome: 'delivered' }
            : input.retryAfterMs !== undefined
              ? {
                  ...ackReport(scope, now, input.reason),
                  outcome: 'retryable',
                  retryAfterMs: input.retryAfterMs,
                }
              : { ...ackReport(scope, now, input.reason), outcome: 'permanent' }
        const [result] = await settleHeld(this.ctx, r, scope, [{ held, report }])
        return result!.acked ? result! : { acked: false, status: m.status }
      })
      if (settled.acked) this.ctx.eventFeed.publish([input.infrastructureId])
      return settled
    })
  }

  /**
   * Records failed attempts of messages that stay held (a broker's workers retry them), each
   * fenced by its lease and the lease extended (see `retainHeld`). `service` only.
   */
  retain(scope: TenantScope, items: readonly RetainItem[]): Promise<boolean[]> {
    if (items.length === 0) return Promise.resolve([])
    assertRole(scope, 'outbox.ack', 'service')
    return this.ctx.uow.run(scope, (r) => retainHeld(this.ctx, r, scope, items))
  }

  /** Extends a held lease by `leaseMs` from the store's now; false when the lease was lost. */
  renew(scope: TenantScope, held: LeaseRef, leaseMs: number): Promise<boolean> {
    return this.ctx.uow.run(scope, (r) =>
      r.outbox.renew(scope, {
        infrastructureId: held.infrastructureId,
        id: held.id,
        leaseToken: held.leaseToken,
        leaseMs,
      }),
    )
  }

  /** Hands a held message back uncounted, due `delayMs` after the store's now. */
  release(scope: TenantScope, held: LeaseRef, delayMs = 0): Promise<boolean> {
    return this.ctx.uow.run(scope, (r) =>
      r.outbox.release(scope, {
        infrastructureId: held.infrastructureId,
        id: held.id,
        leaseToken: held.leaseToken,
        delayMs,
      }),
    )
  }

  /**
   * Takes one token of the channel's rate bucket, shared by every worker of the store: 0 when
   * a message may go now, else the milliseconds until a token is due. `service` only.
   */
  takeToken(scope: TenantScope, channel: RateBucketKey, limit: RateLimit): Promise<number> {
    assertRole(scope, 'channel.rate', 'service')
    assertTenantScope(scope, channel.infrastructureId)
    return this.ctx.uow.run(scope, (r) => r.rateBuckets.take(scope, channel, limit))
  }

  /**
   * A provider's Retry-After for the channel: no worker takes its next token before
   * `afterMs` (at most MAX_DEFER_MS) from the store's now. `service` only.
   */
  deferChannel(scope: TenantScope, channel: RateBucketKey, afterMs: number): Promise<void> {
    assertRole(scope, 'channel.rate', 'service')
    assertTenantScope(scope, channel.infrastructureId)
    const ms = Math.min(Math.max(0, Number.isFinite(afterMs) ? afterMs : 0), MAX_DEFER_MS)
    return this.ctx.uow.run(scope, (r) => r.rateBuckets.defer(scope, channel, ms))
  }

  /** Whether a delivery on the channel may go now, by its circuit breaker (see BreakerService). `service` only. */
  admitBreaker(scope: TenantScope, channel: BreakerKey, policy: BreakerPolicy): Promise<BreakerGate> {
    return this.breakers.admit(scope, channel, policy)
  }

  /** Counts an attempt's result on the channel's breaker; returns the transition it caused. `service` only. */
  recordBreaker(
    scope: TenantScope,
    channel: BreakerKey,
    policy: BreakerPolicy,
    result: BreakerResult,
  ): Promise<BreakerChange | null> {
    return this.breakers.record(scope, channel, policy, result)
  }

  /** A tenant's open and half-open breakers: any role with a grant for it. */
  listBreakers(scope: TenantScope, infrastructureId: string): Promise<BreakerView[]> {
    return this.breakers.listOpen(scope, infrastructureId)
  }

  /** The channel of a held message, opened for delivery (see ChannelLookup): for transports only. */
  async openChannel(scope: TenantScope, infrastructureId: string, channelId: string): Promise<ChannelLookup> {
    const channel = await this.ctx.uow.run(scope, (r) =>
      r.channels.findById(scope, infrastructureId, channelId),
    )
    return openChannel(this.ctx, channel)
  }

  /** The payload a held message goes out with over `channelType` (see `renderHeld`). */
  render(
    scope: TenantScope,
    templates: TemplateService,
    held: ClaimedMessage,
    channelType: string,
  ): Promise<RenderStep> {
    return renderHeld(this.ctx, templates, scope, held, channelType)
  }
}

/** The longest a provider's Retry-After holds a channel (1 h): "come back next week" does not freeze it. */
export const MAX_DEFER_MS = 3_600_000

/** A host's ack carries no timing: the attempt is recorded at the moment of the ack, by its caller. */
function ackReport(scope: TenantScope, now: Date, reason?: string) {
  return {
    errorCode: null,
    error: reason ?? null,
    providerMessageId: null,
    startedAt: now,
    finishedAt: now,
    workerId: scope.userId,
  }
}
