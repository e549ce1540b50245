import { digestEmptied, digestIdOf } from '../domain/digest.js'
import { IllegalTransitionError, NotFoundError } from '../domain/errors.js'
import { type CancelInput, cancelInput, type RescheduleInput, rescheduleInput } from '../domain/inputs.js'
import type { OutboxMessage } from '../domain/outbox-message.js'
import { assertRole, assertTenantScope, type TenantScope } from '../domain/tenant-scope.js'
import { parseInput } from '../domain/validation.js'
import type { CancelResult, CancelTarget } from '../ports/outbox-repository.js'
import type { Repositories } from '../ports/unit-of-work.js'
import { auditEntry, audited, type ServiceContext } from './context.js'
import { cancelledEvent, completedEvents } from './delivery-events.js'

/**
 * What a tenant decides about a message after it is queued and before it is sent: cancel it
 * (one message, a notification's fan-out, or what an idempotency key produced) or move its
 * due time. `infra_admin` or `service`; audited, refusals included.
 */
export class ScheduleService {
  constructor(private readonly ctx: ServiceContext) {}

  /**
   * Cancels what `raw` names: every such message nobody holds becomes `cancelled` (one audit
   * entry each); one a worker holds under a live lease is `kept`, and its delivery settles
   * it. NotFoundError when the message, the notification or the key names nothing in scope.
   */
  async cancel(scope: TenantScope, raw: CancelInput): Promise<CancelResult> {
    const input = parseInput(cancelInput, raw)
    const ref =
      input.messageId !== undefined
        ? { targetType: 'message' as const, targetId: input.messageId }
        : input.notificationId !== undefined
          ? { targetType: 'notification' as const, targetId: input.notificationId }
          : { targetType: 'message' as const, targetId: null }
    const target = { infrastructureId: input.infrastructureId, action: 'outbox.cancel', ...ref }
    return audited(this.ctx, scope, target, async () => {
      assertTenantScope(scope, input.infrastructureId)
      assertRole(scope, 'outbox.cancel', 'infra_admin', 'service')
      const done = await this.ctx.uow.run(scope, async (r) => {
        const targets = await this.targetsOf(r, scope, input)
        const result: { cancelled: OutboxMessage[]; kept: OutboxMessage[] } = { cancelled: [], kept: [] }
        for (const t of targets) {
          const part = await r.outbox.cancel(scope, { infrastructureId: input.infrastructureId, target: t })
          result.cancelled.push(...part.cancelled)
          result.kept.push(...part.kept)
          // A digest's delivery cancelled: the digest closes with it, so a later item opens the
          // next digest instead of joining one that will never go out.
          for (const m of part.cancelled) {
            if (digestIdOf(m.id, m.payload) !== null) await r.digests.close(scope, m.infrastructureId, m.id)
          }
          if ('notificationId' in t) {
            const emptied = await withdrawFromDigests(r, scope, input.infrastructureId, t.notificationId)
            result.cancelled.push(...emptied.cancelled)
            result.kept.push(...emptied.kept)
          }
        }
        // A notification that exists may have no message at all (every recipient skipped):
        // nothing to cancel, and nothing missing.
        if (result.cancelled.length + result.kept.length === 0 && input.notificationId === undefined) {
          throw input.messageId !== undefined
            ? new NotFoundError('message', input.messageId)
            : new NotFoundError('idempotency key', input.idempotencyKey!)
        }
        const via = {
          ...(input.notificationId !== undefined && { notificationId: input.notificationId }),
          ...(input.idempotencyKey !== undefined && { idempotencyKey: input.idempotencyKey }),
        }
        for (const m of result.cancelled) {
          await r.audit.append(
            scope,
            auditEntry(this.ctx, scope, {
              ...target,
              targetType: 'message',
              targetId: m.id,
              businessId: m.businessId,
              details: { channelId: m.channelId, ...via },
            }),
          )
        }
        await r.events.append(scope, [
          ...result.cancelled.map((m) => cancelledEvent(this.ctx, m)),
          ...(await completedEvents(
            this.ctx,
            r,
            scope,
            result.cancelled.map((message) => ({ message, status: 'cancelled' as const })),
          )),
        ])
        return result
      })
      if (done.cancelled.length > 0) this.ctx.eventFeed.publish([input.infrastructureId])
      return done
    })
  }

  /** The outbox targets `input` names; the notification (by id or by key) must be in scope. */
  private async targetsOf(
    r: Repositories,
    scope: TenantScope,
    input: ReturnType<typeof cancelInput.parse>,
  ): Promise<CancelTarget[]> {
    if (input.messageId !== undefined) return [{ messageId: input.messageId }]
    if (input.notificationId !== undefined) {
      const n = await r.notifications.find(scope, input.infrastructureId, input.notificationId)
      if (!n) throw new NotFoundError('notification', input.notificationId)
      return [{ notificationId: n.id }]
    }
    const key = { businessId: input.businessId, idempotencyKey: input.idempotencyKey! }
    // A key is the plain enqueue's, the notify's, or (two namespaces) both.
    const n = await r.notifications.findByIdempotencyKey(scope, {
      infrastructureId: input.infrastructureId,
      ...key,
    })
    return n ? [key, { notificationId: n.id }] : [key]
  }

  /**
   * Moves a pending message's due time; the store's clock decides when it is due. Any other
   * state is an IllegalTransitionError naming it (a held message is its worker's; a settled
   * one is done).
   */
  async reschedule(scope: TenantScope, raw: RescheduleInput): Promise<OutboxMessage> {
    const input = parseInput(rescheduleInput, raw)
    const target = {
      infrastructureId: input.infrastructureId,
      action: 'outbox.reschedule',
      targetType: 'message' as const,
      targetId: input.messageId,
    }
    return audited(this.ctx, scope, target, async () => {
      assertTenantScope(scope, input.infrastructureId)
      assertRole(scope, 'outbox.reschedule', 'infra_admin', 'service')
      const m = await this.ctx.uow.run(scope, async (r) => {
        const current = await r.outbox.findById(scope, input.infrastructureId, input.messageId)
        if (!current) throw new NotFoundError('message', input.messageId)
        const next = await r.outbox.reschedule(scope, {
          infrastructureId: input.infrastructureId,
          id: input.messageId,
          due: { at: input.availableAt },
        })
        if (!next) {
          throw new IllegalTransitionError(current.status, 'pending', 'only a pending message is rescheduled')
        }
        await r.audit.append(
          scope,
          auditEntry(this.ctx, scope, {
            ...target,
            businessId: current.businessId,
            details: { from: current.availableAt.toISOString(), to: next.availableAt.toISOString() },
          }),
        )
        return next
      })
      // Brought forward: an idle worker should not wait for its next poll.
      this.ctx.wake?.notify(input.infrastructureId)
      return m
    })
  }
}

/**
 * A cancelled notification's items leave the digests that have not closed yet (a closed
 * digest's items are fixed and go out); a digest left with no item is closed and its
 * delivery cancelled like any message.
 */
async function withdrawFromDigests(
  r: Repositories,
  scope: TenantScope,
  infrastructureId: string,
  notificationId: string,
): Promise<{ cancelled: OutboxMessage[]; kept: OutboxMessage[] }> {
  const out = { cancelled: [] as OutboxMessage[], kept: [] as OutboxMessage[] }
  for (const d of await r.digests.withdraw(scope, infrastructureId, notificationId)) {
    if (!digestEmptied(d)) continue
    await r.digests.close(scope, infrastructureId, d.id)
    const part = await r.outbox.cancel(scope, { infrastructureId, target: { messageId: d.id } })
    out.cancelled.push(...part.cancelled)
    out.kept.push(...part.kept)
  }
  return out
}
