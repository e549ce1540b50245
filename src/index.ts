/**
 * messaging: channels, members and a tenant-isolated outbox for TypeScript back ends.
 * The root entry holds the facade, the domain types and the errors; each storage
 * adapter has its own entry (`messaging/memory`, ...) so a host loads only what it uses.
 */

export {
  createLiquidTemplateEngine,
  DEFAULT_LIQUID_LIMITS,
  type LiquidLimits,
} from './adapters/liquid/liquid-template-engine.js'
export type { Refusal } from './application/audit-service.js'
export type { MessagingLimits } from './application/context.js'
export type { AttemptReport, DeliveryService } from './application/delivery-service.js'
export type { EventDispatchPort, LeasedEndpoint } from './application/event-endpoint-service.js'
export type { NotifyResult } from './application/notify-service.js'
export type { AckResult, EnqueueResult } from './application/outbox-service.js'
export type { TemplateChoice } from './application/template-lookup.js'
export type { RenderOutcome } from './application/template-renderer.js'
export type {
  DeliveryRenderRequest,
  TemplatePreview,
  TemplateService,
} from './application/template-service.js'
export { createMessaging, MESSAGING_TYPES, type MessagingOptions, messagingModule } from './container.js'
export {
  AUDIT_TARGET_TYPES,
  type AuditEntry,
  type AuditOutcome,
  type AuditTargetType,
} from './domain/audit.js'
export type { Category, CategoryChannel, CategoryThrottle } from './domain/category.js'
export {
  BUILTIN_CHANNEL_TYPES,
  type BuiltinChannelType,
  type Channel,
  type ChannelType,
  type ChannelTypeDefinition,
  ChannelTypeRegistry,
  type ChannelView,
  type RateLimit,
  REDACTED,
  rateLimitSchema,
  type SecretState,
} from './domain/channel.js'
export {
  backoffMs,
  type ChannelStats,
  DEFAULT_RETRY_POLICY,
  type DeliveryAttempt,
  type RetryPolicy,
} from './domain/delivery.js'
export type { DestinationPolicy } from './domain/destinations.js'
export {
  ChannelDisabledError,
  ConflictError,
  type ErrorCode,
  ForbiddenRoleError,
  IllegalTransitionError,
  isMessagingError,
  MessagingError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  StorageError,
  TenantScopeViolationError,
  UnauthenticatedError,
  ValidationError,
  type ValidationIssue,
} from './domain/errors.js'
export {
  type CreateEventEndpointInput,
  DEFAULT_ENDPOINT_RETRY,
  type EndpointRetryPolicy,
  EVENT_ENDPOINT_STATUSES,
  type EventEndpoint,
  type EventEndpointRefInput,
  type EventEndpointStatus,
  type EventEndpointView,
  type EventEndpointWithSecret,
  type ListEventEndpointsInput,
  type UpdateEventEndpointInput,
} from './domain/event-endpoint.js'
export { type DeliveryEvent, EVENT_TYPES, type EventType } from './domain/events.js'
export type * from './domain/inputs.js'
export * as schemas from './domain/inputs.js'
export type { Membership, MembershipView } from './domain/membership.js'
export {
  ANY_CHANNEL_TYPE,
  DELIVERY_STATES as NOTIFICATION_DELIVERY_STATES,
  type DeliveryCounts,
  type DeliveryState,
  type MessageNotification,
  type Notification,
  type NotificationDelivery,
  type NotificationSkip,
  type NotificationStatus,
  type NotifyTarget,
  SKIP_REASONS,
  type SkipReason,
  type ThrottledCount,
} from './domain/notification.js'
export type * from './domain/notify-inputs.js'
export {
  type AckOutcome,
  assertTransition,
  type ClaimedMessage,
  canTransition,
  DELIVERY_STATUSES,
  type DeliveryStatus,
  isCancellable,
  isClaimable,
  type JsonValue,
  type OutboxMessage,
  RECEIPT_STATUSES,
  type ReceiptStatus,
  type Settlement,
} from './domain/outbox-message.js'
export {
  type Preference,
  type PreferenceCell,
  type PreferenceFacts,
  type PreferenceGrid,
  type PreferenceSource,
  type ResolvedPreference,
  resolvePreference,
  type TenantDefault,
} from './domain/preference.js'
export type { QueueMinute } from './domain/queue-history.js'
export type { QuietHours, QuietHoursDefault } from './domain/quiet-hours.js'
export {
  RECEIPT_KINDS,
  type ReceiptInput,
  type ReceiptKind,
  type ReceiptResult,
  signTwilioRequest,
} from './domain/receipts.js'
export type { RecipientProfile } from './domain/recipient-profile.js'
export { composeRedactors, createRedactor, type Redactor } from './domain/redaction.js'
export type { SecurityEvent, SecurityRefusal } from './domain/security-log.js'
export {
  canonicalLocale,
  DEFAULT_TEMPLATE_LOCALE,
  localeFallbacks,
  type RenderContext,
  type RenderedTemplate,
  selectTemplate,
  TEMPLATE_CHANNEL_TYPES,
  TEMPLATE_FIELDS,
  type TemplateChannelType,
  type TemplateContent,
  type TemplateField,
  type TemplateProblem,
  type TemplateProblemRule,
  type TemplateSettings,
  type TemplateVersion,
} from './domain/template.js'
export type * from './domain/template-inputs.js'
export * as templateSchemas from './domain/template-inputs.js'
export {
  assertRole,
  assertTenantScope,
  type Grant,
  type Principal,
  ROLES,
  type Role,
  TenantScope,
} from './domain/tenant-scope.js'
export type { TraceContext } from './domain/trace-context.js'
export { Messaging } from './messaging.js'
export type * from './ports/index.js'
export { createLocalInboxFeed, createLocalWakeSignal, randomIds, systemClock } from './ports/index.js'
export { observeQueueMetrics, type QueueMetricsOptions } from './telemetry/queue-metrics.js'
