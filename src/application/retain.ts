import type { ClaimedMessage } from '../domain/outbox-message.js'
import type { TenantScope } from '../domain/tenant-scope.js'
import type { Repositories } from '../ports/unit-of-work.js'
import type { ServiceContext } from './context.js'
import { type AttemptReport, attemptOf, cleanReport } from './settle.js'

/** A failed attempt of a message that stays held: a broker retries it, not the outbox. */
export interface RetainItem {
  readonly held: ClaimedMessage
  /** A retryable attempt (the broker's delivery number as `held.attempts`). */
  readonly report: AttemptReport
  /** The lease is extended to this long from now: the broker's retry and its backlog. */
  readonly holdMs: number
}

/**
 * Records the attempt of a held message that stays held, for a broker's workers that retry
 * it themselves (`createJetStreamDeliveryWorker`): fenced by the lease as every settle is, the
 * lease extended to `holdMs` first and the attempt (texts cleaned) recorded only where that
 * held. The message's state does not change, so nothing is audited; its last attempt goes
 * through the settle path like any other. Results in the order of `items`.
 */
export async function retainHeld(
  ctx: ServiceContext,
  r: Repositories,
  scope: TenantScope,
  items: readonly RetainItem[],
): Promise<boolean[]> {
  return r.outbox.retainMany(
    scope,
    items.map(({ held, report, holdMs }) => ({
      lease: {
        infrastructureId: held.infrastructureId,
        id: held.id,
        leaseToken: held.leaseToken,
        leaseMs: holdMs,
      },
      attempt: attemptOf(ctx, held, cleanReport(report)),
    })),
  )
}
