import type { Category } from './category.js'
import type { Channel } from './channel.js'
import type { NotificationDigestItem } from './digest.js'
import type { JsonValue } from './outbox-message.js'
import type { PreferenceBook } from './preference.js'
import type { RecipientProfile } from './recipient-profile.js'

/**
 * Why a recipient was left out on a channel type: its preferences say no (`opted_out`), its
 * profile has no address for the type (`no_address`), the category has no usable channel for
 * the type (`no_channel`: none mapped, missing or disabled), or the user is no recipient the
 * caller can reach (`unknown_recipient`: no profile it may see in the notification's tenant),
 * or the category's throttle let no more of its notifications reach the user in the current
 * window (`throttled`).
 */
export const SKIP_REASONS = [
  'opted_out',
  'no_address',
  'no_channel',
  'unknown_recipient',
  'throttled',
] as const
export type SkipReason = (typeof SKIP_REASONS)[number]

/** The channel type of a skip that concerns every channel type of the recipient. */
export const ANY_CHANNEL_TYPE = '*'

/** Who a notify was addressed to, as recorded: the users named, or the members of a channel. */
export type NotifyTarget =
  | { readonly kind: 'users'; readonly count: number }
  | { readonly kind: 'channel'; readonly channelId: string; readonly channelKey: string }

/** One notify call: what happened, to whom, and how many messages it wrote. */
export interface Notification {
  readonly id: string
  readonly infrastructureId: string
  readonly businessId: string | null
  readonly categoryKey: string
  readonly target: NotifyTarget
  /** The notify's `data`: every message's payload, and what templates render. */
  readonly data: { readonly [key: string]: JsonValue }
  readonly idempotencyKey: string | null
  readonly createdBy: string
  readonly createdAt: Date
  /** When the messages become due (null: at once). */
  readonly availableAt: Date | null
  /** Distinct users resolved as recipients (skipped ones included). */
  readonly recipientCount: number
  readonly messageCount: number
  readonly skippedCount: number
}

/** A recipient left out on one channel type (or every type: `*`), with the reason. */
export interface NotificationSkip {
  readonly infrastructureId: string
  readonly notificationId: string
  readonly businessId: string | null
  readonly userId: string
  readonly channelType: string
  readonly reason: SkipReason
  readonly createdAt: Date
}

/** What an outbox message of a notification records: what the renderer and the status need. */
export interface MessageNotification {
  /** The notification this message is one delivery of. */
  readonly id: string
  /** The recipient: the user this message is for. */
  readonly userId: string
  readonly categoryKey: string
  /** The template version current at enqueue for (category, channel type, recipient's locale); null: none. */
  readonly templateId: string | null
}

/** How many deliveries (recipient x channel type) a category's throttle skipped since a time. */
export interface ThrottledCount {
  readonly infrastructureId: string
  readonly categoryKey: string
  readonly throttled: number
}

/** Per recipient x channel type: where a notification stands. */
export const DELIVERY_STATES = ['pending', 'delivered', 'failed', 'dead', 'skipped', 'cancelled'] as const
export type DeliveryState = (typeof DELIVERY_STATES)[number]

export interface NotificationDelivery {
  readonly userId: string
  /** `*` for a skip that concerns every channel type (an unknown recipient). */
  readonly channelType: string
  /** null for a skip. */
  readonly channelId: string | null
  readonly messageId: string | null
  readonly state: DeliveryState
  readonly reason: SkipReason | null
  readonly attempts: number
  /** The last error, secrets redacted. */
  readonly lastError: string | null
  /** When it settled (delivered, failed, dead); null while pending, and for a skip. */
  readonly settledAt: Date | null
  /**
   * While pending: when it is due (a message held by the recipient's quiet hours waits until
   * they end; a scheduled one until its time). null once settled, and for a skip.
   */
  readonly availableAt: Date | null
}

export type DeliveryCounts = Readonly<Record<DeliveryState, number>>

/** A notification, how its deliveries stand, and a page of them. */
export interface NotificationStatus {
  readonly notification: Notification
  readonly counts: DeliveryCounts
  /** Ordered by user id, then channel type; `after` pages on. */
  readonly deliveries: readonly NotificationDelivery[]
  /**
   * Its recipients' deliveries folded into digests (docs/notify.md, "Digests"): each in
   * which digest, whose message (`digestId`) carries it. Narrowed by `userId` like the deliveries.
   */
  readonly digested: readonly NotificationDigestItem[]
}

/** One recipient the planner considers: its profile when one is visible, and whether it lies in scope. */
export interface PlannedRecipient {
  readonly userId: string
  readonly profile: RecipientProfile | null
  /** False: no profile the caller may see in the notification's tenant (a user-addressed notify). */
  readonly inScope: boolean
}

export interface PlannedMessage {
  readonly userId: string
  readonly channelType: string
  readonly channel: Channel
  /** The address on the channel: the user id (in-app and custom types), the email, the phone number. */
  readonly address: string
  readonly templateId: string | null
}

/** The address of a recipient on a channel type; null when its profile holds none. */
export function addressOf(
  userId: string,
  profile: RecipientProfile | null,
  channelType: string,
): string | null {
  if (channelType === 'email') return profile?.email ?? null
  if (channelType === 'sms') return profile?.phone ?? null
  return userId
}

/**
 * The fan-out of one notification, decided in memory from what one unit of work read: per
 * recipient and channel type of the category, a message or a skip with its reason. The
 * checks go from the tenant's side to the user's: a channel type without a usable channel
 * (`no_channel`), then the preferences (`opted_out`, by `resolvePreference`), then the
 * address (`no_address`). Pure: the same input always plans the same messages.
 */
export function planNotification(input: {
  readonly category: Category
  readonly recipients: readonly PlannedRecipient[]
  /** The serving channel per channel type: null when missing, disabled or of a type no transport serves. */
  readonly channels: ReadonlyMap<string, Channel | null>
  readonly book: PreferenceBook
  /** The template version a message renders with; null when none matches. */
  readonly template?: (channelType: string, locale: string | null) => string | null
}): {
  messages: PlannedMessage[]
  skips: Array<{ userId: string; channelType: string; reason: SkipReason }>
} {
  const types = Object.keys(input.category.channels).sort()
  const messages: PlannedMessage[] = []
  const skips: Array<{ userId: string; channelType: string; reason: SkipReason }> = []
  for (const r of input.recipients) {
    if (!r.inScope) {
      skips.push({ userId: r.userId, channelType: ANY_CHANNEL_TYPE, reason: 'unknown_recipient' })
      continue
    }
    if (types.length === 0) {
      skips.push({ userId: r.userId, channelType: ANY_CHANNEL_TYPE, reason: 'no_channel' })
      continue
    }
    for (const t of types) {
      const channel = input.channels.get(t) ?? null
      if (channel === null) {
        skips.push({ userId: r.userId, channelType: t, reason: 'no_channel' })
        continue
      }
      if (!input.book.resolve(r.userId, input.category, t).enabled) {
        skips.push({ userId: r.userId, channelType: t, reason: 'opted_out' })
        continue
      }
      const address = addressOf(r.userId, r.profile, t)
      if (address === null) {
        skips.push({ userId: r.userId, channelType: t, reason: 'no_address' })
        continue
      }
      messages.push({
        userId: r.userId,
        channelType: t,
        channel,
        address,
        templateId: input.template?.(t, r.profile?.locale ?? null) ?? null,
      })
    }
  }
  return { messages, skips }
}
