import type { ConnectionOptions } from 'node:tls'
import nodemailer from 'nodemailer'
import { z } from 'zod'
import {
  BUILTIN_CHANNEL_TYPE_DEFINITIONS,
  type ChannelTypeDefinition,
  type emailConfigSchema,
} from '../../../domain/channel.js'
import type { OutboxMessage } from '../../../domain/outbox-message.js'
import { composeRedactors, createRedactor, type Redactor } from '../../../domain/redaction.js'
import type { DeliveryOutcome, Transport } from '../../../ports/transport.js'
import { describe, outcomeForError } from '../shared/outcome.js'
import { createSsrfGuard, type SsrfGuard, type SsrfPolicy } from '../shared/ssrf-guard.js'
import { renderTemplate, TemplateError } from '../shared/template.js'

/** The built-in email type (the very object the registry holds); `smtp.auth.pass` is sealed at rest. */
export const emailChannelType: ChannelTypeDefinition = BUILTIN_CHANNEL_TYPE_DEFINITIONS.find(
  (d) => d.type === 'email',
)!

/** An SMTP relay the host runs or rents: trusted, so not put through the SSRF guard. */
export interface SmtpRelay {
  readonly host: string
  readonly port: number
  readonly secure?: boolean
  readonly requireTls?: boolean
  readonly auth?: { readonly user: string; readonly pass: string }
}

/** An email channel's config as the transport receives it: opened and parsed. */
export type EmailConfig = z.output<typeof emailConfigSchema>

export interface EmailTransportOptions {
  /** Used by channels that configure no `smtp` of their own. */
  readonly relay?: SmtpRelay
  /** For relays a channel configures: private, loopback and metadata addresses are refused unless allowed here. */
  readonly ssrf?: SsrfPolicy
  /** TLS settings (a private CA, say) for every relay. Certificates are verified unless this says otherwise. */
  readonly tls?: ConnectionOptions
  /** Name sent in EHLO. */
  readonly clientName?: string
  /** Per-attempt limit when the channel sets none. Default 30 s. */
  readonly defaultTimeoutMs?: number
}

/** What a message payload may carry; unknown fields are ignored. */
export const emailPayloadSchema = z.looseObject({
  subject: z.string().max(998).optional(),
  text: z.string().max(1_000_000).optional(),
  html: z.string().max(2_000_000).optional(),
  /** Values for `{{var}}` in the payload's own strings (rendered only when present) and the channel template. */
  data: z.record(z.string(), z.unknown()).optional(),
})

const emailAddress = z.email().max(320)

interface Rendered {
  readonly subject: string
  readonly text?: string
  readonly html?: string
}

function render(
  payload: z.output<typeof emailPayloadSchema>,
  template: EmailConfig['template'],
): Rendered | DeliveryOutcome {
  const data = payload.data ?? {}
  const own = (s: string | undefined, mode: 'text' | 'html') =>
    s === undefined ? undefined : payload.data ? renderTemplate(s, data, mode) : s
  const fromTemplate = (s: string | undefined, mode: 'text' | 'html') =>
    s === undefined ? undefined : renderTemplate(s, data, mode)
  try {
    // The payload's bodies win as a pair: a payload with text only does not borrow the template's html.
    const payloadHasBody = payload.text !== undefined || payload.html !== undefined
    const subject = own(payload.subject, 'text') ?? fromTemplate(template?.subject, 'text')
    const text = payloadHasBody ? own(payload.text, 'text') : fromTemplate(template?.text, 'text')
    const html = payloadHasBody ? own(payload.html, 'html') : fromTemplate(template?.html, 'html')
    if (subject === undefined)
      return { status: 'permanent', code: 'MISSING_SUBJECT', error: 'no subject in payload or template' }
    if (text === undefined && html === undefined) {
      return { status: 'permanent', code: 'EMPTY_BODY', error: 'no text or html in payload or template' }
    }
    // A subject is one header line: folded newlines would be a header injection attempt or an accident.
    return { subject: subject.replace(/[\r\n]+/g, ' '), text, html }
  } catch (e) {
    if (e instanceof TemplateError) return { status: 'permanent', code: 'TEMPLATE_ERROR', error: e.message }
    throw e
  }
}

/** SMTP replies: 4xx is a transient refusal, 5xx a permanent one (RFC 5321 §4.2.1). */
function outcomeForSmtpError(e: unknown, redact: Redactor): DeliveryOutcome {
  const err = e as { responseCode?: unknown; code?: unknown; message?: unknown; response?: unknown }
  const text = describe(`${String(err?.message ?? e)}`, redact)
  if (typeof err?.responseCode === 'number') {
    const code = `SMTP_${err.responseCode}`
    if (err.responseCode >= 400 && err.responseCode < 500) return { status: 'retryable', code, error: text }
    if (err.responseCode >= 500) return { status: 'permanent', code, error: text }
  }
  return outcomeForError(e, redact)
}

/**
 * Whether a failure was the relay's refusal of this message itself: a 5xx reply to its
 * sender, recipients or content (RFC 5321 §4.2.1). Another relay would refuse it too, so it
 * is final; anything else (unreachable, a timeout, a 4xx, a refused login, a refused TLS) is
 * the relay's own trouble, and the next relay is tried.
 */
function refusedTheMessage(e: unknown): boolean {
  const err = e as { responseCode?: unknown; code?: unknown; command?: unknown } | null
  if (typeof err?.responseCode !== 'number' || err.responseCode < 500) return false
  if (err.code === 'EAUTH' || err.code === 'ETLS') return false
  return !/^(AUTH|EHLO|HELO|STARTTLS)/i.test(String(err.command ?? ''))
}

const withDeadline = <T>(
  work: Promise<T>,
  ms: number,
  signal: AbortSignal,
  onGiveUp: () => void,
): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const fail = (code: string, message: string) => {
      cleanup()
      onGiveUp()
      reject(Object.assign(new Error(message), { code }))
    }
    const timer = setTimeout(() => fail('TIMEOUT', `no SMTP completion within ${ms} ms`), ms)
    const onAbort = () => fail('ABORTED', 'attempt aborted')
    const cleanup = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
    }
    if (signal.aborted) return onAbort()
    signal.addEventListener('abort', onAbort, { once: true })
    work.then(
      (v) => {
        cleanup()
        resolve(v)
      },
      (e) => {
        cleanup()
        reject(e)
      },
    )
  })

/** Who may see which forms of the relays' credentials: the channel's (already in `redact`) and the host's. */
function relayRedactor(
  channel: Redactor,
  relays: readonly SmtpRelay[],
  hostRelay: SmtpRelay | undefined,
): Redactor {
  const extra = hostRelay?.auth ? [hostRelay.auth.pass] : []
  // AUTH PLAIN and LOGIN send the pair in these forms (base64 of them is covered by the redactor).
  for (const relay of relays)
    if (relay.auth)
      extra.push(`\u0000${relay.auth.user}\u0000${relay.auth.pass}`, `${relay.auth.user}:${relay.auth.pass}`)
  return extra.length === 0 ? channel : composeRedactors(channel, createRedactor(extra))
}

/** One relay a delivery may go through, with the name its attempts record. */
interface Candidate {
  readonly relay: SmtpRelay
  readonly name: string
  /** A relay the channel names goes through the SSRF guard; the host's own is trusted. */
  readonly channelNamesIt: boolean
}

const relayName = (r: SmtpRelay & { name?: string }) => r.name ?? `smtp:${r.host}:${r.port}`

/** The channel's relay (or the host's), then its fallbacks, in order. */
function candidates(config: EmailConfig, hostRelay: SmtpRelay | undefined): Candidate[] {
  const first: Candidate[] = config.smtp
    ? [{ relay: config.smtp, name: relayName(config.smtp), channelNamesIt: true }]
    : hostRelay
      ? [{ relay: hostRelay, name: 'host-relay', channelNamesIt: false }]
      : []
  const rest = (config.fallbacks ?? []).map((r) => ({ relay: r, name: relayName(r), channelNamesIt: true }))
  return [...first, ...rest]
}

function checkRecipients(recipients: readonly string[]): DeliveryOutcome | null {
  if (recipients.length === 0) {
    return { status: 'permanent', code: 'NO_RECIPIENTS', error: 'email needs recipient addresses' }
  }
  const bad = recipients.findIndex((r) => !emailAddress.safeParse(r).success)
  if (bad === -1) return null
  return {
    status: 'permanent',
    code: 'INVALID_RECIPIENT',
    error: `recipients.${bad} is not an email address`,
  }
}

function renderPayload(message: OutboxMessage, config: EmailConfig): Rendered | DeliveryOutcome {
  const payload = emailPayloadSchema.safeParse(message.payload)
  if (!payload.success) {
    const where = payload.error.issues.map((i) => `payload.${i.path.join('.')}: ${i.code}`).join('; ')
    return { status: 'permanent', code: 'INVALID_PAYLOAD', error: where }
  }
  return render(payload.data, config.template)
}

/**
 * Where to dial: a relay the channel names goes through the SSRF guard, and the checked
 * address is dialled with the name kept for TLS (SNI and certificate), so nodemailer
 * resolves nothing itself. The host's own relay is trusted as it is.
 */
async function dialTarget(
  guard: SsrfGuard,
  relay: SmtpRelay,
  channelNamesIt: boolean,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<{ host: string; servername?: string }> {
  if (!channelNamesIt) return { host: relay.host }
  const [first] = await withDeadline(guard.check(relay.host), timeoutMs, signal, () => {})
  return { host: first!.address, servername: relay.host }
}

interface Mail {
  readonly message: OutboxMessage
  readonly config: EmailConfig
  readonly relay: SmtpRelay
  readonly target: { host: string; servername?: string }
  readonly rendered: Rendered
  readonly timeoutMs: number
  readonly signal: AbortSignal
}

/** One SMTP transaction: every recipient at once (more than one in Bcc), a Message-ID stable across attempts. */
async function sendMail(mail: Mail, options: EmailTransportOptions): Promise<{ messageId?: unknown }> {
  const { relay, config, rendered, message } = mail
  const recipients = message.recipients ?? []
  const transporter = nodemailer.createTransport({
    host: mail.target.host,
    port: relay.port,
    secure: relay.secure ?? false,
    requireTLS: relay.requireTls ?? false,
    ...(relay.auth ? { auth: { user: relay.auth.user, pass: relay.auth.pass } } : {}),
    ...(options.clientName ? { name: options.clientName } : {}),
    tls: { ...options.tls, ...(mail.target.servername ? { servername: mail.target.servername } : {}) },
    connectionTimeout: mail.timeoutMs,
    greetingTimeout: mail.timeoutMs,
    socketTimeout: mail.timeoutMs,
    disableFileAccess: true,
    disableUrlAccess: true,
  })
  const fromDomain = config.from.slice(config.from.lastIndexOf('@') + 1)
  try {
    return await withDeadline(
      transporter.sendMail({
        from: config.fromName ? { name: config.fromName, address: config.from } : config.from,
        ...(recipients.length === 1 ? { to: recipients[0] } : { bcc: [...recipients] }),
        ...(config.replyTo ? { replyTo: config.replyTo } : {}),
        subject: rendered.subject,
        ...(rendered.text !== undefined ? { text: rendered.text } : {}),
        ...(rendered.html !== undefined ? { html: rendered.html } : {}),
        messageId: `<${message.id}@${fromDomain}>`,
      }),
      mail.timeoutMs,
      mail.signal,
      () => transporter.close(),
    )
  } finally {
    transporter.close()
  }
}

/**
 * Sends the message over SMTP with nodemailer: one transaction to every recipient (more
 * than one go in Bcc, so they do not see each other). The Message-ID is derived from the
 * outbox message id, the same on every attempt, so a receiving system can drop a retry's
 * duplicate. Recipients must be email addresses. The channel's SMTP password arrives
 * opened (by the module, once).
 *
 * @example
 * const email = createEmailTransport({ relay: { host: 'smtp.internal', port: 587, auth: { user, pass } } })
 * // channel config: { from: 'alerts@acme.test', template: { subject: 'Hi {{name}}', text: 'Hello {{name}}' } }
 * // payload: { data: { name: 'Ada' } }, recipients: ['ada@acme.test']
 */
export function createEmailTransport(options: EmailTransportOptions = {}): Transport<EmailConfig> {
  const guard = createSsrfGuard(options.ssrf)
  const defaultTimeoutMs = options.defaultTimeoutMs ?? 30_000

  return {
    channelType: emailChannelType,
    async send(message, channel, context) {
      const { config } = channel
      const relays = candidates(config, options.relay)
      if (relays.length === 0)
        return {
          status: 'permanent',
          code: 'NO_RELAY',
          error: 'channel has no smtp and the transport no relay',
        }
      const redact = relayRedactor(
        context.redact,
        relays.map((c) => c.relay),
        options.relay,
      )
      const refused = checkRecipients(message.recipients ?? [])
      if (refused) return refused
      const rendered = renderPayload(message, config)
      if ('status' in rendered) return rendered
      const timeoutMs = config.timeoutMs ?? defaultTimeoutMs
      const failures: string[] = []
      for (const [i, candidate] of relays.entries()) {
        const mail = { message, config, rendered, timeoutMs, signal: context.signal }
        const tried = await sendThrough(guard, candidate, mail, options, redact)
        if (tried.outcome.status === 'delivered') return { ...tried.outcome, provider: candidate.name }
        const last = i === relays.length - 1 || !tried.fallThrough || context.signal.aborted
        if (!last) {
          failures.push(`${candidate.name}: ${tried.outcome.error}`)
          continue
        }
        // The error names every relay tried, so the attempt shows why each was passed over.
        const error = [...failures, `${candidate.name}: ${tried.outcome.error}`].join('; ')
        return {
          ...tried.outcome,
          error: failures.length > 0 ? error : tried.outcome.error,
          provider: candidate.name,
        }
      }
      throw new Error('unreachable: the last relay always answers')
    },
  }
}

/**
 * One relay's try: the outcome, and whether the next relay should be tried after it (the
 * relay failed to take the message, rather than refusing the message itself).
 */
async function sendThrough(
  guard: SsrfGuard,
  candidate: Candidate,
  mail: Omit<Mail, 'relay' | 'target'>,
  options: EmailTransportOptions,
  redact: Redactor,
): Promise<{ outcome: DeliveryOutcome; fallThrough: boolean }> {
  let target: { host: string; servername?: string }
  try {
    target = await dialTarget(guard, candidate.relay, candidate.channelNamesIt, mail.timeoutMs, mail.signal)
  } catch (e) {
    return { outcome: outcomeForError(e, redact), fallThrough: true }
  }
  try {
    const info = await sendMail({ ...mail, relay: candidate.relay, target }, options)
    return {
      outcome: { status: 'delivered', providerMessageId: String(info.messageId ?? mail.message.id) },
      fallThrough: false,
    }
  } catch (e) {
    return { outcome: outcomeForSmtpError(e, redact), fallThrough: !refusedTheMessage(e) }
  }
}
