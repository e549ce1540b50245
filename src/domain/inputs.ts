import { z } from 'zod'
import { channelKeySchema, channelTypeNameSchema } from './channel.js'
import { EVENT_TYPES, eventCursorSchema } from './events.js'
import { canonicalIdText, entityIdSchema, tenantIdSchema } from './ids.js'
import { DELIVERY_STATUSES, type JsonValue, MESSAGE_PRIORITIES } from './outbox-message.js'
import { QUEUE_HISTORY_MAX_MINUTES } from './queue-history.js'
import { textRule } from './text.js'
import { timestampSchema } from './timestamps.js'

/**
 * The input schemas of every facade call: the one boundary where untrusted data is parsed.
 * The HTTP surface and its OpenAPI document reuse them.
 */
/** A channel, message, lease or entry id (lower-cased: every spelling is the same id). */
const uuid = entityIdSchema
/** An infrastructure, business or user id: lower-cased, and never the nil UUID. */
const tenantId = tenantIdSchema
const name = z.string().trim().min(1).max(200)
const maxAttempts = z.number().int().min(1).max(100)

export const createChannelInput = z.strictObject({
  infrastructureId: tenantId,
  channelKey: channelKeySchema,
  type: channelTypeNameSchema,
  name: name.optional(),
  config: z.record(z.string(), z.unknown()).default({}),
  enabled: z.boolean().default(true),
  maxAttempts: maxAttempts.nullable().default(null),
})
export type CreateChannelInput = z.input<typeof createChannelInput>

export const configureChannelInput = z
  .strictObject({
    infrastructureId: tenantId,
    channelId: uuid,
    name: name.optional(),
    config: z.record(z.string(), z.unknown()).optional(),
    enabled: z.boolean().optional(),
    maxAttempts: maxAttempts.nullable().optional(),
  })
  .refine(
    (v) =>
      v.name !== undefined ||
      v.config !== undefined ||
      v.enabled !== undefined ||
      v.maxAttempts !== undefined,
    {
      message: 'at least one of name, config, enabled, maxAttempts is required',
      params: { rule: 'non_empty_patch' },
      path: ['config'],
    },
  )
export type ConfigureChannelInput = z.input<typeof configureChannelInput>

export const channelRefInput = z.strictObject({ infrastructureId: tenantId, channelId: uuid })
export type ChannelRefInput = z.input<typeof channelRefInput>

export const listChannelsInput = z.strictObject({
  infrastructureId: tenantId,
  type: channelTypeNameSchema.optional(),
  enabled: z.boolean().optional(),
})
export type ListChannelsInput = z.input<typeof listChannelsInput>

export const addMemberInput = z.strictObject({
  infrastructureId: tenantId,
  channelId: uuid,
  userId: tenantId,
  businessId: tenantId.nullable().default(null),
  optedIn: z.boolean().default(true),
})
export type AddMemberInput = z.input<typeof addMemberInput>

export const memberRefInput = z.strictObject({
  infrastructureId: tenantId,
  channelId: uuid,
  userId: tenantId,
})
export type MemberRefInput = z.input<typeof memberRefInput>

export const setOptInInput = z.strictObject({
  infrastructureId: tenantId,
  channelId: uuid,
  /** Defaults to the calling principal. */
  userId: tenantId.optional(),
  optedIn: z.boolean(),
})
export type SetOptInInput = z.input<typeof setOptInInput>

export const listMembershipsInput = z.strictObject({
  infrastructureId: tenantId,
  userId: tenantId.optional(),
  channelId: uuid.optional(),
})
export type ListMembershipsInput = z.input<typeof listMembershipsInput>

const MAX_JSON_DEPTH = 64

/**
 * Walks a JSON value and reports the exact path of the first offending node. A zod union
 * would only say "payload: invalid"; a walk also bounds the depth before anything recurses.
 */
function checkJson(value: unknown, path: (string | number)[], ctx: z.RefinementCtx, depth: number): void {
  const fail = (rule: string, message: string, at = path) =>
    ctx.addIssue({ code: 'custom', message, path: at, params: { rule } })
  if (depth > MAX_JSON_DEPTH) {
    fail('max_depth', `must not nest deeper than ${MAX_JSON_DEPTH}`)
    return
  }
  if (value === null || typeof value === 'boolean') return
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) fail('finite', 'must be a finite number')
    return
  }
  if (typeof value === 'string') {
    const broken = textRule(value)
    if (broken) fail(broken.rule, broken.message)
    return
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      checkJson(v, [...path, i], ctx, depth + 1)
    })
    return
  }
  const proto = typeof value === 'object' ? Object.getPrototypeOf(value) : undefined
  // Plain objects only (null-prototype and other realms' too); class instances, dates and maps are not JSON.
  if (
    proto === null ||
    proto === Object.prototype ||
    (proto !== undefined && Object.getPrototypeOf(proto) === null)
  ) {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const broken = textRule(k)
      if (broken) fail(broken.rule, `keys ${broken.message}`, [...path, k])
      checkJson(v, [...path, k], ctx, depth + 1)
    }
    return
  }
  fail('json_value', `must be a JSON value, got ${typeof value}`)
}

/** Any JSON value: null, boolean, finite number, string, array, plain object. */
export const jsonValueSchema = z
  .unknown()
  .superRefine((v, ctx) => {
    if (v === undefined)
      ctx.addIssue({ code: 'custom', message: 'is required', params: { rule: 'required' } })
    else checkJson(v, [], ctx, 0)
  })
  .transform((v) => v as JsonValue)
  .meta({ description: 'Any JSON value', type: ['object', 'array', 'string', 'number', 'boolean', 'null'] })
const jsonValue = jsonValueSchema

/**
 * An ordering key: printable ASCII like an idempotency key, at most 200 characters (the
 * stores' CHECK says the same), so an order id, an account id or `user:42` fits with room.
 */
export const orderingKeySchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\x21-\x7e]+$/, { message: 'must be printable ASCII without spaces' })

export const enqueueInput = z
  .strictObject({
    infrastructureId: tenantId,
    businessId: tenantId.nullable().default(null),
    channelId: uuid.optional(),
    channelKey: channelKeySchema.optional(),
    payload: jsonValue,
    /** User ids (lower-cased like every id) or addresses. */
    recipients: z
      .array(z.string().min(1).max(320).overwrite(canonicalIdText))
      .min(1)
      .max(1000)
      .nullable()
      .default(null),
    idempotencyKey: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[\x21-\x7e]+$/, { message: 'must be printable ASCII without spaces' })
      .nullable()
      .default(null),
    availableAt: timestampSchema.nullable().default(null),
    /** Its place in its tenant's queue: `high` goes ahead of the tenant's `normal` and `low`. */
    priority: z.enum(MESSAGE_PRIORITIES).default('normal'),
    /**
     * Messages of the tenant with the same key go one at a time, in enqueue order; other
     * keys and tenants go in parallel (docs/worker.md).
     */
    orderingKey: orderingKeySchema.nullable().default(null),
  })
  .refine((v) => (v.channelId === undefined) !== (v.channelKey === undefined), {
    message: 'exactly one of channelId or channelKey is required',
    params: { rule: 'exactly_one_channel_ref' },
    path: ['channelId'],
  })
export type EnqueueInput = z.input<typeof enqueueInput>

/** Messages per `enqueueMany` call. */
export const MAX_ENQUEUE_BATCH = 1000
/** A batch of enqueues, all or nothing; a bad item is named `items.<i>.<field>`. */
export const enqueueManyInput = z.array(enqueueInput).min(1).max(MAX_ENQUEUE_BATCH)
export type EnqueueManyInput = z.input<typeof enqueueManyInput>

export const messageRefInput = z.strictObject({ infrastructureId: tenantId, messageId: uuid })
export type MessageRefInput = z.input<typeof messageRefInput>

/**
 * What a cancel names: one message, every message of a notification, or what an
 * idempotency key produced in (infrastructure, business) — the message of a plain enqueue
 * and the messages of a notify that carried the key. Exactly one of the three.
 */
export const cancelInput = z
  .strictObject({
    infrastructureId: tenantId,
    messageId: uuid.optional(),
    notificationId: uuid.optional(),
    idempotencyKey: z.string().min(1).max(255).optional(),
    /** The business the idempotency key was used in (null: the infrastructure itself). */
    businessId: tenantId.nullable().default(null),
  })
  .refine(
    (v) => [v.messageId, v.notificationId, v.idempotencyKey].filter((x) => x !== undefined).length === 1,
    {
      message: 'exactly one of messageId, notificationId or idempotencyKey is required',
      params: { rule: 'exactly_one_cancel_target' },
      path: ['messageId'],
    },
  )
export type CancelInput = z.input<typeof cancelInput>

/** A pending message's new due time (absolute: the host's intent; the store's clock decides when it is due). */
export const rescheduleInput = z.strictObject({
  infrastructureId: tenantId,
  messageId: uuid,
  availableAt: timestampSchema,
})
export type RescheduleInput = z.input<typeof rescheduleInput>

export const listMessagesInput = z.strictObject({
  infrastructureId: tenantId,
  businessId: tenantId.nullable().optional(),
  channelId: uuid.optional(),
  status: z.enum(DELIVERY_STATUSES).optional(),
  /** Messages to this recipient: an address among the message's `recipients`, or a notification's user id. */
  recipient: z.string().trim().min(1).max(320).optional(),
  after: uuid.optional(),
  limit: z.number().int().min(1).max(1000).default(100),
})
export type ListMessagesInput = z.input<typeof listMessagesInput>

export const claimInput = z.strictObject({
  infrastructureId: tenantId.optional(),
  limit: z.number().int().min(1).max(1000).default(10),
  leaseMs: z.number().int().min(100).max(3_600_000).default(30_000),
})
export type ClaimInput = z.input<typeof claimInput>

export const ackInput = z.discriminatedUnion('outcome', [
  z.strictObject({
    infrastructureId: tenantId,
    messageId: uuid,
    leaseToken: uuid,
    outcome: z.literal('processed'),
  }),
  z.strictObject({
    infrastructureId: tenantId,
    messageId: uuid,
    leaseToken: uuid,
    outcome: z.literal('failed'),
    reason: z.string().min(1).max(2000),
    /** Retry after this delay (until attempts run out, then dead); absent: failed for good. */
    retryAfterMs: z
      .number()
      .int()
      .min(0)
      .max(7 * 24 * 3_600_000)
      .optional(),
  }),
])
export type AckInput = z.input<typeof ackInput>

export const listAuditInput = z.strictObject({
  infrastructureId: tenantId,
  action: z.string().min(1).max(100).optional(),
  /**
   * Entries about this target: its own (`targetId`), and for a message also the entry of the
   * batch that queued it (an `enqueueMany` appends one entry per tenant listing its
   * `details.messageIds`).
   */
  targetId: z.string().min(1).max(255).optional(),
  limit: z.number().int().min(1).max(1000).default(100),
})
export type ListAuditInput = z.input<typeof listAuditInput>

export const listEventsInput = z.strictObject({
  infrastructureId: tenantId,
  /** A listed event's `cursor`: the events after it. Absent: from the oldest kept. */
  after: eventCursorSchema.optional(),
  type: z.enum(EVENT_TYPES).optional(),
  limit: z.number().int().min(1).max(1000).default(100),
})
export type ListEventsInput = z.input<typeof listEventsInput>

export const followEventsInput = z.strictObject({
  infrastructureId: tenantId,
  /**
   * Resume after this place (an event's cursor, which is its SSE id): the events since come
   * first. Absent: from the newest event on.
   */
  after: eventCursorSchema.optional(),
})
export type FollowEventsInput = z.input<typeof followEventsInput>

export const redriveChannelInput = z.strictObject({ infrastructureId: tenantId, channelId: uuid })
export type RedriveChannelInput = z.input<typeof redriveChannelInput>

export const listDeadLettersInput = z.strictObject({
  infrastructureId: tenantId,
  channelId: uuid.optional(),
  after: uuid.optional(),
  limit: z.number().int().min(1).max(1000).default(100),
})
export type ListDeadLettersInput = z.input<typeof listDeadLettersInput>

export const listBreakersInput = z.strictObject({ infrastructureId: tenantId })
export type ListBreakersInput = z.input<typeof listBreakersInput>

export const statsInput = z.strictObject({ infrastructureId: tenantId.optional() })
export type StatsInput = z.input<typeof statsInput>

/** The queue's last `minutes` minutes (domain/queue-history.ts): 60 by default, at most 120. */
export const queueHistoryInput = z.strictObject({
  infrastructureId: tenantId,
  minutes: z.number().int().min(1).max(QUEUE_HISTORY_MAX_MINUTES).default(60),
})
export type QueueHistoryInput = z.input<typeof queueHistoryInput>

export const listSecurityEventsInput = z.strictObject({
  /** Rows whose last refusal is at or after this instant. */
  since: timestampSchema.optional(),
  actorId: tenantId.optional(),
  limit: z.number().int().min(1).max(1000).default(100),
})
export type ListSecurityEventsInput = z.input<typeof listSecurityEventsInput>

/**
 * Retention's cut-off: `olderThan`, a time the host names, or `olderThanMs`, an age the
 * store takes back from its own clock (PostgreSQL: the database's now). Exactly one.
 */
export const pruneInput = z
  .strictObject({
    olderThan: timestampSchema.optional(),
    olderThanMs: z.number().int().min(0).optional(),
    batchSize: z.number().int().min(1).max(100_000).default(1000),
  })
  .refine((v) => (v.olderThan === undefined) !== (v.olderThanMs === undefined), {
    message: 'exactly one of olderThan or olderThanMs is required',
    params: { rule: 'exactly_one_cut_off' },
    path: ['olderThan'],
  })
export type PruneInput = z.input<typeof pruneInput>

export const listInboxInput = z.strictObject({
  infrastructureId: tenantId,
  unreadOnly: z.boolean().default(false),
  includeArchived: z.boolean().default(false),
  /** Keyset pagination: entries older than this entry id. */
  before: uuid.optional(),
  limit: z.number().int().min(1).max(200).default(50),
})
export type ListInboxInput = z.input<typeof listInboxInput>

export const inboxRefInput = z.strictObject({ infrastructureId: tenantId })
export type InboxRefInput = z.input<typeof inboxRefInput>

export const followInboxInput = z.strictObject({
  infrastructureId: tenantId,
  /**
   * Resume after this place (an `entry` event's id, `<createdAt ms>.<entry id>`): the stream
   * first sends the unarchived entries created since. The `Last-Event-ID` header sets it too.
   */
  after: z
    .string()
    .regex(/^\d{1,15}\.[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, {
      message: 'expected an entry event id: <createdAt ms>.<entry id>',
    })
    .optional(),
})
export type FollowInboxInput = z.input<typeof followInboxInput>

export const markInboxInput = z.strictObject({
  infrastructureId: tenantId,
  /** The entries to mark, or `'all'` of the caller's inbox. */
  entryIds: z.union([z.array(uuid).min(1).max(500), z.literal('all')]),
  mark: z.enum(['seen', 'read', 'archived']),
})
export type MarkInboxInput = z.input<typeof markInboxInput>

export const resealSecretsInput = z.strictObject({ infrastructureId: tenantId })
export type ResealSecretsInput = z.input<typeof resealSecretsInput>
