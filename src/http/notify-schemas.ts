import { z } from 'zod'
import type { NotifyResult } from '../application/notify-service.js'
import { type Category, THROTTLE_ACTIONS } from '../domain/category.js'
import type { NotificationDigestItem } from '../domain/digest.js'
import {
  DELIVERY_STATES,
  type Notification,
  type NotificationDelivery,
  type NotificationStatus,
  SKIP_REASONS,
  type ThrottledCount,
} from '../domain/notification.js'
import type { PreferenceCell, PreferenceGrid, TenantDefault } from '../domain/preference.js'
import type { QuietHoursDefault } from '../domain/quiet-hours.js'
import type { RecipientProfile } from '../domain/recipient-profile.js'
import { type Principal, ROLES } from '../domain/tenant-scope.js'
import { shapeOf } from './schemas.js'

/** Response schemas of the recipient routes, each held to its domain type like those in schemas.ts. */
const uuid = z.uuid()
const dateTime = z.iso.datetime()

export const profileSchema = shapeOf<RecipientProfile>()({
  infrastructureId: uuid,
  userId: uuid,
  businessId: uuid.nullable(),
  email: z.string().nullable(),
  phone: z.string().nullable().describe('E.164.'),
  locale: z.string().nullable().describe('BCP 47, canonical case.'),
  timeZone: z.string().nullable().describe('IANA.'),
  quietHours: z
    .object({ start: z.string(), end: z.string() })
    .nullable()
    .describe(
      "Local times (HH:MM) in the profile's time zone (UTC without one) when non-critical notifications wait; may cross midnight.",
    ),
  properties: z.record(z.string(), z.unknown()),
  createdAt: dateTime,
  updatedAt: dateTime,
  updatedBy: uuid,
})

export const categorySchema = shapeOf<Category>()({
  infrastructureId: uuid,
  key: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  critical: z.boolean().describe('Critical categories ignore opt-outs.'),
  channels: z
    .record(z.string(), z.object({ channelKey: z.string(), enabled: z.boolean() }))
    .describe("Per channel type: the tenant's channel that serves it and the category's own default."),
  throttle: z
    .object({
      limit: z.number().int(),
      windowSeconds: z.number().int(),
      onExceed: z.enum(THROTTLE_ACTIONS),
    })
    .nullable()
    .describe(
      'At most `limit` notifications of the category per recipient and fixed window of `windowSeconds`; beyond it the recipient is skipped as `throttled` (`onExceed: skip`) or folded into their next digest (`onExceed: digest`). null: no limit.',
    ),
  digest: z
    .object({
      windowSeconds: z.number().int(),
      maxItems: z.number().int(),
      key: z.string().nullable(),
    })
    .nullable()
    .describe(
      "A recipient's messages of the category (per channel, and per value of `key` in the notify's `data`) collapse into one delivery: the window opens with the first item and closes `windowSeconds` later or at `maxItems` items. null: no digest.",
    ),
  createdBy: uuid,
  createdAt: dateTime,
  updatedAt: dateTime,
})

const sourceSchema = z
  .enum(['user', 'channel', 'business', 'tenant', 'category'])
  .describe(
    "Which rule decided: the user's own choice, the user's opt-out of the serving channel, the business's or the infrastructure's default, or the category's.",
  )

export const preferenceCellSchema = shapeOf<PreferenceCell>()({
  categoryKey: z.string(),
  channelType: z.string(),
  channelKey: z.string(),
  enabled: z.boolean(),
  source: sourceSchema,
  critical: z.boolean(),
  userChoice: z.boolean().nullable(),
  channelOptedOut: z.boolean(),
  businessDefault: z.boolean().nullable(),
  tenantDefault: z.boolean().nullable(),
  categoryDefault: z.boolean(),
})

export const preferenceGridSchema = shapeOf<PreferenceGrid>()({
  infrastructureId: uuid,
  userId: uuid,
  businessId: uuid.nullable(),
  channelTypes: z.array(z.string()),
  categories: z.array(
    z.object({
      key: z.string(),
      name: z.string(),
      description: z.string().nullable(),
      critical: z.boolean(),
      cells: z.array(preferenceCellSchema),
    }),
  ),
})

export const tenantDefaultSchema = shapeOf<TenantDefault>()({
  infrastructureId: uuid,
  businessId: uuid.nullable(),
  categoryKey: z.string(),
  channelType: z.string(),
  enabled: z.boolean(),
  updatedBy: uuid,
  updatedAt: dateTime,
})

export const sessionSchema = shapeOf<Principal>()({
  userId: uuid,
  role: z.enum(ROLES),
  grants: z.array(z.object({ infrastructureId: uuid, businessId: uuid.nullable() })),
})

export const quietHoursDefaultSchema = shapeOf<QuietHoursDefault>()({
  infrastructureId: uuid,
  quietHours: z.object({ start: z.string(), end: z.string() }),
  updatedBy: uuid,
  updatedAt: dateTime,
})

export const throttledCountSchema = shapeOf<ThrottledCount>()({
  infrastructureId: uuid,
  categoryKey: z.string(),
  throttled: z.number().int().describe('Deliveries (recipient x channel type) the throttle skipped.'),
})

export const notificationSchema = shapeOf<Notification>()({
  id: uuid,
  infrastructureId: uuid,
  businessId: uuid.nullable(),
  categoryKey: z.string(),
  target: z
    .union([
      z.object({ kind: z.literal('users'), count: z.number().int() }),
      z.object({ kind: z.literal('channel'), channelId: uuid, channelKey: z.string() }),
    ])
    .describe('Who it was addressed to: how many users, or the channel whose members it reached.'),
  data: z.record(z.string(), z.unknown()),
  idempotencyKey: z.string().nullable(),
  createdBy: uuid,
  createdAt: dateTime,
  availableAt: dateTime.nullable(),
  recipientCount: z.number().int(),
  messageCount: z.number().int(),
  skippedCount: z.number().int(),
})

export const notifyResultSchema = shapeOf<NotifyResult>()({
  notification: notificationSchema,
  created: z
    .boolean()
    .describe('false: the idempotency key was seen before; `notification` is the first one.'),
})

export const notificationDeliverySchema = shapeOf<NotificationDelivery>()({
  userId: uuid,
  channelType: z.string().describe('`*` for a skip that concerns every channel type.'),
  channelId: uuid.nullable(),
  messageId: uuid.nullable(),
  state: z.enum(DELIVERY_STATES),
  reason: z.enum(SKIP_REASONS).nullable(),
  attempts: z.number().int(),
  lastError: z.string().nullable().describe('Secrets redacted.'),
  settledAt: dateTime.nullable(),
  availableAt: dateTime
    .nullable()
    .describe(
      "While pending: when it is due (held by the recipient's quiet hours, or scheduled). null otherwise.",
    ),
})

export const notificationDigestItemSchema = shapeOf<NotificationDigestItem>()({
  userId: uuid,
  channelId: uuid,
  digestId: uuid.describe(
    'The digest, and the id of the message that delivers it (`GET /messages/{digestId}`).',
  ),
  closesAt: dateTime.describe(
    'When its window ends: its delivery is due then, or earlier when it filled up.',
  ),
  closedAt: dateTime.nullable().describe('When its items were fixed; null while it still takes items.'),
  cancelled: z
    .boolean()
    .describe('The notification was cancelled before the digest closed: its item is left out.'),
})

export const notificationStatusSchema = shapeOf<NotificationStatus>()({
  notification: notificationSchema,
  counts: z.object(
    Object.fromEntries(DELIVERY_STATES.map((s) => [s, z.number().int()])) as Record<
      (typeof DELIVERY_STATES)[number],
      z.ZodNumber
    >,
  ),
  deliveries: z.array(notificationDeliverySchema),
  digested: z
    .array(notificationDigestItemSchema)
    .describe("Recipients' deliveries folded into digests: in which digest, whose message carries them."),
})
