import type { Kysely } from 'kysely'
import type { Repositories } from '../../ports/unit-of-work.js'
import { PostgresAuditLog } from './postgres-audit-log.js'
import { PostgresBreakerRepository } from './postgres-breaker-repository.js'
import { PostgresCategoryRepository } from './postgres-category-repository.js'
import { PostgresChannelRepository } from './postgres-channel-repository.js'
import { PostgresDigestRepository } from './postgres-digest-repository.js'
import { PostgresEventEndpointRepository } from './postgres-event-endpoint-repository.js'
import { PostgresEventLog } from './postgres-event-log.js'
import { PostgresInboxRepository } from './postgres-inbox-repository.js'
import { PostgresMembershipRepository } from './postgres-membership-repository.js'
import { PostgresNotificationRepository } from './postgres-notification-repository.js'
import { PostgresOutboxRepository } from './postgres-outbox-repository.js'
import { PostgresPreferenceRepository } from './postgres-preference-repository.js'
import { PostgresProfileRepository } from './postgres-profile-repository.js'
import { PostgresQueueHistoryRepository } from './postgres-queue-history-repository.js'
import { PostgresQuietHoursRepository } from './postgres-quiet-hours-repository.js'
import { PostgresRateBucketRepository } from './postgres-rate-bucket-repository.js'
import { PostgresSecurityLog } from './postgres-security-log.js'
import { PostgresStoreTime } from './postgres-store-time.js'
import { PostgresTemplateRepository } from './postgres-template-repository.js'
import { PostgresThrottleRepository } from './postgres-throttle-repository.js'
import type { MessagingDatabase } from './schema.js'
import type { SelfContainedStatements } from './unit-session.js'

/** The repositories of one unit of work, over its connection. */
export const repositories = (
  db: Kysely<MessagingDatabase>,
  statements: SelfContainedStatements,
): Repositories => ({
  channels: new PostgresChannelRepository(db),
  members: new PostgresMembershipRepository(db),
  outbox: new PostgresOutboxRepository(db, statements),
  audit: new PostgresAuditLog(db),
  events: new PostgresEventLog(db),
  eventEndpoints: new PostgresEventEndpointRepository(db),
  security: new PostgresSecurityLog(db),
  inbox: new PostgresInboxRepository(db),
  templates: new PostgresTemplateRepository(db),
  profiles: new PostgresProfileRepository(db),
  categories: new PostgresCategoryRepository(db),
  preferences: new PostgresPreferenceRepository(db),
  rateBuckets: new PostgresRateBucketRepository(db),
  throttles: new PostgresThrottleRepository(db),
  queueHistory: new PostgresQueueHistoryRepository(db),
  digests: new PostgresDigestRepository(db),
  time: new PostgresStoreTime(db),
  quietHours: new PostgresQuietHoursRepository(db),
  breakers: new PostgresBreakerRepository(db),
  notifications: new PostgresNotificationRepository(db),
})
