import type { Channel } from '../domain/channel.js'
import { NotFoundError, StorageError } from '../domain/errors.js'
import type { OutboxMessage } from '../domain/outbox-message.js'
import {
  type ProviderReport,
  type ReceiptInput,
  type ReceiptResult,
  readEmailReceipt,
  readTwilioCallback,
  receiptInput,
} from '../domain/receipts.js'
import { TenantScope } from '../domain/tenant-scope.js'
import { parseInput } from '../domain/validation.js'
import type { Repositories } from '../ports/unit-of-work.js'
import { openChannel } from './channel-opener.js'
import { auditEntry, type ServiceContext } from './context.js'
import { receiptEvent } from './delivery-events.js'

type Input = ReturnType<typeof receiptInput.parse>

/**
 * Applies providers' delivery receipts. A receipt names no principal: its signature, made
 * with a secret of the channel its URL names, is what admits it. It then acts as a `service`
 * principal of that one tenant (its user id the channel's), so the store's own scope (on
 * PostgreSQL, row-level security) keeps every lookup inside that tenant.
 */
export class ReceiptService {
  constructor(private readonly ctx: ServiceContext) {}

  async receive(raw: ReceiptInput): Promise<ReceiptResult> {
    const input = parseInput(receiptInput, raw)
    const scope = TenantScope.of({
      userId: input.channelId,
      role: 'service',
      grants: [{ infrastructureId: input.infrastructureId, businessId: null }],
    })
    let applied = false
    const result = await this.ctx.uow.run(scope, async (r) => {
      const report = await this.verified(r, scope, input)
      if (report.status === null) return { outcome: 'ignored' as const, messageId: null, status: null }
      const message = await this.messageOf(r, scope, input, report)
      const moved = await r.outbox.applyReceipt(scope, {
        infrastructureId: input.infrastructureId,
        id: message.id,
        status: report.status,
      })
      if (!moved) {
        // Read again: a receipt racing this one may have moved it since the lookup.
        const now = await r.outbox.findById(scope, input.infrastructureId, message.id)
        return { outcome: 'unchanged' as const, messageId: message.id, status: (now ?? message).status }
      }
      await r.events.append(scope, [receiptEvent(this.ctx, moved, report)])
      // In the tenant's trail like a worker's settle (`outbox.ack`): the actor is the channel
      // whose secret admitted the receipt; a receipt that moved nothing writes nothing.
      await r.audit.append(
        scope,
        auditEntry(this.ctx, scope, {
          infrastructureId: moved.infrastructureId,
          businessId: moved.businessId,
          action: 'outbox.receipt',
          targetType: 'message',
          targetId: moved.id,
          details: { status: moved.status, providerStatus: report.providerStatus },
        }),
      )
      applied = true
      return { outcome: 'applied' as const, messageId: moved.id, status: moved.status }
    })
    if (applied) this.ctx.eventFeed.publish([input.infrastructureId])
    return result
  }

  /** The provider's report, once the channel's secret proved it signed this receipt. */
  private async verified(r: Repositories, scope: TenantScope, input: Input): Promise<ProviderReport> {
    const channel = await r.channels.findById(scope, input.infrastructureId, input.channelId)
    // Another tenant's channel, or one of another kind, is as absent as a missing one.
    if (!channel || channel.type !== input.kind) throw new NotFoundError('channel', input.channelId)
    const config = this.openedConfig(channel)
    if (input.kind === 'sms') {
      // The channel's Twilio account and its fallbacks' may each have sent the text.
      const tokens: string[] = []
      const add = (twilio: unknown) => {
        const token = (twilio as { authToken?: unknown } | undefined)?.authToken
        if (typeof token === 'string') tokens.push(token)
      }
      add(config.twilio)
      for (const f of (config.fallbacks as Array<{ twilio?: unknown }> | undefined) ?? []) add(f.twilio)
      if (tokens.length === 0) throw new NotFoundError('receipt endpoint of channel', channel.id)
      return readTwilioCallback(input, tokens)
    }
    const secret = config.receiptSecret
    if (typeof secret !== 'string') throw new NotFoundError('receipt endpoint of channel', channel.id)
    const now = Math.floor((await r.time.now()).getTime() / 1000)
    return readEmailReceipt(input, secret, now)
  }

  /** The channel's config with its secrets opened (a paused channel still takes receipts). */
  private openedConfig(channel: Channel): Record<string, unknown> {
    const opened = openChannel(this.ctx, { ...channel, enabled: true })
    if (opened.status === 'ready') return opened.channel.config as Record<string, unknown>
    if (opened.status === 'unavailable')
      throw new StorageError(`channel ${channel.id}: its secrets do not open (${opened.code})`, {
        misconfigured: true,
      })
    throw new NotFoundError('receipt endpoint of channel', channel.id)
  }

  private async messageOf(
    r: Repositories,
    scope: TenantScope,
    input: Input,
    report: ProviderReport,
  ): Promise<OutboxMessage> {
    const { infrastructureId, channelId } = input
    const found =
      'messageId' in report.target
        ? await r.outbox.findById(scope, infrastructureId, report.target.messageId)
        : await r.outbox.findByProviderMessageId(scope, {
            infrastructureId,
            channelId,
            providerMessageId: report.target.providerMessageId,
          })
    if (!found || found.channelId !== channelId) {
      const id = 'messageId' in report.target ? report.target.messageId : report.target.providerMessageId
      throw new NotFoundError('message', id.slice(0, 200))
    }
    return found
  }
}
