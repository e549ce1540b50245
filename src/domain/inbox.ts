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
