import { randomUUID } from 'node:crypto'
import type { MessagingClient } from '../../client/index.js'
import type { NotificationStatus } from '../../domain/notification.js'
import type { Principal } from '../../domain/tenant-scope.js'
import type { SmsProvider, SmtpSink } from './receivers.js'

/** One line of the demo's checks. */
export interface NotifyCheck {
  readonly name: string
  readonly ok: boolean
  readonly detail: string
}

export interface NotifyDemoInput {
  readonly infrastructureId: string
  /** The tenant's admin, through HTTP. */
  readonly admin: MessagingClient
  /** A client over HTTP for a bearer token. */
  readonly client: (token: string) => MessagingClient
  /** Registers an identity with the demo's server, returning its token. */
  readonly issue: (principal: Principal) => { token: string }
  readonly smtp: SmtpSink
  readonly sms: SmsProvider
  readonly timeoutMs: number
}

export interface NotifyDemoResult {
  /** Per recipient and channel: who, locale, channel type, state, what they got (or why not). */
  readonly rows: (string | number)[][]
  readonly checks: NotifyCheck[]
}

interface Person {
  readonly name: string
  readonly locale: string
  readonly phone: string | null
  /** Opts out of this channel type for the category themselves. */
  readonly optsOut?: string
  userId: string
  token: string
  email: string
}

const INVOICE = 'INV-20931'
const DATA = { invoice: INVOICE, amount: 'EUR 1,250.00' }

/** The category's templates: English (the tenant's default) and German. */
const TEMPLATES = {
  en: {
    email: {
      subject: 'Payment received for invoice {{ data.invoice }}',
      text: 'Hello {{ recipient.properties.firstName }}, we received {{ data.amount }}. Thank you!',
    },
    sms: { text: 'Acme: payment of {{ data.amount }} for {{ data.invoice }} received.' },
    in_app: { title: 'Invoice {{ data.invoice }} paid', body: '{{ data.amount }} received' },
  },
  de: {
    email: {
      subject: 'Zahlung für Rechnung {{ data.invoice }} erhalten',
      text: 'Hallo {{ recipient.properties.firstName }}, wir haben {{ data.amount }} erhalten. Danke!',
    },
    sms: { text: 'Acme: Zahlung von {{ data.amount }} für {{ data.invoice }} erhalten.' },
    in_app: { title: 'Rechnung {{ data.invoice }} bezahlt', body: '{{ data.amount }} erhalten' },
  },
} as const

/**
 * One event to people, by their preferences: a category served by in-app, email and SMS,
 * templates in English and German, four recipients of one tenant (two locales with a
 * fallback from region to language, one without a phone number, one who opted out of
 * email), one notify over HTTP, the worker already running delivers, and a report per
 * recipient and channel from the notification's status.
 */
export async function runNotifyDemo(input: NotifyDemoInput): Promise<NotifyDemoResult> {
  const { admin } = input
  await admin.setTemplateSettings({ defaultLocale: 'en' })
  await admin.createCategory({
    key: 'invoice.paid',
    name: 'Invoice paid',
    channels: {
      in_app: { channelKey: 'alerts' },
      email: { channelKey: 'billing-email' },
      sms: { channelKey: 'sms-otp' },
    },
  })
  for (const [locale, byType] of Object.entries(TEMPLATES)) {
    for (const [channelType, content] of Object.entries(byType)) {
      await admin.createTemplate({
        categoryKey: 'invoice.paid',
        locale,
        channelType: channelType as 'email',
        content: content as { subject: string; text: string },
      })
    }
  }

  const people: Person[] = [
    { name: 'Ada', locale: 'en-US', phone: '+15550120001' },
    { name: 'Bruno', locale: 'de-DE', phone: '+4915112340002' },
    { name: 'Chen', locale: 'en-GB', phone: null },
    { name: 'Dora', locale: 'de', phone: '+4915112340004', optsOut: 'email' },
  ].map((p) => ({ ...p, userId: '', token: '', email: '' }))
  for (const p of people) {
    const { principal, token } = registered(input, p)
    p.userId = principal.userId
    p.token = token
    p.email = `${p.name.toLowerCase()}@customer.test`
    await admin.upsertProfile({
      userId: p.userId,
      email: p.email,
      phone: p.phone,
      locale: p.locale,
      properties: { firstName: p.name },
    })
    if (p.optsOut) {
      // The member's own call: their choice outranks the tenant's and the category's defaults.
      await input
        .client(p.token)
        .setPreference({ categoryKey: 'invoice.paid', channelType: p.optsOut, enabled: false })
    }
  }

  const notifier = input.issue({
    userId: randomUUID(),
    role: 'service',
    grants: [{ infrastructureId: input.infrastructureId, businessId: null }],
  })
  const { notification } = await input.client(notifier.token).notify({
    category: 'invoice.paid',
    to: { users: people.map((p) => p.userId) },
    data: DATA,
    idempotencyKey: `${INVOICE}-paid`,
  })
  const status = await settled(admin, notification.id, input.timeoutMs)
  return report(input, people, status)
}

function registered(input: NotifyDemoInput, p: Person) {
  const principal: Principal = {
    userId: randomUUID(),
    role: 'member',
    grants: [{ infrastructureId: input.infrastructureId, businessId: null }],
  }
  return { principal, token: input.issue(principal).token, name: p.name }
}

/** Polls the notification's status until nothing of it is pending, or the time is up. */
async function settled(admin: MessagingClient, id: string, timeoutMs: number): Promise<NotificationStatus> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const status = await admin.getNotification(id)
    if (status.counts.pending === 0 || Date.now() > deadline) return status
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** What a recipient got on a channel type, as its receiver or inbox saw it. */
async function received(input: NotifyDemoInput, p: Person, channelType: string): Promise<string | null> {
  if (channelType === 'email')
    return decodeMimeWords(input.smtp.received.find((m) => m.rcptTo.includes(p.email))?.subject ?? '') || null
  if (channelType === 'sms')
    return [...input.sms.accepted.values()].find((s) => s.to === p.phone)?.text ?? null
  const inbox = await input.client(p.token).listInbox()
  const entry = inbox.find((e) => (e.payload as { title?: string }).title?.includes(INVOICE))
  return (entry?.payload as { title?: string } | undefined)?.title ?? null
}

async function report(
  input: NotifyDemoInput,
  people: readonly Person[],
  status: NotificationStatus,
): Promise<NotifyDemoResult> {
  const rows: (string | number)[][] = []
  let renderedOk = true
  for (const p of people) {
    const language = p.locale.slice(0, 2) as 'en' | 'de'
    for (const d of status.deliveries.filter((x) => x.userId === p.userId)) {
      const got = d.state === 'delivered' ? await received(input, p, d.channelType) : null
      const expected = expectedText(language, d.channelType, p)
      if (d.state === 'delivered' && got !== expected) renderedOk = false
      rows.push([p.name, p.locale, d.channelType, d.state, d.reason ?? got ?? d.lastError ?? '-'])
    }
  }
  const state = (name: string, type: string) =>
    status.deliveries.find(
      (d) => d.userId === people.find((p) => p.name === name)!.userId && d.channelType === type,
    )
  const c = status.counts
  return {
    rows,
    checks: [
      {
        name: 'notify: one message per recipient and channel their preferences and profile allow',
        ok:
          c.delivered === 10 &&
          c.skipped === 2 &&
          c.pending + c.failed + c.dead === 0 &&
          state('Chen', 'sms')?.reason === 'no_address' &&
          state('Dora', 'email')?.reason === 'opted_out',
        detail: `${c.delivered} delivered, ${c.skipped} skipped (no phone number, opted out), ${c.pending} pending, ${c.failed + c.dead} failed`,
      },
      {
        name: "notify: each rendered in the recipient's locale (region, then language, then the tenant's default)",
        ok: renderedOk,
        detail: renderedOk
          ? 'in-app, email and SMS in English and German'
          : 'a delivery did not match its template',
      },
    ],
  }
}

/** A header as read (RFC 2047 encoded words, as mailers write non-ASCII subjects), decoded. */
function decodeMimeWords(header: string): string {
  return header
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g, (_, _charset: string, enc: string, text: string) => {
      if (enc.toUpperCase() === 'B') return Buffer.from(text, 'base64').toString('utf8')
      const bytes = text
        .replace(/%/g, '%25')
        .replace(/_/g, ' ')
        .replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => `%${h}`)
      return decodeURIComponent(bytes)
    })
}

/** The text a receiver should show: the email's subject, the SMS text, the in-app title. */
function expectedText(language: 'en' | 'de', channelType: string, p: Person): string {
  const fill = (s: string) =>
    s
      .replace('{{ data.invoice }}', DATA.invoice)
      .replace('{{ data.amount }}', DATA.amount)
      .replace('{{ recipient.properties.firstName }}', p.name)
  const t = TEMPLATES[language]
  if (channelType === 'email') return fill(t.email.subject)
  if (channelType === 'sms') return fill(t.sms.text)
  return fill(t.in_app.title)
}
