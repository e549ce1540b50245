import type { ChannelStats } from '../domain/delivery.js'
import { DEFAULT_MAX_TENANT_LABELS, OTHER_TENANTS } from './tenant-labels.js'

/** The states a queue depth is reported by: the outbox's statuses (`processing` is `in_flight` in stats). */
export const QUEUE_STATES = [
  'pending',
  'processing',
  'processed',
  'failed',
  'dead',
  'cancelled',
  'confirmed',
  'bounced',
] as const
export type QueueState = (typeof QUEUE_STATES)[number]

/** One tenant's queue: messages by state and the oldest due pending message's age. */
export interface TenantQueue {
  /** The tenant's infrastructure id, or `_other` for the tenants past the label bound, summed. */
  readonly tenant: string
  readonly depth: Readonly<Record<QueueState, number>>
  /** Seconds; null when no pending message is due. */
  readonly oldestPendingAgeSeconds: number | null
  /** Messages held in digests not yet closed (ChannelStats.digested, summed). */
  readonly digested: number
}

const empty = (): Record<QueueState, number> => ({
  pending: 0,
  processing: 0,
  processed: 0,
  failed: 0,
  dead: 0,
  cancelled: 0,
  confirmed: 0,
  bounced: 0,
})

/**
 * Per-channel stats summed per tenant. At most `maxTenants` tenants keep their own series,
 * those with the largest backlog (pending + processing, then dead); the rest are summed
 * under `_other` (their oldest age is the oldest among them), so a metric backend holds a
 * bounded number of series however many tenants share the store.
 */
export function tenantQueues(
  stats: readonly ChannelStats[],
  maxTenants: number = DEFAULT_MAX_TENANT_LABELS,
): TenantQueue[] {
  const byTenant = new Map<
    string,
    { depth: Record<QueueState, number>; oldestMs: number | null; digested: number }
  >()
  for (const s of stats) {
    let q = byTenant.get(s.infrastructureId)
    if (!q) {
      q = { depth: empty(), oldestMs: null, digested: 0 }
      byTenant.set(s.infrastructureId, q)
    }
    q.digested += s.digested ?? 0
    add(q.depth, {
      pending: s.pending,
      processing: s.inFlight,
      processed: s.processed,
      failed: s.failed,
      dead: s.dead,
      cancelled: s.cancelled ?? 0,
      confirmed: s.confirmed ?? 0,
      bounced: s.bounced ?? 0,
    })
    q.oldestMs = oldest(q.oldestMs, s.oldestPendingAgeMs)
  }
  const ranked = [...byTenant].sort(
    ([a, x], [b, y]) =>
      y.depth.pending + y.depth.processing - (x.depth.pending + x.depth.processing) ||
      y.depth.dead - x.depth.dead ||
      (a < b ? -1 : 1),
  )
  const out: TenantQueue[] = ranked
    .slice(0, maxTenants)
    .map(([tenant, q]) => queue(tenant, q.depth, q.oldestMs, q.digested))
  const rest = ranked.slice(maxTenants)
  if (rest.length > 0) {
    const depth = empty()
    let oldestMs: number | null = null
    let digested = 0
    for (const [, q] of rest) {
      add(depth, q.depth)
      oldestMs = oldest(oldestMs, q.oldestMs)
      digested += q.digested
    }
    out.push(queue(OTHER_TENANTS, depth, oldestMs, digested))
  }
  return out
}

const add = (into: Record<QueueState, number>, from: Readonly<Record<QueueState, number>>) => {
  for (const state of QUEUE_STATES) into[state] += from[state]
}
const oldest = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b))
const queue = (
  tenant: string,
  depth: Record<QueueState, number>,
  oldestMs: number | null,
  digested: number,
): TenantQueue => ({
  tenant,
  depth,
  oldestPendingAgeSeconds: oldestMs === null ? null : oldestMs / 1000,
  digested,
})
