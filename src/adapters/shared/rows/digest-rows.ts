import type { Digest, DigestItem } from '../../../domain/digest.js'
import type { JsonValue } from '../../../domain/outbox-message.js'

/** An item as the SQL stores keep it inside the digest's `items` array: the time as epoch ms. */
export interface StoredDigestItem {
  readonly notificationId: string
  readonly at: number
  readonly data: JsonValue
  readonly cancelled?: boolean
}

/** A digest row of either SQL store, its times already epoch ms and its items parsed. */
export interface DigestRowValues {
  readonly infrastructure_id: string
  readonly id: string
  readonly business_id: string | null
  readonly user_id: string | null
  readonly category_key: string | null
  readonly channel_id: string
  readonly destination: string | null
  readonly digest_key: string
  readonly opened_at: number
  readonly closes_at: number
  readonly max_items: number
  readonly items: readonly StoredDigestItem[]
  readonly closed_at: number | null
}

const item = (i: StoredDigestItem): DigestItem => ({
  notificationId: i.notificationId,
  at: new Date(Number(i.at)),
  data: i.data,
  ...(i.cancelled === true && { cancelled: true }),
})

/** A row's group: a category's (user and category) or a channel's (destination), as sql/0102's check keeps it. */
const groupOf = (r: DigestRowValues) =>
  r.destination === null
    ? { userId: r.user_id!, categoryKey: r.category_key!, destination: null }
    : { userId: null, categoryKey: null, destination: r.destination }

export const digestFromRow = (r: DigestRowValues): Digest => ({
  infrastructureId: r.infrastructure_id,
  id: r.id,
  businessId: r.business_id,
  ...groupOf(r),
  channelId: r.channel_id,
  digestKey: r.digest_key,
  openedAt: new Date(Number(r.opened_at)),
  closesAt: new Date(Number(r.closes_at)),
  maxItems: Number(r.max_items),
  items: r.items.map(item),
  closedAt: r.closed_at === null ? null : new Date(Number(r.closed_at)),
})
