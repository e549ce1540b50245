import type { z } from 'zod'
import {
  BUILTIN_CHANNEL_TYPE_DEFINITIONS,
  type ChannelTypeDefinition,
  type webhookConfigSchema,
} from '../../../domain/channel.js'
import type { Transport } from '../../../ports/transport.js'
import { describe, outcomeForError, outcomeForStatus } from '../shared/outcome.js'
import { createOutboundHttp, type OutboundHttpOptions } from '../shared/safe-http.js'
import { signWebhook } from './signature.js'

/** A webhook channel's config as the transport receives it: opened and parsed. */
export type WebhookConfig = z.output<typeof webhookConfigSchema>

export interface WebhookTransportOptions extends OutboundHttpOptions {
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
 * The channel arrives with its signing secrets opened (by the module, once); error texts
 * are redacted with the context's redactor before they reach an outcome.
 *
 * @example
 * const webhook = createWebhookTransport()
 * // channel config: { url: 'https://hooks.example.com/in', secrets: ['whsec_...'] }
 */
export function createWebhookTransport(options: WebhookTransportOptions = {}): Transport<WebhookConfig> {
  const http = createOutboundHttp(options)
  const now = options.now ?? (() => new Date())
  const userAgent = options.userAgent ?? 'messaging-webhook/1'

  return {
    channelType: webhookChannelType,
    async send(message, channel, context) {
      const { config } = channel
      const { redact } = context

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
