import { z } from 'zod'
import type { AckResult, EnqueueResult } from '../application/outbox-service.js'
import { AUDIT_TARGET_TYPES, type AuditEntry } from '../domain/audit.js'
import type { ChannelView } from '../domain/channel.js'
import type { ChannelStats, DeliveryAttempt } from '../domain/delivery.js'
import { type DeliveryEvent, EVENT_TYPES } from '../domain/events.js'
import type { InboxEntry } from '../domain/inbox.js'
import type { Membership, MembershipView } from '../domain/membership.js'
import { DELIVERY_STATUSES, MESSAGE_PRIORITIES, type OutboxMessage } from '../domain/outbox-message.js'
import type { QueueMinute } from '../domain/queue-history.js'
import type { ReceiptResult } from '../domain/receipts.js'
import { ROLES } from '../domain/tenant-scope.js'
import type { BreakerView } from '../ports/breaker-repository.js'
import type { CancelResult } from '../ports/outbox-repository.js'

/**
 * Zod schemas of what the handler returns, for the OpenAPI document. Each is declared
 * against its domain type (every key, no extra one), so a field added to the domain
 * without its schema fails to compile.
 */
export const shapeOf =
  <T>() =>
  <S extends { [K in keyof T]-?: z.ZodType }>(shape: S & Record<Exclude<keyof S, keyof T>, never>) =>
    z.object(shape)

const uuid = z.uuid()
const dateTime = z.iso.datetime()

export const channelSchema = shapeOf<ChannelView>()({
  id: uuid,
  infrastructureId: uuid,
  channelKey: z.string(),
  type: z.string(),
  name: z.string(),
  config: z
    .record(z.string(), z.unknown())
    .describe('Provider settings; secret fields read as "[redacted]".'),
  enabled: z.boolean(),
  maxAttempts: z.number().int().nullable(),
  createdBy: uuid,
  createdAt: dateTime,
  updatedAt: dateTime,
  secrets: z
    .array(z.object({ path: z.string(), set: z.boolean(), keyIds: z.array(z.string()) }))
    .describe(
      'Each secret of the config: set or not, and the ids of the keys it is sealed under; never its value.',
    ),
})

const membershipShape = {
  infrastructureId: uuid,
  channelId: uuid,
  userId: uuid,
  businessId: uuid.nullable(),
  optedIn: z.boolean(),
  addedBy: uuid,
  createdAt: dateTime,
  updatedAt: dateTime,
}
export const membershipSchema = shapeOf<Membership>()(membershipShape)

export const membershipViewSchema = shapeOf<MembershipView>()({
  ...membershipShape,
  channelKey: z.string(),
  channelType: z.string(),
  channelName: z.string(),
  channelEnabled: z.boolean(),
})

export const outboxMessageSchema = shapeOf<OutboxMessage>()({
  id: uuid,
  infrastructureId: uuid,
  businessId: uuid.nullable(),
  channelId: uuid,
  payload: z.unknown().describe('Any JSON value.'),
  recipients: z.array(z.string()).nullable(),
  idempotencyKey: z.string().nullable(),
  maxAttempts: z.number().int(),
  createdBy: uuid,
  createdAt: dateTime,
  status: z.enum(DELIVERY_STATUSES),
  attempts: z.number().int(),
  availableAt: dateTime,
  leaseToken: uuid.nullable(),
  leasedUntil: dateTime.nullable(),
  lastError: z.string().nullable(),
  settledAt: dateTime.nullable(),
  priority: z
    .enum(MESSAGE_PRIORITIES)
    .describe(
      "Its place in its tenant's queue: higher first within the tenant; tenants take turns whatever their priorities.",
    ),
  orderingKey: z
    .string()
    .nullable()
    .describe(
      'Messages of the tenant with the same key are delivered one at a time, in enqueue order; null: none.',
    ),
  notification: z
    .object({ id: uuid, userId: uuid, categoryKey: z.string(), templateId: uuid.nullable() })
    .nullable()
    .describe(
      "A notify's message: its notification, the recipient user, the category and the template version it renders; null on a plain enqueue.",
    ),
  traceContext: z
    .object({ traceparent: z.string(), tracestate: z.string().nullable() })
    .nullable()
    .describe(
      'The W3C trace context of the span the enqueue ran in (its delivery joins that trace); null when no OpenTelemetry SDK was recording.',
    ),
})

export const cancelResultSchema = shapeOf<CancelResult>()({
  cancelled: z.array(outboxMessageSchema).describe('Cancelled by this call.'),
  kept: z
    .array(outboxMessageSchema)
    .describe(
      'Named and left as they were: held by a worker under a live lease (its delivery settles them), settled, or cancelled before.',
    ),
})

export const enqueueResultSchema = shapeOf<EnqueueResult>()({
  message: outboxMessageSchema,
  created: z.boolean().describe('false: the idempotency key was seen before and `message` is the first one.'),
})

export const ackResultSchema = shapeOf<AckResult>()({
  acked: z.boolean().describe('false: the lease token no longer holds the message; nothing changed.'),
  status: z.enum(DELIVERY_STATUSES),
})

export const auditEntrySchema = shapeOf<AuditEntry>()({
  id: uuid,
  infrastructureId: uuid,
  businessId: uuid.nullable(),
  actorId: uuid,
  actorRole: z.enum(ROLES),
  action: z.string(),
  targetType: z.enum(AUDIT_TARGET_TYPES),
  targetId: z.string().nullable(),
  outcome: z.enum(['ok', 'refused']),
  errorCode: z.string().nullable(),
  details: z.record(z.string(), z.unknown()).nullable(),
  at: dateTime,
})

export const deliveryEventSchema = shapeOf<DeliveryEvent>()({
  id: uuid,
  infrastructureId: uuid,
  businessId: uuid.nullable(),
  type: z.enum(EVENT_TYPES),
  messageId: uuid.nullable(),
  notificationId: uuid.nullable(),
  channelId: uuid.nullable(),
  data: z
    .record(z.string(), z.unknown())
    .describe(
      "By type: `attempt`, `status`, `userId` (a notification's recipient), `provider`/`providerMessageId` (delivered), `errorCode`/`error` and `willRetry` (failed), `channelType`/`reason` (skipped).",
    ),
  cursor: z.string().describe('Its place in the log: pass it as `after` to page on.'),
  occurredAt: dateTime,
})

export const deliveryAttemptSchema = shapeOf<DeliveryAttempt>()({
  id: uuid,
  infrastructureId: uuid,
  messageId: uuid,
  attempt: z.number().int().describe('1 for the first attempt.'),
  workerId: uuid,
  workerHost: z
    .string()
    .nullable()
    .describe("The host the worker ran on (by default its machine's host name); null for an ack over HTTP."),
  startedAt: dateTime,
  finishedAt: dateTime,
  durationMs: z.number().int(),
  outcome: z.enum(['delivered', 'retryable', 'permanent']),
  errorCode: z.string().nullable().describe('A short machine-readable cause: `HTTP_503`, `TIMEOUT`, ...'),
  error: z.string().nullable().describe('The error text with every known secret redacted.'),
  providerMessageId: z.string().nullable(),
  provider: z
    .string()
    .nullable()
    .describe(
      "Which of the channel's providers the attempt went out through (an SMTP relay, an SMS provider; the last tried when all failed); null for single-endpoint types.",
    ),
})

export const channelStatsSchema = shapeOf<ChannelStats>()({
  infrastructureId: uuid,
  channelId: uuid,
  pending: z.number().int().describe('Waiting, due or not.'),
  inFlight: z.number().int().describe('Held under a lease (live or lapsed).'),
  processed: z.number().int(),
  failed: z.number().int(),
  dead: z.number().int(),
  cancelled: z.number().int().describe('Cancelled before delivery (until retention prunes them).'),
  confirmed: z.number().int().describe("Delivered and confirmed by the provider's receipt."),
  bounced: z.number().int().describe("Delivered, then reported undelivered by the provider's receipt."),
  oldestPendingAgeMs: z
    .number()
    .nullable()
    .describe('Age of the oldest due pending message; null when none is due.'),
  digested: z
    .number()
    .int()
    .describe(
      "Messages held in the channel's digests not yet closed (read by infra_admin and service; 0 for a member).",
    ),
})

export const queueMinuteSchema = shapeOf<QueueMinute>()({
  minute: dateTime.describe("The minute's start (the store's clock)."),
  enqueued: z.number().int().describe('Messages created in the minute.'),
  delivered: z.number().int().describe('Messages delivered (processed) in the minute.'),
  failedAttempts: z.number().int().describe('Attempts in the minute that did not deliver.'),
  dead: z.number().int().describe('Messages that went dead in the minute.'),
  backlog: z
    .number()
    .int()
    .describe("Messages pending or in flight at the minute's end (for the current minute: now)."),
})

export const breakerSchema = shapeOf<BreakerView>()({
  infrastructureId: uuid,
  channelId: uuid,
  status: z
    .enum(['open', 'half_open'])
    .describe("`open`: the channel's messages wait; `half_open`: one probe delivery is under way."),
  failures: z.number().int().describe('The failed attempts in a row that opened it.'),
  openedAt: dateTime.nullable(),
  retryAt: dateTime
    .nullable()
    .describe('When the next probe may go (open), or when the probe under way is given up on (half open).'),
})

export const inboxEntrySchema = shapeOf<InboxEntry>()({
  id: uuid,
  infrastructureId: uuid,
  businessId: uuid.nullable(),
  userId: uuid,
  channelId: uuid,
  messageId: uuid,
  payload: z.unknown().describe('Any JSON value: the outbox message payload.'),
  createdAt: dateTime,
  seenAt: dateTime.nullable(),
  readAt: dateTime.nullable(),
  archivedAt: dateTime.nullable(),
})

export const redriveChannelResultSchema = z.object({
  redriven: z.number().int().describe('Dead messages of the channel sent round again.'),
})

export const unreadCountSchema = z.object({
  unread: z.number().int().describe("Unread, unarchived entries of the caller's inbox."),
})

export const markInboxResultSchema = z.object({
  changed: z.number().int().describe('Entries whose mark changed (already marked ones count not).'),
})

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    code: z.string().describe('Stable machine-readable code: VALIDATION_FAILED, TENANT_SCOPE_VIOLATION, ...'),
    detail: z.string().optional(),
    instance: z.string().optional(),
    errors: z
      .array(z.object({ path: z.string(), rule: z.string(), message: z.string() }))
      .optional()
      .describe('VALIDATION_FAILED: every broken field (dotted path) and rule.'),
  })
  .catchall(z.unknown())

export const receiptResultSchema = shapeOf<ReceiptResult>()({
  outcome: z
    .enum(['applied', 'unchanged', 'ignored'])
    .describe(
      '`applied`: the message moved to `status` now; `unchanged`: it was not `processed` (a second receipt, or a message not delivered) and nothing changed; `ignored`: an intermediate provider state (queued, sent) that moves no message.',
    ),
  messageId: uuid.nullable(),
  status: z.enum(DELIVERY_STATUSES).nullable().describe("The message's status after the receipt."),
})
