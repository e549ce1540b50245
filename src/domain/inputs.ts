import { z } from 'zod'
import { channelKeySchema, channelTypeNameSchema } from './channel.js'
import { DELIVERY_STATUSES, type JsonValue } from './outbox-message.js'

/**
 * The input schemas of every facade call: the one boundary where untrusted data is parsed.
 * The HTTP surface and its OpenAPI document reuse them.
 */
const uuid = z.uuid()
const name = z.string().trim().min(1).max(200)
const maxAttempts = z.number().int().min(1).max(100)

export const createChannelInput = z.strictObject({
  infrastructureId: uuid,
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
    infrastructureId: uuid,
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

export const channelRefInput = z.strictObject({ infrastructureId: uuid, channelId: uuid })
export type ChannelRefInput = z.input<typeof channelRefInput>

export const listChannelsInput = z.strictObject({
  infrastructureId: uuid,
  type: channelTypeNameSchema.optional(),
  enabled: z.boolean().optional(),
})
export type ListChannelsInput = z.input<typeof listChannelsInput>

export const addMemberInput = z.strictObject({
  infrastructureId: uuid,
  channelId: uuid,
  userId: uuid,
  businessId: uuid.nullable().default(null),
  optedIn: z.boolean().default(true),
})
export type AddMemberInput = z.input<typeof addMemberInput>

export const memberRefInput = z.strictObject({ infrastructureId: uuid, channelId: uuid, userId: uuid })
export type MemberRefInput = z.input<typeof memberRefInput>

export const setOptInInput = z.strictObject({
  infrastructureId: uuid,
  channelId: uuid,
  /** Defaults to the calling principal. */
  userId: uuid.optional(),
  optedIn: z.boolean(),
})
export type SetOptInInput = z.input<typeof setOptInInput>

export const listMembershipsInput = z.strictObject({
  infrastructureId: uuid,
  userId: uuid.optional(),
  channelId: uuid.optional(),
})
export type ListMembershipsInput = z.input<typeof listMembershipsInput>

// PostgreSQL's jsonb cannot hold U+0000; refusing it here keeps every store saying the same thing.
const jsonString = z.string().refine((s) => !s.includes('\u0000'), {
  message: 'must not contain U+0000',
  params: { rule: 'no_nul_character' },
})
const jsonValue: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([
    jsonString,
    z.number().refine(Number.isFinite, { message: 'must be a finite number', params: { rule: 'finite' } }),
    z.boolean(),
    z.null(),
    z.array(jsonValue),
    z.record(jsonString, jsonValue),
  ]),
)

export const enqueueInput = z
  .strictObject({
    infrastructureId: uuid,
    businessId: uuid.nullable().default(null),
    channelId: uuid.optional(),
    channelKey: channelKeySchema.optional(),
    payload: jsonValue,
    recipients: z.array(z.string().min(1).max(320)).min(1).max(1000).nullable().default(null),
    idempotencyKey: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[\x21-\x7e]+$/, { message: 'must be printable ASCII without spaces' })
      .nullable()
      .default(null),
    availableAt: z.coerce.date().nullable().default(null),
  })
  .refine((v) => (v.channelId === undefined) !== (v.channelKey === undefined), {
    message: 'exactly one of channelId or channelKey is required',
    params: { rule: 'exactly_one_channel_ref' },
    path: ['channelId'],
  })
export type EnqueueInput = z.input<typeof enqueueInput>

export const messageRefInput = z.strictObject({ infrastructureId: uuid, messageId: uuid })
export type MessageRefInput = z.input<typeof messageRefInput>

export const listMessagesInput = z.strictObject({
  infrastructureId: uuid,
  businessId: uuid.nullable().optional(),
  channelId: uuid.optional(),
  status: z.enum(DELIVERY_STATUSES).optional(),
  after: uuid.optional(),
  limit: z.number().int().min(1).max(1000).default(100),
})
export type ListMessagesInput = z.input<typeof listMessagesInput>

export const claimInput = z.strictObject({
  infrastructureId: uuid.optional(),
  limit: z.number().int().min(1).max(1000).default(10),
  leaseMs: z.number().int().min(100).max(3_600_000).default(30_000),
})
export type ClaimInput = z.input<typeof claimInput>

export const ackInput = z.discriminatedUnion('outcome', [
  z.strictObject({
    infrastructureId: uuid,
    messageId: uuid,
    leaseToken: uuid,
    outcome: z.literal('processed'),
  }),
  z.strictObject({
    infrastructureId: uuid,
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
  infrastructureId: uuid,
  action: z.string().min(1).max(100).optional(),
  limit: z.number().int().min(1).max(1000).default(100),
})
export type ListAuditInput = z.input<typeof listAuditInput>
