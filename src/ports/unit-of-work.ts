import type { TenantScope } from '../domain/tenant-scope.js'
import type { AuditLog } from './audit-log.js'
import type { BreakerRepository } from './breaker-repository.js'
import type { CategoryRepository } from './category-repository.js'
import type { ChannelRepository } from './channel-repository.js'
import type { DigestRepository } from './digest-repository.js'
import type { EventEndpointRepository } from './event-endpoint-repository.js'
import type { EventFeed } from './event-feed.js'
import type { EventLog } from './event-log.js'
import type { InboxFeed } from './inbox-feed.js'
import type { InboxRepository } from './inbox-repository.js'
import type { MembershipRepository } from './membership-repository.js'
import type { NotificationRepository } from './notification-repository.js'
import type { OutboxRepository } from './outbox-repository.js'
import type { PreferenceRepository } from './preference-repository.js'
import type { ProfileRepository } from './profile-repository.js'
import type { QueueHistoryRepository } from './queue-history-repository.js'
import type { QuietHoursRepository } from './quiet-hours-repository.js'
import type { RateBucketRepository } from './rate-bucket-repository.js'
import type { SecurityEvent, SecurityLog, SecurityLogFilter } from './security-log.js'
import type { StoreTime } from './store-time.js'
import type { TemplateRepository } from './template-repository.js'
import type { ThrottleRepository } from './throttle-repository.js'
import type { WakeSignal } from './wake-signal.js'

/** The repositories bound to one unit of work. */
export interface Repositories {
  readonly channels: ChannelRepository
  readonly members: MembershipRepository
  readonly outbox: OutboxRepository
  readonly audit: AuditLog
  /** Each tenant's delivery events, written with the change each tells of. */
  readonly events: EventLog
  /** Tenants' status webhook endpoints and each one's place in the event log. */
  readonly eventEndpoints: EventEndpointRepository
  /** Refusals outside the caller's scope, counted per caller and hour (never in a tenant's trail). */
  readonly security: SecurityLog
  /** In-app inboxes (written by the in-app transport). */
  readonly inbox: InboxRepository
  /** Notification templates and their versions. */
  readonly templates: TemplateRepository
  /** Recipient profiles: contact points, locale, time zone. */
  readonly profiles: ProfileRepository
  /** Notification categories. */
  readonly categories: CategoryRepository
  /** Users' own choices and the tenant's defaults. */
  readonly preferences: PreferenceRepository
  /** Per-channel rate buckets shared by every worker of the store. */
  readonly rateBuckets: RateBucketRepository
  /** Per-channel circuit breakers shared by every worker of the store. */
  readonly breakers: BreakerRepository
  /** Per-recipient counters of categories' throttles. */
  readonly throttles: ThrottleRepository
  /** The queue's per-minute rollup (kept by the outbox's writes). */
  readonly queueHistory: QueueHistoryRepository
  /** Categories' digests: a recipient's messages collapsed into one delivery per window. */
  readonly digests: DigestRepository
  /** Infrastructures' default quiet hours. */
  readonly quietHours: QuietHoursRepository
  /** The store's clock within this unit of work. */
  readonly time: StoreTime
  /** Notifications and the recipients they left out. */
  readonly notifications: NotificationRepository
}

/**
 * Runs work atomically on behalf of one scope: everything it wrote commits together, or,
 * when it throws, nothing does. On PostgreSQL that is one transaction that first sets the
 * scope's claims (so RLS sees them); on SQLite one write transaction; in memory an undo log.
 * A store may run a unit that is one self-contained statement without a transaction around
 * it (PostgreSQL's lone enqueue): that is its own business, invisible to the caller.
 */
export interface UnitOfWork {
  run<T>(scope: TenantScope, work: (repos: Repositories) => Promise<T>): Promise<T>
}

/** A storage adapter: what `createMessaging` needs of a store. */
export interface MessagingStorage {
  /** Adapter name for logs and diagnostics: `memory`, `sqlite`, `postgres`. */
  readonly name: string
  /**
   * Whether the data reaches a disk (or another process). A persistent store keeps channel
   * credentials only sealed; one that does not (memory, SQLite `:memory:`) may hold them
   * as given.
   */
  readonly persistent: boolean
  readonly unitOfWork: UnitOfWork
  /**
   * Wakes idle workers when messages become due: across processes where the store can
   * (PostgreSQL LISTEN/NOTIFY), else within the process.
   */
  readonly wakeSignal: WakeSignal
  /**
   * Tells inbox streams that a user's inbox changed: across processes where the store can
   * (PostgreSQL LISTEN/NOTIFY), else within the process (`createLocalInboxFeed()`).
   */
  readonly inboxFeed: InboxFeed
  /**
   * Tells event streams that a tenant's events grew: across processes where the store can
   * (PostgreSQL LISTEN/NOTIFY); absent, the module makes an in-process one.
   */
  readonly eventFeed?: EventFeed
  /**
   * Retention: removes processed, failed and dead messages settled before the cut-off (with
   * their attempts), at most `batchSize` per statement, and returns how many went; and the
   * queue's per-minute rollup older than QUEUE_HISTORY_KEEP_MS (three hours). Runs with
   * the store owner's rights where the app roles may not delete (PostgreSQL throws
   * StorageError when it was given no owner connection).
   */
  prune(options: PruneOptions): Promise<number>
  /**
   * The security log, newest refusal first: what operators read. Runs with the store
   * owner's rights where the app roles may not read it.
   */
  listSecurityEvents(filter: SecurityLogFilter): Promise<SecurityEvent[]>
  close(): Promise<void>
}

export interface PruneOptions {
  /**
   * The cut-off: a time the host named, or an age that the store resolves against its own
   * clock (so a maintenance process with a fast clock prunes nothing early).
   */
  readonly olderThan: Date | { readonly ageMs: number }
  /** Rows per statement, so a prune never holds long locks. Default 1000. */
  readonly batchSize?: number
}
