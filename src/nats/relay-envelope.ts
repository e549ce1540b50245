import { z } from 'zod'
import type { Channel } from '../domain/channel.js'
import { orderingKeySchema } from '../domain/inputs.js'
import type { MessageNotification } from '../domain/notification.js'
import {
  type ClaimedMessage,
  type JsonValue,
  MESSAGE_PRIORITIES,
  type MessagePriority,
  type OutboxMessage,
} from '../domain/outbox-message.js'
import { MAX_TRACEPARENT_LENGTH, MAX_TRACESTATE_LENGTH, type TraceContext } from '../domain/trace-context.js'

/**
 * What the relay publishes for one message, as JSON: the message as it was claimed, the
 * channel it was queued on (by id, key and type; never its config, so no secret reaches the
 * broker), and how it is to be settled. A broker's consumer needs nothing else to deliver it.
 */
export interface RelayEnvelope {
  readonly v: 1
  readonly id: string
  readonly infrastructureId: string
  readonly businessId: string | null
  readonly channelId: string
  readonly channelKey: string
  readonly channelType: string
  readonly payload: JsonValue
  readonly recipients: readonly string[] | null
  readonly idempotencyKey: string | null
  /** A notify's message: its notification, recipient, category and template version (null on a plain enqueue). */
  readonly notification: MessageNotification | null
  /** Its priority in the outbox (an envelope from before priorities reads as `normal`). */
  readonly priority: MessagePriority
  /** Its ordering key (an envelope from before ordering keys reads as none). */
  readonly orderingKey: string | null
  /** The enqueue's W3C trace context, so the broker's worker joins its trace (null: none). */
  readonly traceContext: TraceContext | null
  readonly maxAttempts: number
  readonly createdBy: string
  readonly createdAt: string
  /** Claims of the message from the outbox so far, this one included. */
  readonly attempts: number
  /** The relay's lease: the module's broker workers settle the message under it. */
  readonly leaseToken: string
  readonly relayedAt: string
  /**
   * `published`: the outbox settled it as processed once the broker acknowledged it;
   * `delivered`: the module's broker workers settle it after delivering it.
   */
  readonly settle: RelaySettle
}

export type RelaySettle = 'published' | 'delivered'

const uuid = z.uuid()
const jsonValue: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([
    z.string(),
    z.number(),
    z.boolean(),
    z.null(),
    z.array(jsonValue),
    z.record(z.string(), jsonValue),
  ]),
)

export const relayEnvelopeSchema = z.strictObject({
  v: z.literal(1),
  id: uuid,
  infrastructureId: uuid,
  businessId: uuid.nullable(),
  channelId: uuid,
  channelKey: z.string().min(1).max(64),
  channelType: z.string().min(1).max(40),
  payload: jsonValue,
  recipients: z.array(z.string()).nullable(),
  idempotencyKey: z.string().nullable(),
  notification: z
    .strictObject({
      id: uuid,
      userId: uuid,
      categoryKey: z.string().min(1).max(100),
      templateId: uuid.nullable(),
    })
    .nullable()
    .default(null),
  priority: z.enum(MESSAGE_PRIORITIES).default('normal'),
  orderingKey: orderingKeySchema.nullable().default(null),
  traceContext: z
    .strictObject({
      traceparent: z.string().min(1).max(MAX_TRACEPARENT_LENGTH),
      tracestate: z.string().max(MAX_TRACESTATE_LENGTH).nullable(),
    })
    .nullable()
    .default(null),
  maxAttempts: z.number().int().min(1),
  createdBy: z.string(),
  createdAt: z.iso.datetime(),
  attempts: z.number().int().min(0),
  leaseToken: z.string().min(1),
  relayedAt: z.iso.datetime(),
  settle: z.enum(['published', 'delivered']),
})

/** `<prefix>.<infrastructureId>.<channelKey>`: both are valid subject tokens by their own rules (a UUID, a slug). */
export function relaySubject(prefix: string, infrastructureId: string, channelKey: string): string {
  return `${prefix}.${infrastructureId}.${channelKey}`
}

export function toEnvelope(
  message: OutboxMessage,
  channel: Channel,
  settle: RelaySettle,
  relayedAt: Date,
): RelayEnvelope {
  if (message.leaseToken === null) throw new Error('only a claimed message is relayed')
  return {
    v: 1,
    id: message.id,
    infrastructureId: message.infrastructureId,
    businessId: message.businessId,
    channelId: message.channelId,
    channelKey: channel.channelKey,
    channelType: channel.type,
    payload: message.payload,
    recipients: message.recipients,
    idempotencyKey: message.idempotencyKey,
    notification: message.notification,
    priority: message.priority,
    orderingKey: message.orderingKey,
    traceContext: message.traceContext,
    maxAttempts: message.maxAttempts,
    createdBy: message.createdBy,
    createdAt: message.createdAt.toISOString(),
    attempts: message.attempts,
    leaseToken: message.leaseToken,
    relayedAt: relayedAt.toISOString(),
    settle,
  }
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export function encodeEnvelope(envelope: RelayEnvelope): Uint8Array {
  return encoder.encode(JSON.stringify(envelope))
}

/** The envelope, or null when the bytes are not one (a stranger's publish on the subjects). */
export function decodeEnvelope(data: Uint8Array): RelayEnvelope | null {
  try {
    const parsed = relayEnvelopeSchema.safeParse(JSON.parse(decoder.decode(data)))
    return parsed.success ? (parsed.data as RelayEnvelope) : null
  } catch {
    return null
  }
}

/**
 * The message as the broker's worker holds it: claimed under the relay's lease, with
 * `attempts` the broker's delivery number (the attempt records count those).
 */
export function heldFromEnvelope(
  envelope: RelayEnvelope,
  attempts: number,
  leasedUntil: Date,
): ClaimedMessage {
  return {
    id: envelope.id,
    infrastructureId: envelope.infrastructureId,
    businessId: envelope.businessId,
    channelId: envelope.channelId,
    payload: envelope.payload,
    recipients: envelope.recipients,
    idempotencyKey: envelope.idempotencyKey,
    notification: envelope.notification,
    priority: envelope.priority,
    orderingKey: envelope.orderingKey,
    traceContext: envelope.traceContext,
    maxAttempts: envelope.maxAttempts,
    createdBy: envelope.createdBy,
    createdAt: new Date(envelope.createdAt),
    status: 'processing',
    attempts,
    availableAt: new Date(envelope.relayedAt),
    leaseToken: envelope.leaseToken,
    leasedUntil,
    lastError: null,
    settledAt: null,
  }
}
