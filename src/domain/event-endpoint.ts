import { z } from 'zod'
import type { ChannelTypeDefinition } from './channel.js'
import { httpUrl } from './channel.js'
import { EVENT_TYPES, type EventType } from './events.js'
import { entityIdSchema, tenantIdSchema } from './ids.js'

/**
 * A tenant's status webhook endpoint (docs/live.md, "Status webhooks"): where the module
 * POSTs the tenant's delivery events, one signed request per event, in the log's order.
 * `cursor` is the last event the endpoint accepted (null: none yet, from its creation on).
 */
export interface EventEndpoint {
  readonly infrastructureId: string
  readonly id: string
  readonly url: string
  /** The event types sent; null: every type, those added later too. */
  readonly eventTypes: readonly EventType[] | null
  readonly enabled: boolean
  readonly cursor: string | null
  /** Failed attempts at the event after `cursor` since it last succeeded. */
  readonly attempts: number
  /** When the dispatcher next looks at it (the store's clock). */
  readonly nextAttemptAt: Date
  /** The last failure, redacted of the signing secret; null once an event is accepted again. */
  readonly lastError: string | null
  /** The first failure of the current run of failures; null while it succeeds. */
  readonly failingSince: Date | null
  readonly createdAt: Date
  readonly updatedAt: Date
}

/** As the store keeps it: with the signing secret, sealed. Never leaves the module. */
export interface EventEndpointRecord extends EventEndpoint {
  readonly secret: string
}

export const EVENT_ENDPOINT_STATUSES = ['active', 'failing', 'disabled'] as const
export type EventEndpointStatus = (typeof EVENT_ENDPOINT_STATUSES)[number]

/** What a read returns: no secret, and the status it adds up to. */
export interface EventEndpointView extends EventEndpoint {
  readonly status: EventEndpointStatus
}

/** A create (or a rotate) returns the signing secret this once; later reads never show it. */
export interface EventEndpointWithSecret {
  readonly endpoint: EventEndpointView
  /** `whsec_<base64>`: verify each request's `webhook-signature` with it (Standard Webhooks). */
  readonly secret: string
}

export const endpointStatus = (e: EventEndpoint): EventEndpointStatus =>
  !e.enabled ? 'disabled' : e.failingSince !== null ? 'failing' : 'active'

export function endpointView(r: EventEndpointRecord): EventEndpointView {
  const { secret: _sealed, ...rest } = r
  return { ...rest, status: endpointStatus(r) }
}

/**
 * 24 random bytes (192 bits), as Svix mints them, in the Standard Webhooks form that the
 * webhook channel's secrets take, so the same verifying libraries read it.
 */
export const newSigningSecret = (): string =>
  `whsec_${btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(24))))}`

/**
 * The signing secret goes through the channel secrets port like a channel credential:
 * sealed with AES-256-GCM bound to the tenant, the endpoint id and this path (a path no
 * channel type has, so a sealed value never opens as a channel's).
 */
export const EVENT_ENDPOINT_SECRET: ChannelTypeDefinition = {
  type: 'messaging.event_endpoint',
  configSchema: z.strictObject({ signingSecret: z.string() }),
  secretPaths: ['signingSecret'],
}

/**
 * Retries of a failing endpoint: 5 s after the first failure, doubling, at most an hour
 * apart; the 20th failure in a row (about ten hours of them) disables the endpoint until an
 * admin enables it again. Order is kept: the event that failed is retried before any later one.
 */
export interface EndpointRetryPolicy {
  readonly baseMs: number
  readonly maxMs: number
  readonly disableAfter: number
}

export const DEFAULT_ENDPOINT_RETRY: EndpointRetryPolicy = {
  baseMs: 5_000,
  maxMs: 3_600_000,
  disableAfter: 20,
}

/** The wait after the `failures`-th failure in a row (1-based). */
export function endpointRetryDelay(policy: EndpointRetryPolicy, failures: number): number {
  const exp = Math.min(Math.max(failures - 1, 0), 40)
  return Math.min(policy.maxMs, policy.baseMs * 2 ** exp)
}

const eventTypes = z
  .array(z.enum(EVENT_TYPES))
  .min(1)
  .max(EVENT_TYPES.length)
  .refine((t) => new Set(t).size === t.length, {
    message: 'must not name a type twice',
    params: { rule: 'unique' },
  })

export const createEventEndpointInput = z.strictObject({
  infrastructureId: tenantIdSchema,
  url: httpUrl,
  /** Absent or null: every event type. */
  eventTypes: eventTypes.nullable().default(null),
  enabled: z.boolean().default(true),
})
export type CreateEventEndpointInput = z.input<typeof createEventEndpointInput>

export const eventEndpointRefInput = z.strictObject({
  infrastructureId: tenantIdSchema,
  endpointId: entityIdSchema,
})
export type EventEndpointRefInput = z.input<typeof eventEndpointRefInput>

export const listEventEndpointsInput = z.strictObject({ infrastructureId: tenantIdSchema })
export type ListEventEndpointsInput = z.input<typeof listEventEndpointsInput>

export const updateEventEndpointInput = z.strictObject({
  infrastructureId: tenantIdSchema,
  endpointId: entityIdSchema,
  url: httpUrl.optional(),
  eventTypes: eventTypes.nullable().optional(),
  /** `true` on a disabled or failing endpoint starts its retries afresh, now. */
  enabled: z.boolean().optional(),
})
export type UpdateEventEndpointInput = z.input<typeof updateEventEndpointInput>
