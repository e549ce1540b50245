import { z } from 'zod'

/** How a category reaches people over one channel type. */
export interface CategoryChannel {
  /** The tenant's channel that carries this category's messages of the type (`billing-email`). */
  readonly channelKey: string
  /** The category's own default for the type: the last word of the preference resolution. */
  readonly enabled: boolean
}

/**
 * A kind of notification within an infrastructure (`invoice.paid`): its name, whether it is
 * critical, and which of the tenant's channels serves each channel type for it.
 *
 * @example
 * { key: 'invoice.paid', name: 'Invoice paid', critical: false,
 *   channels: { in_app: { channelKey: 'alerts', enabled: true }, email: { channelKey: 'billing-email', enabled: true },
 *               sms: { channelKey: 'sms', enabled: false } } }
 */
export interface Category {
  readonly infrastructureId: string
  readonly key: string
  readonly name: string
  readonly description: string | null
  /** Critical categories ignore opt-outs (the user's choices and channel opt-outs); only admins set it, audited. */
  readonly critical: boolean
  /** Keyed by channel type (`in_app`, `email`, a custom type). */
  readonly channels: Readonly<Record<string, CategoryChannel>>
  /** At most `limit` notifications of the category per recipient and window; null: no limit. */
  readonly throttle: CategoryThrottle | null
  /** Collapse a recipient's messages of the category into one delivery per window; null: each goes alone. */
  readonly digest: CategoryDigest | null
  readonly createdBy: string
  readonly createdAt: Date
  readonly updatedAt: Date
}

/** Dotted lower-case segments: `invoice.paid`, `security.login-new-device`. */
export const categoryKeySchema = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/, {
    message: 'must be lower-case segments (a-z, 0-9) joined by single . - or _',
  })

/**
 * What a category's throttle does with a notification beyond the limit: `skip` it (recorded
 * as `throttled`), or fold it into the recipient's next digest of the category (the category
 * must have a digest).
 */
export const THROTTLE_ACTIONS = ['skip', 'digest'] as const
export type ThrottleAction = (typeof THROTTLE_ACTIONS)[number]

/**
 * At most `limit` notifications of a category reach one recipient per window of
 * `windowSeconds`. One notify counts once per recipient, however many channel types it fans
 * out to. Windows are fixed, aligned on multiples of `windowSeconds` since the Unix epoch,
 * on the store's clock.
 */
export interface CategoryThrottle {
  readonly limit: number
  readonly windowSeconds: number
  readonly onExceed: ThrottleAction
}

/** 10,000 per window: beyond that a throttle protects nobody's attention. */
export const MAX_THROTTLE_LIMIT = 10_000
/** 7 days: the longest window a counter row is kept for. */
export const MAX_THROTTLE_WINDOW_SECONDS = 7 * 24 * 3600

export const categoryThrottleSchema = z.strictObject({
  limit: z.number().int().min(1).max(MAX_THROTTLE_LIMIT),
  windowSeconds: z.number().int().min(1).max(MAX_THROTTLE_WINDOW_SECONDS),
  onExceed: z.enum(THROTTLE_ACTIONS).default('skip'),
})

/** The start of the fixed window that `at` falls in, in ms since the epoch. */
export function throttleWindowStart(at: Date, windowSeconds: number): number {
  const ms = windowSeconds * 1000
  return Math.floor(at.getTime() / ms) * ms
}

/**
 * A category's digest: a recipient's messages of the category (per channel, and per value of
 * `key` in the notify's `data` when set) collapse into one delivery. The window opens with
 * the first item and closes `windowSeconds` later, or as soon as it holds `maxItems` items.
 */
export interface CategoryDigest {
  readonly windowSeconds: number
  readonly maxItems: number
  /** A dotted path into the notify's `data` (`project.id`): items with different values go in different digests; null: one digest. */
  readonly key: string | null
}

/** 7 days: a window longer than that is a newsletter, not a digest. */
export const MAX_DIGEST_WINDOW_SECONDS = 7 * 24 * 3600
/** 1,000 items: one delivery's payload carries every item, and a list longer than that reads as noise. */
export const MAX_DIGEST_ITEMS = 1000

export const categoryDigestSchema = z.strictObject({
  windowSeconds: z.number().int().min(1).max(MAX_DIGEST_WINDOW_SECONDS),
  maxItems: z.number().int().min(2).max(MAX_DIGEST_ITEMS),
  key: z
    .string()
    .max(200)
    .regex(/^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/, {
      message: 'must be a dotted path of names (a-z, A-Z, 0-9, _ or -)',
    })
    .nullable()
    .default(null),
})
