import { emptyMinute, type MinuteDelta } from '../../domain/queue-history.js'

/**
 * The rollup's additions of one write batch, per infrastructure: a store adds each
 * message's change here and writes one upsert per infrastructure when the batch is done,
 * not one per message.
 */
export class MinuteTally {
  private readonly byInfrastructure = new Map<string, MinuteDelta>()

  add(infrastructureId: string, delta: MinuteDelta | null): void {
    if (delta === null) return
    const { minute: _, ...was } = emptyMinute(0)
    const c = this.byInfrastructure.get(infrastructureId) ?? was
    this.byInfrastructure.set(infrastructureId, {
      enqueued: c.enqueued + delta.enqueued,
      delivered: c.delivered + delta.delivered,
      failedAttempts: c.failedAttempts + delta.failedAttempts,
      dead: c.dead + delta.dead,
      closed: c.closed + delta.closed,
      reopened: c.reopened + delta.reopened,
    })
  }

  /** Each infrastructure's additions, in infrastructure order (so concurrent writers lock rows in one order). */
  entries(): [string, MinuteDelta][] {
    return [...this.byInfrastructure].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  }
}

/** What one attempt that did not deliver adds. */
export const FAILED_ATTEMPT: MinuteDelta = {
  enqueued: 0,
  delivered: 0,
  failedAttempts: 1,
  dead: 0,
  closed: 0,
  reopened: 0,
}
