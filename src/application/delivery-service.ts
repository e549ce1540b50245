import type { Channel } from '../domain/channel.js'
import type { ChannelStats, DeliveryAttempt } from '../domain/delivery.js'
import { IllegalTransitionError, NotFoundError } from '../domain/errors.js'
import {
  type ListDeadLettersInput,
  listDeadLettersInput,
  type MessageRefInput,
  messageRefInput,
  type RedriveChannelInput,
  redriveChannelInput,
  type StatsInput,
  statsInput,
} from '../domain/inputs.js'
import {
  type AckOutcome,
  type ClaimedMessage,
  type DeliveryStatus,
  type OutboxMessage,
  settle,
} from '../domain/outbox-message.js'
import { assertRole, assertTenantScope, type TenantScope } from '../domain/tenant-scope.js'
import { parseInput } from '../domain/validation.js'
import { auditEntry, audited, type ServiceContext } from './context.js'

/** How one attempt ended, as the worker hands it over for recording. */
export interface AttemptReport {
  readonly outcome: 'delivered' | 'retryable' | 'permanent'
  readonly errorCode: string | null
  readonly error: string | null
  readonly providerMessageId: string | null
  /** For retryable outcomes: how long after the store's now to try again (already jittered). */
  readonly retryAfterMs?: number
  readonly startedAt: Date
  readonly finishedAt: Date
  readonly workerId: string
}

/**
 * What delivery workers and operators do with held, dead and failed messages. The worker's
 * calls are not audited one by one (each attempt is recorded instead); operators' redrives are.
 */
export class DeliveryService {
  constructor(private readonly ctx: ServiceContext) {}

  /** Leases due messages, fairly across tenants. */
  claim(
    scope: TenantScope,
    options: {
      limit: number
      leaseMs: number
      infrastructureId?: string
      excludeInfrastructureIds?: readonly string[]
      perTenantLimit?: number
    },
  ): Promise<ClaimedMessage[]> {
    assertRole(scope, 'outbox.claim', 'service')
    return this.ctx.uow.run(scope, (r) => r.outbox.claim(scope, options))
  }

  /**
   * The channel with its secrets opened: for transports only, never for a response. When a
   * secret does not open (key missing or rotated away, value altered) the channel comes back
   * without config and `secretsError` says why, naming no secret.
   */
  async channelForDelivery(
    scope: TenantScope,
    infrastructureId: string,
    channelId: string,
  ): Promise<{ channel: Channel | null; secretsError?: string }> {
    const channel = await this.ctx.uow.run(scope, (r) =>
      r.channels.findById(scope, infrastructureId, channelId),
    )
    if (!channel || !this.ctx.channelTypes.has(channel.type)) return { channel }
    const def = this.ctx.channelTypes.get(channel.type)
    try {
      return {
        channel: {
          ...channel,
          config: this.ctx.secrets.open(def, channel.config, { infrastructureId, channelId }),
        },
      }
    } catch (e) {
      return {
        channel: { ...channel, config: {} },
        secretsError: e instanceof Error ? e.message : 'secrets do not open',
      }
    }
  }

  /** Extends a held lease to `leaseMs` from the store's now. */
  renew(scope: TenantScope, held: ClaimedMessage, leaseMs: number): Promise<boolean> {
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
  release(scope: TenantScope, held: ClaimedMessage, delayMs = 0): Promise<boolean> {
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
   * Records the attempt and settles the message in one unit of work, fenced by the lease:
   * `acked: false` means the lease was lost and nothing was written.
   */
  async complete(
    scope: TenantScope,
    held: ClaimedMessage,
    report: AttemptReport,
  ): Promise<{ acked: boolean; status: DeliveryStatus }> {
    const [result] = await this.completeMany(scope, [{ held, report }])
    return result!
  }

  /**
   * `complete` for many held messages in one unit of work (one statement on PostgreSQL).
   * Each is fenced by its own lease: a lost lease gives `acked: false` for that message
   * only, and nothing is written for it. Results in the order of `items`.
   */
  async completeMany(
    scope: TenantScope,
    items: ReadonlyArray<{ readonly held: ClaimedMessage; readonly report: AttemptReport }>,
  ): Promise<Array<{ acked: boolean; status: DeliveryStatus }>> {
    if (items.length === 0) return []
    const commands = items.map(({ held, report }) => {
      const outcome: AckOutcome =
        report.outcome === 'delivered'
          ? { outcome: 'processed' }
          : {
              outcome: 'failed',
              reason: report.error ?? report.errorCode ?? 'delivery failed',
              ...(report.outcome === 'retryable' && { retryAfterMs: report.retryAfterMs ?? 0 }),
            }
      const settlement = settle(held, outcome)
      const attempt: DeliveryAttempt = {
        id: this.ctx.ids.next(),
        infrastructureId: held.infrastructureId,
        messageId: held.id,
        attempt: held.attempts,
        workerId: report.workerId,
        startedAt: report.startedAt,
        finishedAt: report.finishedAt,
        durationMs: Math.max(0, report.finishedAt.getTime() - report.startedAt.getTime()),
        outcome: report.outcome,
        errorCode: report.errorCode,
        error: report.error,
        providerMessageId: report.providerMessageId,
      }
      return {
        settle: {
          infrastructureId: held.infrastructureId,
          id: held.id,
          leaseToken: held.leaseToken,
          settlement,
        },
        attempt,
      }
    })
    const done = await this.ctx.uow.run(scope, (r) => r.outbox.completeMany(scope, commands))
    return commands.map((c, i) =>
      done[i] ? { acked: true, status: c.settle.settlement.status } : { acked: false, status: 'processing' },
    )
  }

  /** Dead messages of a tenant (optionally one channel), oldest first, with their last error. */
  async listDeadLetters(scope: TenantScope, raw: ListDeadLettersInput): Promise<OutboxMessage[]> {
    const input = parseInput(listDeadLettersInput, raw)
    assertTenantScope(scope, input.infrastructureId)
    return this.ctx.uow.run(scope, (r) =>
      r.outbox.list(scope, {
        infrastructureId: input.infrastructureId,
        status: 'dead',
        limit: input.limit,
        ...(input.channelId !== undefined && { channelId: input.channelId }),
        ...(input.after !== undefined && { after: input.after }),
      }),
    )
  }

  async listAttempts(scope: TenantScope, raw: MessageRefInput): Promise<DeliveryAttempt[]> {
    const input = parseInput(messageRefInput, raw)
    assertTenantScope(scope, input.infrastructureId)
    return this.ctx.uow.run(scope, async (r) => {
      const m = await r.outbox.findById(scope, input.infrastructureId, input.messageId)
      if (!m) throw new NotFoundError('message', input.messageId)
      return r.outbox.listAttempts(scope, input.infrastructureId, input.messageId)
    })
  }

  /** Sends one dead or failed message round again with fresh attempts (`infra_admin` or `service`). */
  async redrive(scope: TenantScope, raw: MessageRefInput): Promise<OutboxMessage> {
    const input = parseInput(messageRefInput, raw)
    const target = {
      infrastructureId: input.infrastructureId,
      action: 'outbox.redrive',
      targetType: 'message' as const,
      targetId: input.messageId,
    }
    return audited(this.ctx, scope, target, async () => {
      assertTenantScope(scope, input.infrastructureId)
      assertRole(scope, 'outbox.redrive', 'infra_admin', 'service')
      const m = await this.ctx.uow.run(scope, async (r) => {
        const current = await r.outbox.findById(scope, input.infrastructureId, input.messageId)
        if (!current) throw new NotFoundError('message', input.messageId)
        const next = await r.outbox.redrive(scope, {
          infrastructureId: input.infrastructureId,
          id: input.messageId,
        })
        if (!next) {
          throw new IllegalTransitionError(
            current.status,
            'pending',
            'only dead or failed messages are redriven',
          )
        }
        await r.audit.append(
          scope,
          auditEntry(this.ctx, scope, { ...target, businessId: current.businessId }),
        )
        return next
      })
      this.ctx.wake?.notify(input.infrastructureId)
      return m
    })
  }

  /** Redrives every dead message of a channel, in batches; returns how many went round again. */
  async redriveChannel(scope: TenantScope, raw: RedriveChannelInput): Promise<{ redriven: number }> {
    const input = parseInput(redriveChannelInput, raw)
    const target = {
      infrastructureId: input.infrastructureId,
      action: 'outbox.redrive_channel',
      targetType: 'channel' as const,
      targetId: input.channelId,
    }
    return audited(this.ctx, scope, target, async () => {
      assertTenantScope(scope, input.infrastructureId)
      assertRole(scope, 'outbox.redrive', 'infra_admin', 'service')
      let redriven = 0
      for (;;) {
        const batch = await this.ctx.uow.run(scope, async (r) => {
          const dead = await r.outbox.list(scope, {
            infrastructureId: input.infrastructureId,
            channelId: input.channelId,
            status: 'dead',
            limit: 500,
          })
          let n = 0
          for (const m of dead) {
            if (await r.outbox.redrive(scope, { infrastructureId: m.infrastructureId, id: m.id })) n++
          }
          return { seen: dead.length, n }
        })
        redriven += batch.n
        if (batch.seen < 500 || batch.n === 0) break
      }
      await this.ctx.uow.run(scope, (r) =>
        r.audit.append(scope, auditEntry(this.ctx, scope, { ...target, details: { redriven } })),
      )
      if (redriven > 0) this.ctx.wake?.notify(input.infrastructureId)
      return { redriven }
    })
  }

  /** Pending, in flight, delivered, failed, dead and the oldest pending age, per tenant and channel. */
  async stats(scope: TenantScope, raw: StatsInput = {}): Promise<ChannelStats[]> {
    const input = parseInput(statsInput, raw)
    if (input.infrastructureId !== undefined) assertTenantScope(scope, input.infrastructureId)
    return this.ctx.uow.run(scope, (r) =>
      r.outbox.stats(
        scope,
        input.infrastructureId !== undefined ? { infrastructureId: input.infrastructureId } : {},
      ),
    )
  }
}
