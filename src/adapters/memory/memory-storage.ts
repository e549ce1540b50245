import type { SecurityEvent } from '../../domain/security-log.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import { type Clock, systemClock } from '../../ports/clock.js'
import { createLocalEventFeed } from '../../ports/event-feed.js'
import { type IdGenerator, randomIds } from '../../ports/id-generator.js'
import { createLocalInboxFeed } from '../../ports/inbox-feed.js'
import type { SecurityLogFilter } from '../../ports/security-log.js'
import type { MessagingStorage, PruneOptions, Repositories, UnitOfWork } from '../../ports/unit-of-work.js'
import { createLocalWakeSignal } from '../../ports/wake-signal.js'
import { cutOff } from '../shared/retention.js'
import { MemoryAuditLog } from './memory-audit-log.js'
import { MemoryBreakerRepository } from './memory-breaker-repository.js'
import { MemoryCategoryRepository } from './memory-category-repository.js'
import { MemoryChannelRepository } from './memory-channel-repository.js'
import { MemoryDigestRepository } from './memory-digest-repository.js'
import { MemoryEventEndpointRepository } from './memory-event-endpoint-repository.js'
import { MemoryEventLog } from './memory-event-log.js'
import { MemoryInboxRepository } from './memory-inbox-repository.js'
import { MemoryMembershipRepository } from './memory-membership-repository.js'
import { MemoryNotificationRepository } from './memory-notification-repository.js'
import { MemoryOutboxRepository } from './memory-outbox-repository.js'
import { MemoryPreferenceRepository } from './memory-preference-repository.js'
import { MemoryProfileRepository } from './memory-profile-repository.js'
import { MemoryQueueHistoryRepository, pruneQueueMinutes } from './memory-queue-history-repository.js'
import { MemoryQuietHoursRepository } from './memory-quiet-hours-repository.js'
import { MemoryRateBucketRepository } from './memory-rate-bucket-repository.js'
import { listSecurityEvents, MemorySecurityLog } from './memory-security-log.js'
import { copy, idempotencyKeyOf, Journal, MemoryState } from './memory-state.js'
import { MemoryTemplateRepository } from './memory-template-repository.js'
import { MemoryThrottleRepository } from './memory-throttle-repository.js'

export interface MemoryStorageOptions {
  /** Mints lease tokens. */
  readonly ids?: IdGenerator
  /**
   * The store's own clock: leases, due times, retry delays and retention are resolved
   * against it, as a database resolves them against its own (default: the system clock).
   * Tests hand in a clock they move by hand.
   */
  readonly clock?: Clock
}

/**
 * Units of work run one at a time (a promise chain), each with an undo log: the same
 * isolation a serialisable database gives, which is what makes a pass here mean something.
 */
class MemoryUnitOfWork implements UnitOfWork {
  private tail: Promise<unknown> = Promise.resolve()

  constructor(
    private readonly state: MemoryState,
    private readonly ids: IdGenerator,
    private readonly clock: Clock,
    private readonly isClosed: () => boolean,
  ) {}

  run<T>(_scope: TenantScope, work: (repos: Repositories) => Promise<T>): Promise<T> {
    return this.exclusive(async (journal) => {
      const repos: Repositories = {
        channels: new MemoryChannelRepository(this.state, journal),
        members: new MemoryMembershipRepository(this.state, journal),
        outbox: new MemoryOutboxRepository(this.state, journal, this.ids, this.clock),
        audit: new MemoryAuditLog(this.state, journal),
        events: new MemoryEventLog(this.state, journal, this.clock),
        eventEndpoints: new MemoryEventEndpointRepository(this.state, journal, this.clock),
        security: new MemorySecurityLog(this.state, journal),
        inbox: new MemoryInboxRepository(this.state, journal),
        templates: new MemoryTemplateRepository(this.state, journal),
        profiles: new MemoryProfileRepository(this.state, journal),
        categories: new MemoryCategoryRepository(this.state, journal),
        preferences: new MemoryPreferenceRepository(this.state, journal),
        rateBuckets: new MemoryRateBucketRepository(this.state, journal, this.clock),
        throttles: new MemoryThrottleRepository(this.state, journal, this.clock),
        queueHistory: new MemoryQueueHistoryRepository(this.state, this.clock),
        digests: new MemoryDigestRepository(this.state, journal, this.clock),
        time: { now: async () => this.clock.now() },
        quietHours: new MemoryQuietHoursRepository(this.state, journal),
        breakers: new MemoryBreakerRepository(this.state, journal, this.clock),
        notifications: new MemoryNotificationRepository(this.state, journal),
      }
      return work(repos)
    })
  }

  /** Runs `work` alone, rolling its writes back when it throws. */
  exclusive<T>(work: (journal: Journal) => Promise<T>): Promise<T> {
    const result = this.tail.then(async () => {
      if (this.isClosed()) throw new Error('memory storage is closed')
      const journal = new Journal()
      try {
        return await work(journal)
      } catch (e) {
        journal.rollback()
        throw e
      }
    })
    this.tail = result.catch(() => undefined)
    return result
  }
}

/** Extra capabilities of the memory store, for tests and diagnostics. */
export interface MemoryStorage extends MessagingStorage {
  readonly name: 'memory'
  listSecurityEvents(filter: SecurityLogFilter): Promise<SecurityEvent[]>
  /** A copy of every table, as [key, row] pairs in insertion order: what a test compares before and after. */
  dump(): Record<string, unknown[]>
}

/**
 * Events older than the cut-off, up to `batchSize`: the log is in commit order, and the
 * store's clock only moves on, so they are at its front.
 */
function pruneEvents(state: MemoryState, olderThan: Date, batchSize: number): number {
  let n = 0
  while (
    n < batchSize &&
    n < state.events.length &&
    state.events[n]!.occurredAt.getTime() < olderThan.getTime()
  )
    n++
  state.events.splice(0, n)
  return n
}

/**
 * The in-memory store: the reference implementation of every port, for tests and trials.
 * Same unique keys, scope rules, leases and idempotency as the SQL adapters.
 *
 * @example
 * import { createMemoryStorage } from 'messaging/memory'
 * const messaging = createMessaging({ storage: createMemoryStorage() })
 */
export function createMemoryStorage(options: MemoryStorageOptions = {}): MemoryStorage {
  const state = new MemoryState()
  let closed = false
  const clock = options.clock ?? systemClock
  const unitOfWork = new MemoryUnitOfWork(state, options.ids ?? randomIds, clock, () => closed)
  return {
    name: 'memory',
    persistent: false,
    unitOfWork,
    wakeSignal: createLocalWakeSignal(),
    inboxFeed: createLocalInboxFeed(),
    eventFeed: createLocalEventFeed(),
    prune: ({ olderThan: given, batchSize = 1000 }: PruneOptions) =>
      unitOfWork.exclusive(async (journal) => {
        const olderThan = cutOff(given, clock.now())
        let removed = 0
        for (const [key, m] of state.outbox) {
          if (removed >= batchSize) break
          if (m.status === 'pending' || m.status === 'processing') continue
          if (m.settledAt === null || m.settledAt.getTime() >= olderThan.getTime()) continue
          journal.deleteIn(state.outbox, key)
          journal.deleteIn(state.attempts, key)
          journal.deleteIn(state.orderingSeq, key)
          // A digest goes with its delivery message, which has its id (and so its key).
          journal.deleteIn(state.digests, key)
          if (m.idempotencyKey !== null) {
            journal.deleteIn(
              state.idempotency,
              idempotencyKeyOf(m.infrastructureId, m.businessId, m.idempotencyKey),
            )
          }
          removed++
        }
        pruneQueueMinutes(state, journal, clock.now())
        // Events go by their own time, a batch at a time until none is older (the count stays the messages').
        while (pruneEvents(state, olderThan, batchSize) >= batchSize && batchSize > 0) {}
        return removed
      }),
    listSecurityEvents: (filter) => unitOfWork.exclusive(async () => listSecurityEvents(state, filter)),
    dump: () =>
      Object.fromEntries(
        Object.entries(state).map(([table, rows]) => [
          table,
          copy([...(rows instanceof Map ? rows.entries() : (rows as unknown[]).entries())]),
        ]),
      ),
    async close() {
      closed = true
    },
  }
}
