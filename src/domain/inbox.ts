import type { JsonValue } from './outbox-message.js'

/** One in-app notification in one user's inbox. */
export interface InboxEntry {
  readonly id: string
  readonly infrastructureId: string
  readonly businessId: string | null
  readonly userId: string
  readonly channelId: string
  /** The outbox message it came from: (infrastructure, message, user) is unique, so a redelivery adds nothing. */
  readonly messageId: string
  readonly payload: JsonValue
  readonly createdAt: Date
  readonly seenAt: Date | null
  readonly readAt: Date | null
  readonly archivedAt: Date | null
}

export type InboxMark = 'seen' | 'read' | 'archived'

/** A place in a user's inbox, oldest first: (createdAt, id), the order the stores index. */
export interface InboxCursor {
  readonly createdAt: Date
  readonly id: string
}

const CURSOR = /^(\d{1,15})\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i

/**
 * An entry's place as text, `<createdAt in ms since the epoch>.<entry id>`: the event id of
 * the live inbox's `entry` events, so a `Last-Event-ID` is something every store pages from.
 */
export function inboxCursorOf(entry: Pick<InboxEntry, 'createdAt' | 'id'>): string {
  return `${entry.createdAt.getTime()}.${entry.id.toLowerCase()}`
}

/** The cursor in `text`, or null when it is not one. */
export function parseInboxCursor(text: string): InboxCursor | null {
  const m = CURSOR.exec(text.trim())
  if (!m) return null
  const createdAt = new Date(Number(m[1]))
  return Number.isNaN(createdAt.getTime()) ? null : { createdAt, id: m[2]!.toLowerCase() }
}
