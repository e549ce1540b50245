import type { JsonValue } from './outbox-message.js'

/**
 * The messages one digest collects: one tenant (infrastructure and business), one channel,
 * one value of the digest key, and either one user and category (a category's digest of
 * notifications) or one destination (a channel's digest of plain enqueues).
 */
export type DigestGroup = {
  readonly infrastructureId: string
  readonly businessId: string | null
  readonly channelId: string
  /** The value at the digest's `key` in the notify's `data` (the enqueue's payload); '' without a key or a value. */
  readonly digestKey: string
} & (
  | { readonly userId: string; readonly categoryKey: string; readonly destination: null }
  | {
      readonly userId: null
      readonly categoryKey: null
      /** The plain enqueues' recipients as one text (destinationOf): the same list, the same digest. */
      readonly destination: string
    }
)

/** Recipient lists of 1,000 addresses: a digest's destination is the list, kept whole. */
export const destinationOf = (recipients: readonly string[] | null): string =>
  JSON.stringify(recipients ?? [])

/** One notification folded into a digest: its `data`, and when the store took it in. */
export interface DigestItem {
  /** The notification; in a channel's digest, the id drawn for the plain enqueue (its audit entry's target). */
  readonly notificationId: string
  readonly at: Date
  readonly data: JsonValue
  /** Its notification was cancelled before the digest closed: the delivery leaves it out. */
  readonly cancelled?: boolean
}

/**
 * A digest: open while `closedAt` is null and the store's clock is before `closesAt` and it
 * holds fewer than `maxItems` items; its delivery is the outbox message with the digest's
 * own id, due at `closesAt` (or at once when it filled up).
 */
export type Digest = DigestGroup & {
  readonly id: string
  readonly openedAt: Date
  readonly closesAt: Date
  readonly maxItems: number
  /** In enqueue order: the order the units of work that added them took the digest's row. */
  readonly items: readonly DigestItem[]
  /** When the item list was fixed: the window ended, it filled up, or its delivery closed it. */
  readonly closedAt: Date | null
}

/**
 * What a store's `enqueueMany` throws, having written nothing, when a plain message (no
 * notification, not a digest's own delivery) names a channel with a digest: the caller folds
 * such messages into the channel's digests instead (application/channel-digest.ts). Never
 * reaches a host: the outbox service answers it.
 */
export class ChannelDigestsSignal extends Error {
  constructor(readonly channelId: string) {
    super(`channel ${channelId} digests its plain enqueues`)
  }
}

/**
 * Whether a plain message on a channel with a digest goes into it: anything but the
 * delivery of a digest (a payload that names the message's own id as its digest).
 */
export const foldsIntoChannelDigest = (m: {
  readonly id: string
  readonly payload: JsonValue
  readonly notification?: unknown
}): boolean => (m.notification ?? null) === null && digestIdOf(m.id, m.payload) === null

/** A digest's delivery message says only which digest it is: the items are read when it closes. */
export interface DigestMarker {
  readonly digestId: string
}

/** Whether a message's payload marks it as the delivery of the digest with its own id. */
export function digestIdOf(messageId: string, payload: JsonValue): string | null {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return null
  const keys = Object.keys(payload)
  return keys.length === 1 && payload.digestId === messageId ? messageId : null
}

/** The value at a dotted path of the notify's data, as the digest key: strings and numbers; anything else ''. */
export function digestKeyOf(data: JsonValue, path: string | null): string {
  if (path === null) return ''
  let at: JsonValue | undefined = data
  for (const name of path.split('.')) {
    if (typeof at !== 'object' || at === null || Array.isArray(at)) return ''
    at = at[name]
  }
  if (typeof at === 'string') return at.slice(0, 200)
  if (typeof at === 'number' && Number.isFinite(at)) return String(at)
  return ''
}

/**
 * What a closed digest's delivery carries, as the template's `data`: `{% for item in data.digest.items %}`.
 * A channel's digest carries no ids of its items: a plain enqueue's answer is the digest's delivery.
 */
export function digestPayload(digest: Digest): { digest: { [key: string]: JsonValue } } {
  const items = digest.items.filter((i) => i.cancelled !== true)
  const first = items[0]
  const last = items[items.length - 1]
  const ids = items.map((i) => i.notificationId)
  return {
    digest: {
      id: digest.id,
      count: items.length,
      items: items.map((i) => i.data),
      ...(digest.destination === null && { notificationIds: ids }),
      firstAt: first ? first.at.toISOString() : null,
      lastAt: last ? last.at.toISOString() : null,
    },
  }
}

/** Whether every item of a digest was cancelled: nothing is left to deliver. */
export const digestEmptied = (d: Digest): boolean => d.items.every((i) => i.cancelled === true)

/** Where one recipient's delivery of a notification went: into a digest, on one channel. */
export interface NotificationDigestItem {
  readonly userId: string
  readonly channelId: string
  /** The digest, and the id of the message that delivers it (`GET /messages/{digestId}`). */
  readonly digestId: string
  /** When its window ends (its delivery is due then, or earlier when it filled up). */
  readonly closesAt: Date
  /** When its items were fixed; null while it still takes items. */
  readonly closedAt: Date | null
  /** The notification was cancelled before the digest closed: its item is left out. */
  readonly cancelled: boolean
}

/** A notification's items among digests, one per digest and item, in (user, channel, digest) order. */
export function digestItemsOf(notificationId: string, digests: readonly Digest[]): NotificationDigestItem[] {
  const out: NotificationDigestItem[] = []
  for (const d of digests) {
    if (d.userId === null) continue
    for (const i of d.items) {
      if (i.notificationId !== notificationId) continue
      out.push({
        userId: d.userId,
        channelId: d.channelId,
        digestId: d.id,
        closesAt: d.closesAt,
        closedAt: d.closedAt,
        cancelled: i.cancelled === true,
      })
    }
  }
  return out.sort((a, b) =>
    `${a.userId}/${a.channelId}/${a.digestId}`.localeCompare(`${b.userId}/${b.channelId}/${b.digestId}`),
  )
}
