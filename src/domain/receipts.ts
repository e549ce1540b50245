import { createHmac, timingSafeEqual } from 'node:crypto'
import { z } from 'zod'
import { UnauthenticatedError, ValidationError } from './errors.js'
import { tenantIdSchema } from './ids.js'
import type { DeliveryStatus, ReceiptStatus } from './outbox-message.js'
import { parseInput } from './validation.js'

/**
 * Provider receipts (docs/live.md, "Provider receipts"): what an SMS provider's status callback
 * or an email service's signed receipt says became of a delivered message.
 */
export const RECEIPT_KINDS = ['sms', 'email'] as const
export type ReceiptKind = (typeof RECEIPT_KINDS)[number]

/**
 * The biggest receipt body taken: a Twilio status callback is well under 2 KiB, a JSON
 * receipt with a 1,000-character reason under 2 KiB too; 64 KiB leaves room for providers
 * that add fields, and refuses anything bigger unread.
 */
export const MAX_RECEIPT_BODY_BYTES = 64 * 1024

/**
 * A receipt as it arrived: the tenant and channel its URL names, the URL itself (Twilio signs
 * it), the signature headers and the raw body (signatures cover the exact bytes).
 */
export const receiptInput = z.strictObject({
  kind: z.enum(RECEIPT_KINDS),
  infrastructureId: tenantIdSchema,
  channelId: tenantIdSchema,
  /** The full URL the provider requested, query included (what a Twilio signature covers). */
  url: z.string().min(1).max(4096),
  /** `X-Twilio-Signature` (sms). */
  twilioSignature: z.string().max(1024).optional(),
  /** Standard Webhooks `webhook-id`, `webhook-timestamp`, `webhook-signature` (email). */
  webhookId: z.string().max(256).optional(),
  webhookTimestamp: z.string().max(32).optional(),
  webhookSignature: z.string().max(4096).optional(),
  body: z.string().max(MAX_RECEIPT_BODY_BYTES),
})
export type ReceiptInput = z.input<typeof receiptInput>

/** What a receipt did. */
export interface ReceiptResult {
  /**
   * `applied`: this receipt moved the message to `status`; `unchanged`: the message was not
   * (or no longer) `processed` (a second receipt, or one for a message not delivered), and
   * nothing changed; `ignored`: the provider reported an intermediate state (queued, sent),
   * which no message is moved by.
   */
  readonly outcome: 'applied' | 'unchanged' | 'ignored'
  /** The message, when the receipt named one that exists (null for `ignored`). */
  readonly messageId: string | null
  /** The message's status after the receipt (null for `ignored`). */
  readonly status: DeliveryStatus | null
}

/** What a provider said, once its signature held. */
export interface ProviderReport {
  readonly target: { readonly messageId: string } | { readonly providerMessageId: string }
  /** null: an intermediate state that moves nothing. */
  readonly status: ReceiptStatus | null
  /** The provider's own word for it (`delivered`, `undelivered`, ...). */
  readonly providerStatus: string
  readonly reason: string | null
}

const unsigned = (why: string) => new UnauthenticatedError(`receipt refused: ${why}`)

const sameText = (a: string, b: string): boolean => {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/**
 * Twilio's request signature: base64 HMAC-SHA1, keyed by the account's auth token, of the full
 * URL followed by every POST parameter, sorted by name, as name then value with nothing between.
 *
 * @example
 * signTwilioRequest(authToken, 'https://api.example.com/functions/v1/messaging/receipts/sms/…/…',
 *   new URLSearchParams({ MessageSid: 'SM…', MessageStatus: 'delivered' }))
 */
export function signTwilioRequest(authToken: string, url: string, params: URLSearchParams): string {
  const pairs = [...params].sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
  const hmac = createHmac('sha1', authToken).update(url)
  for (const [k, v] of pairs) hmac.update(k + v)
  return hmac.digest('base64')
}

// Twilio's MessageStatus values (https://www.twilio.com/docs/messaging/api/message-resource):
// `delivered` reached the handset; `undelivered` and `failed` did not; the rest are on the way.
const TWILIO_FINAL: Readonly<Record<string, ReceiptStatus>> = {
  delivered: 'confirmed',
  undelivered: 'bounced',
  failed: 'bounced',
}
const TWILIO_SID = /^(SM|MM)[0-9a-fA-F]{32}$/

/**
 * A Twilio status callback, checked against the channel's auth tokens (its own and its
 * fallbacks'): UnauthenticatedError unless one of them signed exactly this URL and body.
 */
export function readTwilioCallback(
  input: { readonly url: string; readonly body: string; readonly twilioSignature?: string | undefined },
  authTokens: readonly string[],
): ProviderReport {
  if (!input.twilioSignature) throw unsigned('no X-Twilio-Signature header')
  const params = new URLSearchParams(input.body)
  const signature = input.twilioSignature
  if (!authTokens.some((t) => sameText(signTwilioRequest(t, input.url, params), signature)))
    throw unsigned('X-Twilio-Signature does not match')
  const sid = params.get('MessageSid') ?? params.get('SmsSid')
  if (sid === null || !TWILIO_SID.test(sid))
    throw ValidationError.single(
      'MessageSid',
      'format',
      'must be a Twilio message SID (SM or MM and 32 hex digits)',
    )
  const providerStatus = params.get('MessageStatus') ?? params.get('SmsStatus')
  if (providerStatus === null || !/^[a-z_]{1,32}$/.test(providerStatus))
    throw ValidationError.single('MessageStatus', 'format', 'must be a Twilio message status')
  const code = params.get('ErrorCode')
  return {
    target: { providerMessageId: sid },
    status: TWILIO_FINAL[providerStatus] ?? null,
    providerStatus,
    reason: code !== null && /^\d{1,10}$/.test(code) ? `TWILIO_${code}` : null,
  }
}

/**
 * Standard Webhooks' tolerance: a receipt signed more than 5 minutes before or after the
 * store's clock is refused as a replay (the reference libraries' default).
 */
export const RECEIPT_TOLERANCE_SECONDS = 5 * 60

const emailReceiptBody = z
  .strictObject({
    /** The module's message id. */
    messageId: tenantIdSchema.optional(),
    /** The id the email attempt recorded: the SMTP Message-ID the relay accepted. */
    providerMessageId: z.string().min(1).max(500).optional(),
    status: z.enum(['delivered', 'bounced']),
    reason: z.string().max(1000).optional(),
  })
  .refine((b) => (b.messageId === undefined) !== (b.providerMessageId === undefined), {
    message: 'give exactly one of messageId or providerMessageId',
    path: ['messageId'],
    params: { rule: 'exactly_one' },
  })

export { emailReceiptBody as emailReceiptBodySchema }

const keyOf = (secret: string) => Buffer.from(secret.replace(/^whsec_/, ''), 'base64')

/**
 * A generic signed JSON receipt (Standard Webhooks: `v1,` base64 HMAC-SHA256 of
 * `${id}.${timestamp}.${body}`), checked against the channel's receipt secret: refused unless
 * the secret signed this body within the tolerance of `nowSeconds`.
 */
export function readEmailReceipt(
  input: {
    readonly body: string
    readonly webhookId?: string | undefined
    readonly webhookTimestamp?: string | undefined
    readonly webhookSignature?: string | undefined
  },
  secret: string,
  nowSeconds: number,
): ProviderReport {
  const { webhookId: id, webhookTimestamp: ts, webhookSignature: sig } = input
  if (!id || !ts || !sig) throw unsigned('webhook-id, webhook-timestamp and webhook-signature are required')
  if (!/^\d{1,12}$/.test(ts)) throw unsigned('webhook-timestamp is not a Unix time in seconds')
  if (Math.abs(nowSeconds - Number(ts)) > RECEIPT_TOLERANCE_SECONDS)
    throw unsigned('webhook-timestamp is outside the 5 minute tolerance')
  const expected = createHmac('sha256', keyOf(secret))
    .update(`${id}.${ts}.`)
    .update(input.body)
    .digest('base64')
  const given = sig.split(' ').flatMap((s) => (s.startsWith('v1,') ? [s.slice(3)] : []))
  if (!given.some((g) => sameText(g, expected))) throw unsigned('webhook-signature does not match')
  let json: unknown
  try {
    json = JSON.parse(input.body)
  } catch {
    throw ValidationError.single('(body)', 'malformed_json', 'body is not valid JSON')
  }
  const body = parseInput(emailReceiptBody, json)
  return {
    target:
      body.messageId !== undefined
        ? { messageId: body.messageId }
        : { providerMessageId: body.providerMessageId! },
    status: body.status === 'delivered' ? 'confirmed' : 'bounced',
    providerStatus: body.status,
    reason: body.reason ?? null,
  }
}
