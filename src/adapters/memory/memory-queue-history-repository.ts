import {
  MINUTE_MS,
  type MinuteCounts,
  minuteOf,
  QUEUE_HISTORY_KEEP_MS,
  type QueueMinute,
  queueHistory,
} from '../../domain/queue-history.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { Clock } from '../../ports/clock.js'
import type { QueueHistoryRepository } from '../../ports/queue-history-repository.js'
import { type Journal, type MemoryState, queueMinuteKey } from './memory-state.js'

/** The queue's per-minute rollup in memory: the counters MemoryOutboxRepository keeps. */
export class MemoryQueueHistoryRepository implements QueueHistoryRepository {
  constructor(
    private readonly state: MemoryState,
    private readonly clock: Clock,
  ) {}

  async minutes(scope: TenantScope, infrastructureId: string, minutes: number): Promise<QueueMinute[]> {
    const nowMinute = minuteOf(this.clock.now())
    const allowed = scope.hasRole('infra_admin', 'service') && scope.canAccess(infrastructureId, null)
    const counts: MinuteCounts[] = []
    let open = 0
    if (allowed) {
      for (let i = 0; i < minutes; i++) {
        const c = this.state.queueMinutes.get(queueMinuteKey(infrastructureId, nowMinute - i * MINUTE_MS))
        if (c) counts.push(c)
      }
      for (const m of this.state.outbox.values()) {
        if (m.infrastructureId === infrastructureId && (m.status === 'pending' || m.status === 'processing'))
          open++
      }
    }
    return queueHistory(counts, open, nowMinute, minutes)
  }
}

/** Retention of the rollup: removes the minutes older than QUEUE_HISTORY_KEEP_MS by the store's now. */
export function pruneQueueMinutes(state: MemoryState, journal: Journal, now: Date): void {
  const keepFrom = minuteOf(now.getTime() - QUEUE_HISTORY_KEEP_MS)
  for (const [key, c] of state.queueMinutes)
    if (c.minute < keepFrom) journal.deleteIn(state.queueMinutes, key)
}
