import { z } from 'zod'
import {
  BUILTIN_CHANNEL_TYPE_DEFINITIONS,
  type ChannelTypeDefinition,
  type smsConfigSchema,
} from '../../../domain/channel.js'
import type { OutboxMessage } from '../../../domain/outbox-message.js'
import type { Redactor } from '../../../domain/redaction.js'
import type { DeliveryOutcome, Transport } from '../../../ports/transport.js'
import { createOutboundHttp, type OutboundHttp, type OutboundHttpOptions } from '../shared/safe-http.js'
import { renderTemplate, TemplateError } from '../shared/template.js'
import { createHttpJsonSmsProvider, createTwilioSmsProvider, type SmsProvider } from './sms-provider.js'

/** The built-in sms type (the very object the registry holds); `provider.apiKey` and `twilio.authToken` are sealed at rest. */
export const smsChannelType: ChannelTypeDefinition = BUILTIN_CHANNEL_TYPE_DEFINITIONS.find(
  (d) => d.type === 'sms',
)!

/** An sms channel's config as the transport receives it: opened and parsed. */
export type SmsConfig = z.output<typeof smsConfigSchema>

export interface SmsTransportOptions extends OutboundHttpOptions {
  /** The host's provider, for channels that configure neither `provider` nor `twilio`. */
  readonly provider?: SmsProvider
  /** Per-attempt limit when the channel sets none. Default 10 s. */
  readonly defaultTimeoutMs?: number
}

/** E.164: a plus, a non-zero country digit, at most 15 digits in all (ITU-T E.164 §6). */
export const e164Schema = z.string().regex(/^\+[1-9]\d{6,14}$/)

/** What a message payload may carry; unknown fields are ignored. */
export const smsPayloadSchema = z.looseObject({
  text: z.string().min(1).max(1600).optional(),
  /** Values for `{{var}}` in `text` (rendered only when present) and the channel template. */
  data: z.record(z.string(), z.unknown()).optional(),
})

/**
 * Sends the message text to every recipient number, one provider call each, through a
 * provider the channel configures (a generic JSON API or Twilio) or the host's own.
 * All delivered: delivered. Any retryable: retryable (the longest Retry-After). Otherwise
 * permanent, naming which recipients failed. A retry resends to every recipient; the
 * JSON provider's per-recipient Idempotency-Key lets a provider drop the repeats.
 *
 * @example
 * const sms = createSmsTransport()
 * // channel config: { from: '+4915112345678', twilio: { accountSid: 'AC…', authToken: '…' } }
 * // payload: { text: 'Your code is {{code}}', data: { code: '123456' } }, recipients: ['+4915199999999']
 */
export function createSmsTransport(options: SmsTransportOptions = {}): Transport<SmsConfig> {
  const http = createOutboundHttp(options)
  const defaultTimeoutMs = options.defaultTimeoutMs ?? 10_000

  return {
    channelType: smsChannelType,
    async send(message, channel, context) {
      const { config } = channel
      const providers = providersOf(config, http, options.provider)
      if (providers.length === 0)
        return { status: 'permanent', code: 'NO_PROVIDER', error: 'channel has no SMS provider' }
      const recipients = message.recipients ?? []
      const refused = checkRecipients(recipients)
      if (refused) return refused
      const text = textOf(message, config)
      if (typeof text !== 'string') return text

      const outcomes: DeliveryOutcome[] = []
      const used = new Set<string>()
      for (const to of recipients) {
        const sms = {
          from: config.from,
          to,
          text,
          idempotencyKey: `${message.id}:${to}`,
          timeoutMs: config.timeoutMs ?? defaultTimeoutMs,
          signal: context.signal,
        }
        const { outcome, provider } = await sendWithFallback(providers, sms)
        used.add(provider)
        outcomes.push(outcome)
      }
      return { ...combine(outcomes, context.redact), provider: [...used].join(',') }
    },
  }
}

/** One provider a text may go through, with the name its attempts record. */
interface NamedProvider {
  readonly name: string
  readonly provider: SmsProvider
}

type ProviderConfig = Pick<SmsConfig, 'provider' | 'twilio'>

function providerOf(c: ProviderConfig, http: OutboundHttp): NamedProvider | null {
  if (c.provider) {
    const name = c.provider.name ?? `provider:${new URL(c.provider.url).host}`
    return { name, provider: createHttpJsonSmsProvider(c.provider, http) }
  }
  if (c.twilio) return { name: c.twilio.name ?? 'twilio', provider: createTwilioSmsProvider(c.twilio, http) }
  return null
}

/** The channel's provider (or the host's), then its fallbacks, in order. */
function providersOf(config: SmsConfig, http: OutboundHttp, host: SmsProvider | undefined): NamedProvider[] {
  const first = providerOf(config, http) ?? (host ? { name: `host:${host.name}`, provider: host } : null)
  const rest = (config.fallbacks ?? []).map((f) => providerOf(f, http)).filter((p) => p !== null)
  return [...(first ? [first] : []), ...rest]
}

/**
 * Answers that are the provider's own trouble although permanent: its credentials refused
 * (HTTP 401/403; Twilio 20003 authentication, 20005 account not active). Another provider
 * may well take the text.
 */
const PROVIDER_REFUSALS = new Set(['HTTP_401', 'HTTP_403', 'TWILIO_20003', 'TWILIO_20005'])

/**
 * One text through the first provider that takes it: a retryable failure (unreachable, a
 * timeout, 5xx, 429) or a refusal of the provider's credentials moves on to the next; a
 * refusal of the text itself (an invalid number) is final. The outcome names every provider
 * tried when more than one was.
 */
async function sendWithFallback(
  providers: readonly NamedProvider[],
  sms: Parameters<SmsProvider['send']>[0],
): Promise<{ outcome: DeliveryOutcome; provider: string }> {
  const failures: string[] = []
  for (const [i, p] of providers.entries()) {
    const outcome = await p.provider.send(sms)
    if (outcome.status === 'delivered') return { outcome, provider: p.name }
    const providerTrouble = outcome.status === 'retryable' || PROVIDER_REFUSALS.has(outcome.code ?? '')
    if (providerTrouble && i < providers.length - 1 && !sms.signal.aborted) {
      failures.push(`${p.name}: ${outcome.error}`)
      continue
    }
    const error =
      failures.length > 0 ? [...failures, `${p.name}: ${outcome.error}`].join('; ') : outcome.error
    return { outcome: { ...outcome, error }, provider: p.name }
  }
  throw new Error('unreachable: the last provider always answers')
}

function checkRecipients(recipients: readonly string[]): DeliveryOutcome | null {
  if (recipients.length === 0) {
    return { status: 'permanent', code: 'NO_RECIPIENTS', error: 'sms needs recipient phone numbers' }
  }
  const bad = recipients.findIndex((r) => !e164Schema.safeParse(r).success)
  if (bad === -1) return null
  return { status: 'permanent', code: 'INVALID_RECIPIENT', error: `recipients.${bad} is not an E.164 number` }
}

/** The text to send: the payload's own (rendered when it carries data), else the channel's template. */
function textOf(message: OutboxMessage, config: SmsConfig): string | DeliveryOutcome {
  const payload = smsPayloadSchema.safeParse(message.payload)
  if (!payload.success) {
    const where = payload.error.issues.map((i) => `payload.${i.path.join('.')}: ${i.code}`).join('; ')
    return { status: 'permanent', code: 'INVALID_PAYLOAD', error: where }
  }
  let text: string | undefined
  try {
    const { data } = payload.data
    text =
      payload.data.text !== undefined
        ? data
          ? renderTemplate(payload.data.text, data, 'text')
          : payload.data.text
        : config.template !== undefined
          ? renderTemplate(config.template, data ?? {}, 'text')
          : undefined
  } catch (e) {
    if (e instanceof TemplateError) return { status: 'permanent', code: 'TEMPLATE_ERROR', error: e.message }
    throw e
  }
  if (!text) return { status: 'permanent', code: 'EMPTY_TEXT', error: 'no text in payload or template' }
  if (text.length > 1600)
    return { status: 'permanent', code: 'TEXT_TOO_LONG', error: 'text exceeds 1600 characters' }
  return text
}

function combine(outcomes: readonly DeliveryOutcome[], redact: Redactor): DeliveryOutcome {
  if (outcomes.length === 1) {
    const only = outcomes[0]!
    return only.status === 'delivered' ? only : { ...only, error: redact(only.error) }
  }
  const failed = outcomes.flatMap((o, i) => (o.status === 'delivered' ? [] : [{ i, o }]))
  if (failed.length === 0) {
    const ids = outcomes.map((o) => (o.status === 'delivered' ? (o.providerMessageId ?? '') : ''))
    return ids.every((id) => id === '')
      ? { status: 'delivered' }
      : { status: 'delivered', providerMessageId: ids.join(',') }
  }
  const error = redact(
    `${outcomes.length - failed.length} of ${outcomes.length} sent; ${failed
      .map(({ i, o }) => `recipients.${i}: ${'error' in o ? o.error : ''}`)
      .join('; ')}`,
  )
  const retryable = failed.filter(({ o }) => o.status === 'retryable')
  if (retryable.length > 0) {
    const waits = retryable.map(({ o }) => (o.status === 'retryable' ? o.retryAfterMs : undefined))
    const known = waits.filter((w): w is number => w !== undefined)
    const first = retryable[0]!.o
    return {
      status: 'retryable',
      error,
      ...(first.status === 'retryable' && first.code ? { code: first.code } : {}),
      ...(known.length > 0 ? { retryAfterMs: Math.max(...known) } : {}),
    }
  }
  const first = failed[0]!.o
  return {
    status: 'permanent',
    error,
    ...(first.status === 'permanent' && first.code ? { code: first.code } : {}),
  }
}
