import type { DeliveryAttempt } from '../domain/delivery.js'
import type { NewDeliveryEvent } from '../domain/events.js'
import type { AckOutcome, ClaimedMessage, DeliveryStatus } from '../domain/outbox-message.js'
import { settle } from '../domain/outbox-message.js'
import { cleanOptionalText, MAX_ERROR_CODE, MAX_ERROR_TEXT, MAX_PROVIDER_ID } from '../domain/outside-text.js'
import type { TenantScope } from '../domain/tenant-scope.js'
import type { CompleteCommand } from '../ports/outbox-repository.js'
import type { Repositories } from '../ports/unit-of-work.js'
import { auditEntry, type ServiceContext } from './context.js'
import { completedEvents, settledEvent } from './delivery-events.js'

/** A host name is at most 253 characters (RFC 1035); a configured name is cut there. */
const MAX_WORKER_HOST = 253
/** A provider's name (sql/0057): a slug of 64, or `smtp:<host>:<port>` with a host of 253. */
const MAX_PROVIDER_NAME = 300

/** How one attempt ended, as a worker (or a host acking over HTTP) hands it over for recording. */
export interface AttemptReport {
  readonly outcome: 'delivered' | 'retryable' | 'permanent'
  readonly errorCode: string | null
  readonly error: string | null
  readonly providerMessageId: string | null
  /** Which of the channel's providers the attempt went out through (an SMTP relay, an SMS provider). */
  readonly provider?: string | null
  /** For retryable outcomes: how long after the store's now to try again (already jittered). */
  readonly retryAfterMs?: number
  readonly startedAt: Date
  readonly finishedAt: Date
  readonly workerId: string
  /** The host the worker runs on, recorded with the attempt. */
  readonly workerHost?: string | null
}

/** One held message to settle, with the report of the attempt that ends its lease. */
export interface SettleItem {
  readonly held: ClaimedMessage
  readonly report: AttemptReport
}

/** `acked: false`: the lease no longer held the message; nothing was written for it. */
export interface SettleResult {
  readonly acked: boolean
  readonly status: DeliveryStatus
}

/**
 * The report with every text that came from outside (a receiver's body, a provider's error,
 * code or id, an SMTP reply) fit to store: no U+0000, no lone surrogate, length capped.
 */
export function cleanReport(report: AttemptReport): AttemptReport {
  return {
    ...report,
    errorCode: cleanOptionalText(report.errorCode, MAX_ERROR_CODE),
    error: cleanOptionalText(report.error, MAX_ERROR_TEXT),
    providerMessageId: cleanOptionalText(report.providerMessageId, MAX_PROVIDER_ID),
    provider: cleanOptionalText(report.provider ?? null, MAX_PROVIDER_NAME),
  }
}

function ackOutcomeOf(report: AttemptReport): AckOutcome {
  if (report.outcome === 'delivered') return { outcome: 'processed' }
  const reason = report.error ?? report.errorCode ?? 'delivery failed'
  return report.outcome === 'retryable'
    ? { outcome: 'failed', reason, retryAfterMs: report.retryAfterMs ?? 0 }
    : { outcome: 'failed', reason }
}

/** The record of one attempt of a held message, as the settle path (and a broker's retry) stores it. */
export function attemptOf(ctx: ServiceContext, held: ClaimedMessage, report: AttemptReport): DeliveryAttempt {
  return {
    id: ctx.ids.next(),
    infrastructureId: held.infrastructureId,
    messageId: held.id,
    attempt: held.attempts,
    workerId: report.workerId,
    workerHost: cleanOptionalText(report.workerHost ?? null, MAX_WORKER_HOST),
    startedAt: report.startedAt,
    finishedAt: report.finishedAt,
    durationMs: Math.max(0, report.finishedAt.getTime() - report.startedAt.getTime()),
    outcome: report.outcome,
    errorCode: report.errorCode,
    error: report.error,
    providerMessageId: report.providerMessageId,
    provider: report.provider ?? null,
  }
}

function commandOf(ctx: ServiceContext, held: ClaimedMessage, report: AttemptReport): CompleteCommand {
  const attempt = attemptOf(ctx, held, report)
  return {
    settle: {
      infrastructureId: held.infrastructureId,
      id: held.id,
      leaseToken: held.leaseToken,
      settlement: settle(held, ackOutcomeOf(report)),
    },
    attempt,
  }
}

/**
 * The one way a held message is settled, for the worker's batches and a host's ack alike:
 * in the caller's unit of work, each message is settled fenced by its own lease and its
 * attempt recorded (texts from outside cleaned first), then one `outbox.ack` audit entry
 * per (infrastructure, business) names every message settled, its attempt and new status.
 * Results in the order of `items`.
 */
export async function settleHeld(
  ctx: ServiceContext,
  r: Repositories,
  scope: TenantScope,
  items: readonly SettleItem[],
): Promise<SettleResult[]> {
  if (items.length === 0) return []
  const commands = items.map(({ held, report }) => commandOf(ctx, held, cleanReport(report)))
  const done = await r.outbox.completeMany(scope, commands)
  const groups = new Map<string, { held: ClaimedMessage; status: DeliveryStatus }[]>()
  for (const [i, { held }] of items.entries()) {
    if (!done[i]) continue
    const key = `${held.infrastructureId}/${held.businessId ?? ''}`
    const group = groups.get(key) ?? []
    group.push({ held, status: commands[i]!.settle.settlement.status })
    groups.set(key, group)
  }
  await r.audit.appendMany(
    scope,
    [...groups.values()].map((group) => ackAudit(ctx, scope, group)),
  )
  // The host's delivery events, in this same unit of work: one statement for the batch.
  const events: NewDeliveryEvent[] = []
  for (const [i, { held, report }] of items.entries()) {
    if (!done[i]) continue
    const event = settledEvent(ctx, held, cleanReport(report), commands[i]!.settle.settlement.status)
    if (event !== null) events.push(event)
  }
  events.push(
    ...(await completedEvents(
      ctx,
      r,
      scope,
      items.flatMap(({ held }, i) =>
        done[i] ? [{ message: held, status: commands[i]!.settle.settlement.status }] : [],
      ),
    )),
  )
  await r.events.append(scope, events)
  return commands.map((c, i) =>
    done[i] ? { acked: true, status: c.settle.settlement.status } : { acked: false, status: 'processing' },
  )
}

function ackAudit(
  ctx: ServiceContext,
  scope: TenantScope,
  group: readonly { held: ClaimedMessage; status: DeliveryStatus }[],
) {
  const first = group[0]!.held
  return auditEntry(ctx, scope, {
    infrastructureId: first.infrastructureId,
    businessId: first.businessId,
    action: 'outbox.ack',
    targetType: 'message',
    // One message names itself as the target; a batch names each in its details.
    targetId: group.length === 1 ? first.id : null,
    details: {
      messages: group.map(({ held, status }) => ({ id: held.id, attempt: held.attempts, status })),
    },
  })
}
