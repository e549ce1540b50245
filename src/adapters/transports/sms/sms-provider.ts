import { createRedactor } from '../../../domain/redaction.js'
import type { DeliveryOutcome } from '../../../ports/transport.js'
import { describe, outcomeForError, outcomeForStatus } from '../shared/outcome.js'
import type { OutboundHttp } from '../shared/safe-http.js'

/** One text to one number. */
export interface SmsRequest {
  readonly from: string
  /** E.164, validated by the transport. */
  readonly to: string
  readonly text: string
  /** Stable per message and recipient, for providers that deduplicate. */
  readonly idempotencyKey: string
  readonly timeoutMs: number
  readonly signal: AbortSignal
}

/**
 * The port an SMS vendor plugs into: send one text, say what became of it. Never throws
 * for a provider's answer; a throw counts as retryable.
 *
 * @example
 * const vonage: SmsProvider = { name: 'vonage', async send(sms) { ...; return { status: 'delivered', providerMessageId: id } } }
 * createSmsTransport({ provider: vonage })
 */
export interface SmsProvider {
  readonly name: string
  send(sms: SmsRequest): Promise<DeliveryOutcome>
}

const parseJson = (text: string): Record<string, unknown> | undefined => {
  try {
    const v: unknown = JSON.parse(text)
    return typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}

export interface HttpJsonSmsProviderConfig {
  readonly url: string
  readonly apiKey: string
  /** Default `x-api-key`. */
  readonly apiKeyHeader?: string
}

/**
 * A generic JSON SMS API: `POST url` with `{ from, to, text, reference }`, the key in a
 * header and an `Idempotency-Key`; a 2xx JSON answer's `id` (or `messageId`) is the
 * provider message id. Status mapping as for webhooks.
 */
export function createHttpJsonSmsProvider(
  config: HttpJsonSmsProviderConfig,
  http: OutboundHttp,
): SmsProvider {
  const redact = createRedactor([config.apiKey])
  return {
    name: 'http',
    async send(sms) {
      try {
        const res = await http.post({
          url: config.url,
          headers: {
            'content-type': 'application/json',
            accept: 'application/json',
            [config.apiKeyHeader ?? 'x-api-key']: config.apiKey,
            'idempotency-key': sms.idempotencyKey,
          },
          body: JSON.stringify({ from: sms.from, to: sms.to, text: sms.text, reference: sms.idempotencyKey }),
          timeoutMs: sms.timeoutMs,
          signal: sms.signal,
        })
        const outcome = outcomeForStatus(
          res.status,
          res.headers['retry-after'],
          describe(res.body, redact),
          new Date(),
        )
        if (outcome.status !== 'delivered') return outcome
        const body = parseJson(res.body)
        const id = body?.id ?? body?.messageId
        return typeof id === 'string' || typeof id === 'number'
          ? { status: 'delivered', providerMessageId: String(id) }
          : { status: 'delivered' }
      } catch (e) {
        return outcomeForError(e, redact)
      }
    },
  }
}

export interface TwilioSmsProviderConfig {
  readonly accountSid: string
  readonly authToken: string
  /** Default `https://api.twilio.com`; a regional edge or a test double otherwise. */
  readonly baseUrl?: string
}

// Twilio error codes (https://www.twilio.com/docs/api/errors) that say "later", not "never",
// whatever the HTTP status they come with.
const TWILIO_RETRYABLE = new Set([20429, 20500, 20503, 30001])

/**
 * Twilio's Messages API: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`,
 * form-encoded `To`, `From`, `Body`, HTTP Basic auth with the account SID and auth
 * token; a 201 carries the message `sid`, an error `{ code, message, more_info, status }`.
 */
export function createTwilioSmsProvider(config: TwilioSmsProviderConfig, http: OutboundHttp): SmsProvider {
  const basic = Buffer.from(`${config.accountSid}:${config.authToken}`).toString('base64')
  const redact = createRedactor([config.authToken, `${config.accountSid}:${config.authToken}`])
  const base = (config.baseUrl ?? 'https://api.twilio.com').replace(/\/+$/, '')
  const url = `${base}/2010-04-01/Accounts/${encodeURIComponent(config.accountSid)}/Messages.json`
  return {
    name: 'twilio',
    async send(sms) {
      try {
        const res = await http.post({
          url,
          headers: {
            authorization: `Basic ${basic}`,
            'content-type': 'application/x-www-form-urlencoded',
            accept: 'application/json',
          },
          body: new URLSearchParams({ To: sms.to, From: sms.from, Body: sms.text }).toString(),
          timeoutMs: sms.timeoutMs,
          signal: sms.signal,
        })
        const body = parseJson(res.body)
        if (res.status >= 200 && res.status < 300) {
          return typeof body?.sid === 'string'
            ? { status: 'delivered', providerMessageId: body.sid }
            : { status: 'delivered' }
        }
        const twilioCode = typeof body?.code === 'number' ? body.code : undefined
        const detail = describe(typeof body?.message === 'string' ? body.message : res.body, redact)
        const outcome = outcomeForStatus(res.status, res.headers['retry-after'], detail, new Date())
        if (twilioCode === undefined || outcome.status === 'delivered') return outcome
        const code = `TWILIO_${twilioCode}`
        if (outcome.status === 'permanent' && TWILIO_RETRYABLE.has(twilioCode)) {
          return { status: 'retryable', code, error: outcome.error }
        }
        return { ...outcome, code }
      } catch (e) {
        return outcomeForError(e, redact)
      }
    },
  }
}
