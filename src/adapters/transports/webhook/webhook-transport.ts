import {
  BUILTIN_CHANNEL_TYPE_DEFINITIONS,
  type Channel,
  type ChannelTypeDefinition,
  webhookConfigSchema,
} from '../../../domain/channel.js'
import type { OutboxMessage } from '../../../domain/outbox-message.js'
import type { DeliveryContext, DeliveryOutcome, Transport } from '../../../ports/transport.js'
import type { SecretBox } from '../../../secrets/index.js'
import { loadChannelConfig } from '../shared/channel-config.js'
import { describe, outcomeForError, outcomeForStatus } from '../shared/outcome.js'
import { createRedactor } from '../shared/redact.js'
import { createOutboundHttp, type OutboundHttpOptions } from '../shared/safe-http.js'
import { signWebhook } from './signature.js'

export interface WebhookTransportOptions extends OutboundHttpOptions {
  /** Opens sealed `secrets` in channel configs; needed when the storage seals them. */
  readonly secretBox?: SecretBox
  /** The signature timestamp's clock. */
  readonly now?: () => Date
  readonly userAgent?: string
}

/** The built-in webhook type (the very object the registry holds): `webhookConfigSchema`, `secrets` sealed at rest. */
export const webhookChannelType: ChannelTypeDefinition = BUILTIN_CHANNEL_TYPE_DEFINITIONS.find(
  (d) => d.type === 'webhook',
)!

/**
 * POSTs the message payload as JSON, signed per Standard Webhooks. The `webhook-id` is
 * the message id, stable across attempts, so a receiver deduplicates retries with it;
 * the timestamp and signature are fresh on each attempt.
 *
 * @example
 * const webhook = createWebhookTransport({ secretBox })
 * // channel config: { url: 'https://hooks.example.com/in', secrets: ['whsec_...'] }
 */
export function createWebhookTransport(options: WebhookTransportOptions = {}): Transport {
  const http = createOutboundHttp(options)
  const now = options.now ?? (() => new Date())
  const userAgent = options.userAgent ?? 'messaging-webhook/1'

  return {
    channelType: webhookChannelType,
    async send(message: OutboxMessage, channel: Channel, context: DeliveryContext): Promise<DeliveryOutcome> {
      const loaded = loadChannelConfig(webhookChannelType, webhookConfigSchema, channel, options.secretBox)
      if (!loaded.ok) return loaded.outcome
      const { config } = loaded
      const redact = createRedactor(loaded.secrets)

      const body = Buffer.from(JSON.stringify(message.payload))
      const timestamp = Math.floor(now().getTime() / 1000)
      const headers: Record<string, string> = {
        ...config.headers,
        'content-type': 'application/json',
        'user-agent': userAgent,
        'webhook-id': message.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signWebhook(config.secrets, message.id, timestamp, body),
      }
      try {
        const res = await http.post({
          url: config.url,
          headers,
          body,
          timeoutMs: config.timeoutMs,
          signal: context.signal,
        })
        return outcomeForStatus(res.status, res.headers['retry-after'], describe(res.body, redact), now())
      } catch (e) {
        return outcomeForError(e, redact)
      }
    },
  }
}
