import { z } from 'zod'
import { categoryDigestSchema, categoryKeySchema, categoryThrottleSchema } from './category.js'
import { channelKeySchema, channelTypeNameSchema } from './channel.js'
import { entityIdSchema, tenantIdSchema } from './ids.js'
import { jsonValueSchema } from './inputs.js'
import { DELIVERY_STATES } from './notification.js'
import { MESSAGE_PRIORITIES } from './outbox-message.js'
import { quietHoursSchema } from './quiet-hours.js'
import {
  e164PhoneSchema,
  jsonBytes,
  localeSchema,
  MAX_PROFILE_PROPERTIES_BYTES,
  profileEmailSchema,
  timeZoneSchema,
} from './recipient-profile.js'
import { timestampSchema } from './timestamps.js'

/**
 * The input schemas of the recipient calls (profiles, categories, preferences) and of
 * notify: parsed by the facade, reused by the HTTP surface and its OpenAPI document.
 */
/** An infrastructure, business or user id: lower-cased, and never the nil UUID. */
const uuid = tenantIdSchema
const name = z.string().trim().min(1).max(200)

const propertiesSchema = z.record(z.string().min(1).max(100), jsonValueSchema).superRefine((v, ctx) => {
  const bytes = jsonBytes(v)
  if (bytes > MAX_PROFILE_PROPERTIES_BYTES) {
    ctx.addIssue({
      code: 'custom',
      message: `must be at most ${MAX_PROFILE_PROPERTIES_BYTES} bytes of JSON, got ${bytes}`,
      params: { rule: 'max_bytes' },
    })
  }
})

/**
 * Creates the profile or changes the fields given (absent: unchanged; null: cleared). An
 * `infra_admin` may set every field of anyone's; a member only `email`, `phone`, `locale`
 * and `timeZone` of an existing profile of their own.
 */
export const upsertProfileInput = z.strictObject({
  infrastructureId: uuid,
  /** Defaults to the calling principal. */
  userId: uuid.optional(),
  businessId: uuid.nullable().optional(),
  email: profileEmailSchema.nullable().optional(),
  phone: e164PhoneSchema.nullable().optional(),
  locale: localeSchema.nullable().optional(),
  timeZone: timeZoneSchema.nullable().optional(),
  /** Local times in `timeZone`; a member may set its own. */
  quietHours: quietHoursSchema.nullable().optional(),
  properties: propertiesSchema.optional(),
})
export type UpsertProfileInput = z.input<typeof upsertProfileInput>

export const profileRefInput = z.strictObject({
  infrastructureId: uuid,
  /** Defaults to the calling principal. */
  userId: uuid.optional(),
})
export type ProfileRefInput = z.input<typeof profileRefInput>

export const deleteProfileInput = z.strictObject({ infrastructureId: uuid, userId: uuid })
export type DeleteProfileInput = z.input<typeof deleteProfileInput>

export const listProfilesInput = z.strictObject({
  infrastructureId: uuid,
  /** Only this business's users; `null`: only the infrastructure's own. */
  businessId: uuid.nullable().optional(),
  /** Keyset pagination: profiles after this user id. */
  after: uuid.optional(),
  limit: z.number().int().min(1).max(1000).default(100),
})
export type ListProfilesInput = z.input<typeof listProfilesInput>

const categoryChannelsSchema = z
  .record(
    channelTypeNameSchema,
    z.strictObject({
      channelKey: channelKeySchema,
      /** The category's own default for this channel type. */
      enabled: z.boolean().default(true),
    }),
  )
  .refine((v) => Object.keys(v).length <= 20, {
    message: 'at most 20 channel types',
    params: { rule: 'too_big' },
  })

/** A throttle that folds the excess into the next digest needs a digest to fold it into. */
export const throttleNeedsDigest = {
  code: 'custom' as const,
  path: ['throttle', 'onExceed'],
  message: "'digest' requires the category to have a digest",
  params: { rule: 'requires_digest' },
}

export const createCategoryInput = z
  .strictObject({
    infrastructureId: uuid,
    key: categoryKeySchema,
    name,
    description: z.string().trim().min(1).max(1000).nullable().default(null),
    critical: z.boolean().default(false),
    channels: categoryChannelsSchema.default({}),
    /** At most `limit` notifications per recipient and window; null: none. */
    throttle: categoryThrottleSchema.nullable().default(null),
    /** Collapse each recipient's messages into one delivery per window; null: none. */
    digest: categoryDigestSchema.nullable().default(null),
  })
  .superRefine((v, ctx) => {
    if (v.throttle?.onExceed === 'digest' && v.digest === null) ctx.addIssue(throttleNeedsDigest)
  })
export type CreateCategoryInput = z.input<typeof createCategoryInput>

export const updateCategoryInput = z
  .strictObject({
    infrastructureId: uuid,
    categoryKey: categoryKeySchema,
    name: name.optional(),
    description: z.string().trim().min(1).max(1000).nullable().optional(),
    critical: z.boolean().optional(),
    /** Replaces the whole map. */
    channels: categoryChannelsSchema.optional(),
    /** Replaces the throttle; null removes it. */
    throttle: categoryThrottleSchema.nullable().optional(),
    /** Replaces the digest; null removes it. */
    digest: categoryDigestSchema.nullable().optional(),
  })
  .refine(
    (v) =>
      v.name !== undefined ||
      v.description !== undefined ||
      v.critical !== undefined ||
      v.channels !== undefined ||
      v.throttle !== undefined ||
      v.digest !== undefined,
    {
      message: 'at least one of name, description, critical, channels, throttle, digest is required',
      params: { rule: 'non_empty_patch' },
      path: ['name'],
    },
  )
export type UpdateCategoryInput = z.input<typeof updateCategoryInput>

export const categoryRefInput = z.strictObject({ infrastructureId: uuid, categoryKey: categoryKeySchema })
export type CategoryRefInput = z.input<typeof categoryRefInput>

export const listCategoriesInput = z.strictObject({ infrastructureId: uuid })
export type ListCategoriesInput = z.input<typeof listCategoriesInput>

/** A user's own choice; `enabled: null` takes it back (the tenant's and the category's defaults apply again). */
export const setPreferenceInput = z.strictObject({
  infrastructureId: uuid,
  /** Defaults to the calling principal; another user's needs `infra_admin`. */
  userId: uuid.optional(),
  categoryKey: categoryKeySchema,
  channelType: channelTypeNameSchema,
  enabled: z.boolean().nullable(),
})
export type SetPreferenceInput = z.input<typeof setPreferenceInput>

/** One user's grid: every category x channel type with what resolves and why. */
export const preferenceGridInput = z.strictObject({
  infrastructureId: uuid,
  /** Defaults to the calling principal; another user's needs `infra_admin` or `service`. */
  userId: uuid.optional(),
  /** Whose tenant defaults apply; default: the business of the user's profile. */
  businessId: uuid.nullable().optional(),
})
export type PreferenceGridInput = z.input<typeof preferenceGridInput>

/** An admin's default; `enabled: null` takes it back. */
export const setTenantDefaultInput = z.strictObject({
  infrastructureId: uuid,
  /** null: the whole infrastructure's default. */
  businessId: uuid.nullable().default(null),
  categoryKey: categoryKeySchema,
  channelType: channelTypeNameSchema,
  enabled: z.boolean().nullable(),
})
export type SetTenantDefaultInput = z.input<typeof setTenantDefaultInput>

export const listTenantDefaultsInput = z.strictObject({
  infrastructureId: uuid,
  /** Only this business's defaults; `null`: only the infrastructure-wide ones. */
  businessId: uuid.nullable().optional(),
  categoryKey: categoryKeySchema.optional(),
})
export type ListTenantDefaultsInput = z.input<typeof listTenantDefaultsInput>

/** Users one notify may name: the fan-out figure's 10,000 recipients. */
export const MAX_NOTIFY_USERS = 10_000

/**
 * Who a notify reaches: users by id (each must have a profile the caller may see in the
 * notification's tenant), or the opted-in members of a channel (a topic), by key or id.
 */
export const notifyTargetInput = z.union([
  z.strictObject({ users: z.array(uuid).min(1).max(MAX_NOTIFY_USERS) }),
  z.strictObject({ channelKey: channelKeySchema }),
  z.strictObject({ channelId: entityIdSchema }),
])

/**
 * One event to people: the category decides which channel serves each channel type, each
 * recipient's preferences which types they get, and their profile the address.
 */
export const notifyInput = z.strictObject({
  infrastructureId: uuid,
  businessId: uuid.nullable().default(null),
  /** The category's key: `invoice.paid`. */
  category: categoryKeySchema,
  to: notifyTargetInput,
  /** Every message's payload, and what templates render: at most the module's payload limit. */
  data: z.record(z.string().min(1).max(200), jsonValueSchema).default({}),
  idempotencyKey: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[\x21-\x7e]+$/, { message: 'must be printable ASCII without spaces' })
    .nullable()
    .default(null),
  availableAt: timestampSchema.nullable().default(null),
  /** Every message's place in the tenant's queue: `high` goes ahead of the tenant's `normal` and `low`. */
  priority: z.enum(MESSAGE_PRIORITIES).default('normal'),
})
export type NotifyInput = z.input<typeof notifyInput>

export const notificationRefInput = z.strictObject({
  infrastructureId: uuid,
  notificationId: entityIdSchema,
  /** Only deliveries in this state. */
  state: z.enum(DELIVERY_STATES).optional(),
  /** Only this user's deliveries. */
  userId: uuid.optional(),
  /** Keyset pagination of the deliveries: after this `userId/channelType`. */
  after: z
    .string()
    .regex(/^[0-9a-fA-F-]{36}\/(\*|[a-z][a-z0-9_]{0,39})$/, { message: 'must be <userId>/<channelType>' })
    .optional(),
  limit: z.number().int().min(1).max(1000).default(100),
})
export type NotificationRefInput = z.input<typeof notificationRefInput>

export const listNotificationsInput = z.strictObject({
  infrastructureId: uuid,
  /** Only this business's; `null`: only the infrastructure's own. */
  businessId: uuid.nullable().optional(),
  categoryKey: categoryKeySchema.optional(),
  /** Only notifications this user was a recipient of (messages or skips). */
  userId: uuid.optional(),
  /** Created at or after. */
  since: timestampSchema.optional(),
  /** Created before. */
  until: timestampSchema.optional(),
  /** Keyset pagination, newest first: notifications older than this one. */
  before: entityIdSchema.optional(),
  limit: z.number().int().min(1).max(200).default(50),
})
export type ListNotificationsInput = z.input<typeof listNotificationsInput>

/** The infrastructure's default quiet hours; `quietHours: null` removes it. */
export const setQuietHoursDefaultInput = z.strictObject({
  infrastructureId: uuid,
  quietHours: quietHoursSchema.nullable(),
})
export type SetQuietHoursDefaultInput = z.input<typeof setQuietHoursDefaultInput>

export const quietHoursDefaultRefInput = z.strictObject({ infrastructureId: uuid })
export type QuietHoursDefaultRefInput = z.input<typeof quietHoursDefaultRefInput>

/** The deliveries categories' throttles skipped in a tenant, since a time (default: the last 24 hours). */
export const throttledCountsInput = z.strictObject({
  infrastructureId: uuid,
  since: timestampSchema.optional(),
})
export type ThrottledCountsInput = z.input<typeof throttledCountsInput>
