export type { AuditLog } from './audit-log.js'
export type { BreakerKey, BreakerReading, BreakerRepository, BreakerView } from './breaker-repository.js'
export type { CategoryPatch, CategoryRepository } from './category-repository.js'
export type { ChannelPatch, ChannelRepository } from './channel-repository.js'
export type { ChannelSecrets, SecretOwner } from './channel-secrets.js'
export { plaintextSecrets } from './channel-secrets.js'
export { type Clock, systemClock } from './clock.js'
export { createLocalEventFeed, type EventFeed, type EventFeedChange } from './event-feed.js'
export type { EventFilter, EventLog } from './event-log.js'
export { type IdGenerator, randomIds } from './id-generator.js'
export { createLocalInboxFeed, type InboxChange, type InboxFeed } from './inbox-feed.js'
export type { InboxRepository } from './inbox-repository.js'
export type { MembershipRepository } from './membership-repository.js'
export type {
  DeliveryFilter,
  NotificationListFilter,
  NotificationRepository,
} from './notification-repository.js'
export type {
  ClaimOptions,
  CompleteCommand,
  Due,
  EnqueueCommand,
  EnqueueOutcome,
  LeaseCommand,
  NewOutboxMessage,
  OutboxListFilter,
  OutboxRepository,
  SettleCommand,
} from './outbox-repository.js'
export type { PreferenceKey, PreferenceRepository, TenantDefaultKey } from './preference-repository.js'
export type { ProfilePatch, ProfileRepository } from './profile-repository.js'
export type { RateBucketKey, RateBucketRepository } from './rate-bucket-repository.js'
export type { SecurityLog, SecurityLogFilter } from './security-log.js'
export type { TemplateEngine, TemplateEngineFailure } from './template-engine.js'
export type {
  SavedTemplateSettings,
  TemplateKey,
  TemplateListFilter,
  TemplateRepository,
} from './template-repository.js'
export type {
  DeliveryChannel,
  DeliveryContext,
  DeliveryOutcome,
  HandOff,
  RelayTransport,
  Transport,
} from './transport.js'
export type { MessagingStorage, PruneOptions, Repositories, UnitOfWork } from './unit-of-work.js'
export { createLocalWakeSignal, type WakeSignal } from './wake-signal.js'
