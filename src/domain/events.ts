import { z } from 'zod'
import type { JsonValue } from './outbox-message.js'

/**
 * What the module tells its host about deliveries (docs/live.md, "Delivery events to the host").
 * `message.failed`: an attempt failed (`data.willRetry` says whether another follows);
 * `message.dead`: out of attempts; `recipient.skipped`: a notify left a recipient out;
 * `message.confirmed` / `message.bounced`: a provider's receipt for a delivered message.
 */
export const EVENT_TYPES = [
  'message.delivered',
  'message.failed',
  'message.dead',
  'message.cancelled',
  'notification.completed',
  'recipient.skipped',
  'message.confirmed',
  'message.bounced',
] as const
export type EventType = (typeof EVENT_TYPES)[number]

/** One event as a service writes it, in the same unit of work as the change it tells of. */
export interface NewDeliveryEvent {
  readonly id: string
  readonly infrastructureId: string
  readonly businessId: string | null
  readonly type: EventType
  readonly messageId: string | null
  readonly notificationId: string | null
  readonly channelId: string | null
  readonly data: { readonly [key: string]: JsonValue }
}

/** An event as the log returns it: stamped with the store's time and its place in the log. */
export interface DeliveryEvent extends NewDeliveryEvent {
  /**
   * Its place in its tenant's log, `<a>.<b>` (two decimal integers): page on with `after`.
   * Opaque to a host; compare places only through the log.
   */
  readonly cursor: string
  readonly occurredAt: Date
}

/** A place in the log: two non-negative integers below 2^63, compared as a pair. */
export interface EventCursor {
  readonly major: bigint
  readonly minor: bigint
}

const MAX_BIGINT = (1n << 63n) - 1n
const CURSOR_TEXT = /^(0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,18})$/

export function parseEventCursor(text: string): EventCursor | null {
  const m = CURSOR_TEXT.exec(text)
  if (!m) return null
  const major = BigInt(m[1]!)
  const minor = BigInt(m[2]!)
  return major > MAX_BIGINT || minor > MAX_BIGINT ? null : { major, minor }
}

export const formatEventCursor = (c: EventCursor): string => `${c.major}.${c.minor}`

/** An event cursor as input: refused with rule `event_cursor` unless the log could have made it. */
export const eventCursorSchema = z.string().refine((v) => parseEventCursor(v) !== null, {
  message: 'must be an event cursor (`<a>.<b>`, as a listed event carries it)',
  params: { rule: 'event_cursor' },
})
