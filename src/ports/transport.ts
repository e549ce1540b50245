import type { Channel, ChannelTypeDefinition } from '../domain/channel.js'
import type { OutboxMessage } from '../domain/outbox-message.js'
import type { Redactor } from '../domain/redaction.js'
import type { TenantScope } from '../domain/tenant-scope.js'

/** What one delivery attempt came to. */
export type DeliveryOutcome =
  | { readonly status: 'delivered'; readonly providerMessageId?: string; readonly provider?: string }
  | {
      readonly status: 'retryable'
      readonly error: string
      readonly code?: string
      readonly retryAfterMs?: number
      readonly provider?: string
    }
  | {
      readonly status: 'permanent'
      readonly error: string
      readonly code?: string
      readonly provider?: string
    }

/*
 * `provider` names which of a channel's providers the attempt went out through (an email
 * channel's SMTP relay, an SMS channel's provider, the last one tried when all failed); it
 * is recorded with the attempt. Transports with a single endpoint leave it out.
 */

/**
 * What a relay answers instead of an outcome: the message was handed to a broker whose own
 * delivery workers settle it. The worker records no attempt and settles nothing; it extends
 * the lease to `holdMs` from now so nobody claims the message meanwhile, and if nobody has
 * settled it by then, it is claimed (and relayed) again.
 */
export interface HandOff {
  readonly status: 'relayed'
  readonly holdMs: number
  /** Where the broker keeps it (`MESSAGING:42`), for logs and events. */
  readonly reference?: string
}

export interface DeliveryContext {
  /** The message id: stable across attempts, for providers that deduplicate. */
  readonly idempotencyKey: string
  /** 1 for the first attempt. */
  readonly attempt: number
  /** Aborted when the attempt times out or the worker shuts down. */
  readonly signal: AbortSignal
  /** The delivering worker's scope: a transport that writes to the store (in-app) acts with exactly these rights. */
  readonly scope: TenantScope
  /**
   * The module's one redactor, loaded with every secret of this channel: a transport runs a
   * provider's text through it before quoting it in an outcome (the worker does so again).
   */
  readonly redact: Redactor
}

/**
 * A channel as a transport receives it: its `config` opened (secrets in plaintext) and
 * parsed by the channel type's schema (defaults filled), without the module's own
 * `rateLimit`. Opened once, by the module, for this call only: never log it.
 */
export type DeliveryChannel<C = Readonly<Record<string, unknown>>> = Omit<Channel, 'config'> & {
  readonly config: C
}

/**
 * Carries a message out over one channel type. Returns an outcome rather than throwing;
 * a throw counts as a retryable failure. `C` is the output type of the type's config schema.
 *
 * @example
 * const slackSchema = z.object({ url: z.url() })
 * const slack: Transport<z.output<typeof slackSchema>> = {
 *   channelType: { type: 'slack', configSchema: slackSchema, secretPaths: ['url'] },
 *   async send(message, channel) { await fetch(channel.config.url, { method: 'POST', body: JSON.stringify(message.payload) }); return { status: 'delivered' } },
 * }
 */
export interface Transport<C = Readonly<Record<string, unknown>>> {
  readonly channelType: ChannelTypeDefinition
  send(
    message: OutboxMessage,
    channel: DeliveryChannel<C>,
    context: DeliveryContext,
  ): Promise<DeliveryOutcome>
}

/**
 * A transport that may hand messages to a broker instead of delivering them (a relay). Every
 * `Transport` is one; a delivery worker takes either.
 */
export interface RelayTransport<C = Readonly<Record<string, unknown>>> {
  readonly channelType: ChannelTypeDefinition
  send(
    message: OutboxMessage,
    channel: DeliveryChannel<C>,
    context: DeliveryContext,
  ): Promise<DeliveryOutcome | HandOff>
}
