import { type Span, SpanKind } from '@opentelemetry/api'
import type { z } from 'zod'
import type { AuditEntry } from '../domain/audit.js'
import type { Channel } from '../domain/channel.js'
import { ChannelDigestsSignal } from '../domain/digest.js'
import { NotFoundError, PayloadTooLargeError } from '../domain/errors.js'
import {
  type EnqueueInput,
  type EnqueueManyInput,
  enqueueInput,
  enqueueManyInput,
  type ListMessagesInput,
  listMessagesInput,
  type MessageRefInput,
  messageRefInput,
} from '../domain/inputs.js'
import { type JsonValue, type OutboxMessage, payloadBytes } from '../domain/outbox-message.js'
import { assertTenantScope, type TenantScope } from '../domain/tenant-scope.js'
import { parseInput } from '../domain/validation.js'
import type { EnqueueCommand } from '../ports/outbox-repository.js'
import type { Repositories } from '../ports/unit-of-work.js'
import { inSpan, SYSTEM, traceContextOf, tracer } from '../telemetry/tracing.js'
import { enqueueFolding } from './channel-digest.js'
import { openChannel } from './channel-opener.js'
import { auditEntry, audited, type ServiceContext } from './context.js'

export interface EnqueueResult {
  readonly message: OutboxMessage
  /** false when the idempotency key was seen before: `message` is the first one. */
  readonly created: boolean
}

/** false when the lease token no longer holds the message (stale or repeated ack): nothing changed. */
export type { SettleResult as AckResult } from './settle.js'

const auditTarget = (c: {
  readonly message: {
    readonly id: string
    readonly infrastructureId: string
    readonly businessId: string | null
  }
}) => ({
  infrastructureId: c.message.infrastructureId,
  businessId: c.message.businessId,
  action: 'outbox.enqueue',
  targetType: 'message' as const,
  targetId: c.message.id,
})

const ENQUEUE_SPAN = {
  kind: SpanKind.PRODUCER,
  attributes: { 'messaging.system': SYSTEM, 'messaging.operation.type': 'send' },
}

/** What the enqueue span says of its batch once written (only when an SDK records it). */
function spanResult(span: Span, results: readonly EnqueueResult[]): void {
  if (!span.isRecording()) return
  const first = results[0]?.message
  span.setAttributes({
    'messaging.batch.message_count': results.length,
    'messaging.message.created_count': results.filter((r) => r.created).length,
    ...(first && {
      'messaging.infrastructure_id': first.infrastructureId,
      'messaging.destination.name': first.channelId,
      ...(results.length === 1 && { 'messaging.message.id': first.id }),
    }),
  })
}

/** The outbox: append and read. Claiming and settling are the DeliveryService's. */
export class OutboxService {
  constructor(private readonly ctx: ServiceContext) {}

  /**
   * Runs in a producer span (`messaging enqueue`) whose W3C trace context is stored with each
   * message it writes, so that its delivery, in whatever process, joins the trace.
   */
  enqueue(scope: TenantScope, raw: EnqueueInput): Promise<EnqueueResult> {
    return tracer.startActiveSpan('messaging enqueue', ENQUEUE_SPAN, (span) =>
      inSpan(span, () => this.enqueueIn(span, scope, raw)),
    )
  }

  private async enqueueIn(span: Span, scope: TenantScope, raw: EnqueueInput): Promise<EnqueueResult> {
    const input = parseInput(enqueueInput, raw)
    const command = this.command(scope, input, 'payload', span)
    const target = auditTarget(command)
    const [result] = await audited(this.ctx, scope, target, async () => {
      assertTenantScope(scope, input.infrastructureId, input.businessId)
      return this.runEnqueue(scope, [command]).catch(async (e: unknown) => {
        if (!(e instanceof ChannelDigestsSignal)) throw e
        // The channel digests its plain enqueues: folded in a unit of work of its own.
        const [folded] = await this.ctx.uow.run(scope, (r) =>
          enqueueFolding(this.ctx, scope, r, [{ command, audit: command.audit, field: '' }]),
        )
        return [{ message: folded!.message, created: folded!.created }]
      })
    })
    if (result!.created) this.ctx.wake?.notify(result!.message.infrastructureId)
    spanResult(span, [result!])
    return result!
  }

  /**
   * Appends a batch in one unit of work, all or nothing: every item is validated first (a
   * bad one is a ValidationError naming `items.<i>.<field>`), every tenant checked, every
   * channel resolved, then the messages go in with one audit entry per tenant (infrastructure
   * and business) of the batch, listing the ids of the messages it created in
   * `details.messageIds` (`listAudit` with `targetId` finds it). Results in order.
   */
  enqueueMany(scope: TenantScope, raw: EnqueueManyInput): Promise<EnqueueResult[]> {
    return tracer.startActiveSpan('messaging enqueue', ENQUEUE_SPAN, (span) =>
      inSpan(span, () => this.enqueueManyIn(span, scope, raw)),
    )
  }

  private async enqueueManyIn(
    span: Span,
    scope: TenantScope,
    raw: EnqueueManyInput,
  ): Promise<EnqueueResult[]> {
    const inputs = parseInput(enqueueManyInput, raw, 'items')
    // No entry per message: one per tenant of the batch (batchAudit), in the same unit of work.
    const built = inputs.map((input, i) => this.command(scope, input, `items.${i}.payload`, span))
    const bytes = built.map((c) => Number(c.audit?.details?.bytes ?? 0))
    const commands = built.map((c) => ({ ...c, audit: null }))
    for (const [i, input] of inputs.entries()) {
      if (!scope.canAccess(input.infrastructureId, input.businessId)) {
        await audited(this.ctx, scope, auditTarget(commands[i]!), async () =>
          assertTenantScope(scope, input.infrastructureId, input.businessId),
        )
      }
    }
    const write = (r: Repositories) => r.outbox.enqueueMany(scope, commands)
    // A channel that digests its plain enqueues: the batch again, its items folded one by one,
    // each folded item with an entry of its own (it names its digest).
    const fold = (r: Repositories) =>
      enqueueFolding(
        this.ctx,
        scope,
        r,
        commands.map((command, i) => ({ command, audit: built[i]!.audit, field: `items.${i}.` })),
      )
    const results = await this.ctx.uow
      .run(scope, async (r) => this.audit(scope, r, await write(r), bytes))
      .catch((e: unknown) => {
        if (!(e instanceof ChannelDigestsSignal)) throw e
        return this.ctx.uow.run(scope, async (r) => this.audit(scope, r, await fold(r), bytes))
      })
    const woken = new Set<string>()
    for (const r of results) {
      if (r.created && !woken.has(r.message.infrastructureId)) {
        woken.add(r.message.infrastructureId)
        this.ctx.wake?.notify(r.message.infrastructureId)
      }
    }
    spanResult(span, results)
    return results
  }

  /** Appends the batch's entries (batchAudit) for what it wrote on its own; a folded item has its own. */
  private async audit(
    scope: TenantScope,
    r: Repositories,
    out: readonly (EnqueueResult & { readonly digestId?: string | null })[],
    bytes: readonly number[],
  ): Promise<EnqueueResult[]> {
    const written = out.map((o) => (o.digestId ? { ...o, created: false } : o))
    for (const entry of this.batchAudit(scope, written, bytes)) await r.audit.append(scope, entry)
    return out.map(({ message, created }) => ({ message, created }))
  }

  /**
   * The audit entries of a batch: one per (infrastructure, business) of the messages it
   * created (a replayed key creates nothing and is not recorded, as for one enqueue), naming
   * them in `details.messageIds`, with their channels and bytes. One message: its id is the
   * entry's target too. Measured with G2 (batches of 1,000): one entry per message wrote
   * 2 heap rows and 7 index entries a message; this, about 1 and 4.
   */
  private batchAudit(
    scope: TenantScope,
    results: readonly EnqueueResult[],
    bytes: readonly number[],
  ): AuditEntry[] {
    const groups = new Map<string, { ms: OutboxMessage[]; bytes: number }>()
    for (const [i, { message: m, created }] of results.entries()) {
      if (!created) continue
      const key = `${m.infrastructureId}/${m.businessId ?? ''}`
      const group = groups.get(key) ?? { ms: [], bytes: 0 }
      group.ms.push(m)
      group.bytes += bytes[i]!
      groups.set(key, group)
    }
    return [...groups.values()].map(({ ms, bytes }) =>
      auditEntry(this.ctx, scope, {
        infrastructureId: ms[0]!.infrastructureId,
        businessId: ms[0]!.businessId,
        action: 'outbox.enqueue',
        targetType: 'message',
        targetId: ms.length === 1 ? ms[0]!.id : null,
        details: {
          messageIds: ms.map((m) => m.id),
          channelIds: [...new Set(ms.map((m) => m.channelId))],
          bytes,
        },
      }),
    )
  }

  /** The batch as the unit's only call: a store may run such a unit as one statement (PostgreSQL does). */
  private runEnqueue(scope: TenantScope, commands: readonly EnqueueCommand[]): Promise<EnqueueResult[]> {
    return this.ctx.uow.run(scope, (r) => r.outbox.enqueueMany(scope, commands))
  }

  private command(
    scope: TenantScope,
    input: z.output<typeof enqueueInput>,
    field: string,
    span: Span,
  ): EnqueueCommand {
    const bytes = payloadBytes(input.payload)
    if (bytes > this.ctx.limits.maxPayloadBytes) {
      throw new PayloadTooLargeError(field, bytes, this.ctx.limits.maxPayloadBytes)
    }
    const id = this.ctx.ids.next()
    return {
      message: {
        id,
        infrastructureId: input.infrastructureId,
        businessId: input.businessId,
        payload: input.payload,
        recipients: input.recipients,
        idempotencyKey: input.idempotencyKey,
        createdBy: scope.userId,
        createdAt: this.ctx.clock.now(),
        priority: input.priority,
        orderingKey: input.orderingKey,
        // null under the no-op tracer (no SDK): the store writes nothing for it.
        traceContext: traceContextOf(span),
      },
      // A host's availableAt is its intent and stays absolute; without one the message is
      // due at once by the store's clock, not this process's.
      due: input.availableAt !== null ? { at: input.availableAt } : { afterMs: 0 },
      channel: input.channelId !== undefined ? { id: input.channelId } : { key: input.channelKey! },
      defaultMaxAttempts: this.ctx.limits.defaultMaxAttempts,
      audit: auditEntry(this.ctx, scope, {
        ...auditTarget({ message: { id, ...input } }),
        details: { bytes },
      }),
    }
  }

  /**
   * One message, its payload with every form of its channel's secrets redacted (the
   * module's one redactor, as for attempt errors): a payload that echoes a credential
   * never leaves in a response.
   */
  async get(scope: TenantScope, raw: MessageRefInput): Promise<OutboxMessage> {
    const input = parseInput(messageRefInput, raw)
    assertTenantScope(scope, input.infrastructureId)
    const found = await this.ctx.uow.run(scope, async (r) => {
      const m = await r.outbox.findById(scope, input.infrastructureId, input.messageId)
      if (!m) return null
      return { m, channel: await r.channels.findById(scope, m.infrastructureId, m.channelId) }
    })
    if (!found) throw new NotFoundError('message', input.messageId)
    return { ...found.m, payload: redactPayload(this.ctx, found.channel, found.m.payload) }
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
        ...(input.recipient !== undefined && { recipient: input.recipient }),
        ...(input.after !== undefined && { after: input.after }),
      }),
    )
  }
}

/**
 * `payload` with its channel's secrets redacted in every form the redactor knows, string
 * by string (keys too), so the JSON stays whole. A disabled channel's secrets are opened
 * all the same (only to be hidden); a channel whose secrets do not open, or that is gone,
 * has nothing known to hide.
 */
function redactPayload(ctx: ServiceContext, channel: Channel | null, payload: JsonValue): JsonValue {
  if (!channel) return payload
  const opened = openChannel(ctx, { ...channel, enabled: true })
  if (opened.status !== 'ready') return payload
  const walk = (v: JsonValue): JsonValue => {
    if (typeof v === 'string') return opened.redact(v)
    if (Array.isArray(v)) return v.map(walk)
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [opened.redact(k), walk(x)]))
    }
    return v
  }
  return walk(payload)
}
