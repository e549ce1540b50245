import type { ChannelStats, DeliveryAttempt } from '../domain/delivery.js'
import { IllegalTransitionError, NotFoundError } from '../domain/errors.js'
import {
  type ListDeadLettersInput,
  listDeadLettersInput,
  type MessageRefInput,
  messageRefInput,
  type QueueHistoryInput,
  queueHistoryInput,
  type RedriveChannelInput,
  redriveChannelInput,
  type StatsInput,
  statsInput,
} from '../domain/inputs.js'
import type { OutboxMessage } from '../domain/outbox-message.js'
import type { QueueMinute } from '../domain/queue-history.js'
import { assertRole, assertTenantScope, type TenantScope } from '../domain/tenant-scope.js'
import { parseInput } from '../domain/validation.js'
import { auditEntry, audited, type ServiceContext } from './context.js'

/**
 * What operators do after delivery: read attempts and dead letters, send dead or failed
 * messages round again (audited), and read queue health.
 */
export class DeadLetterService {
  constructor(private readonly ctx: ServiceContext) {}

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

  /**
   * Pending, in flight, delivered, failed, dead, the oldest pending age and the messages held
   * in open digests, per tenant and channel.
   */
  async stats(scope: TenantScope, raw: StatsInput = {}): Promise<ChannelStats[]> {
    const input = parseInput(statsInput, raw)
    if (input.infrastructureId !== undefined) assertTenantScope(scope, input.infrastructureId)
    const filter = input.infrastructureId !== undefined ? { infrastructureId: input.infrastructureId } : {}
    return this.ctx.uow.run(scope, async (r) => {
      const counts = await r.outbox.stats(scope, filter)
      const held = new Map(
        (await r.digests.held(scope, filter)).map((h) => [`${h.infrastructureId}/${h.channelId}`, h.items]),
      )
      // An open digest's delivery is a pending message of its channel: its row is among the counts.
      return counts.map((c) => ({ ...c, digested: held.get(`${c.infrastructureId}/${c.channelId}`) ?? 0 }))
    })
  }

  /**
   * The queue of one tenant over its last minutes (60 by default, at most 120), oldest
   * first: enqueued, delivered, failed attempts, dead and the backlog per minute of the
   * store's clock. `infra_admin` or `service` with an infrastructure-wide grant.
   */
  async queueHistory(scope: TenantScope, raw: QueueHistoryInput): Promise<QueueMinute[]> {
    const input = parseInput(queueHistoryInput, raw)
    assertRole(scope, 'queue history', 'infra_admin', 'service')
    assertTenantScope(scope, input.infrastructureId, null)
    return this.ctx.uow.run(scope, (r) =>
      r.queueHistory.minutes(scope, input.infrastructureId, input.minutes),
    )
  }
}
