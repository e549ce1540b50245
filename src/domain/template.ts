/**
 * Templates of notifications: per infrastructure x category key x channel type x locale, in
 * Liquid. Every save appends a version; the newest is current. A message records the id of
 * the version current when it was enqueued and renders that one, whatever is saved later.
 */

/** The channel types a template can be written for, each with its own fields. */
export const TEMPLATE_CHANNEL_TYPES = ['email', 'sms', 'in_app', 'webhook'] as const
export type TemplateChannelType = (typeof TEMPLATE_CHANNEL_TYPES)[number]

/** How one field of a template renders. */
export interface TemplateField {
  readonly name: string
  /** `html`: every `{{ output }}` is HTML-escaped (an explicit `| raw` opts out). */
  readonly mode: 'text' | 'html'
  readonly required: boolean
  /** Characters of Liquid source. */
  readonly maxSource: number
  /** Characters of rendered output; more is a render error. */
  readonly maxRendered: number
}

const field = (
  name: string,
  mode: 'text' | 'html',
  required: boolean,
  maxSource: number,
  maxRendered: number,
): TemplateField => ({ name, mode, required, maxSource, maxRendered })

/**
 * The fields of each channel type's template. The rendered limits are what the transports
 * accept: an email subject is one header line of at most 998 octets (RFC 5322 §2.1.1), an
 * SMS at most 1,600 characters (ten concatenated segments, the SMS transport's cap), the
 * email bodies what `emailPayloadSchema` admits.
 */
export const TEMPLATE_FIELDS: Readonly<Record<TemplateChannelType, readonly TemplateField[]>> = {
  email: [
    field('subject', 'text', true, 2_000, 998),
    field('html', 'html', false, 256 * 1024, 2_000_000),
    field('text', 'text', false, 64 * 1024, 1_000_000),
  ],
  sms: [field('text', 'text', true, 4_000, 1_600)],
  in_app: [
    field('title', 'text', true, 1_000, 500),
    field('body', 'text', false, 16 * 1024, 16 * 1024),
    field('actionUrl', 'text', false, 2_000, 2_048),
  ],
  // The rendered body must be JSON: it becomes the webhook's payload.
  webhook: [field('body', 'text', true, 64 * 1024, 64 * 1024)],
}

/** One template's Liquid sources, by field name (`subject`, `html`, `text`, `title`, ...). */
export type TemplateContent = Readonly<Record<string, string>>

/** One saved version of a template. Immutable: editing appends the next version. */
export interface TemplateVersion {
  /** The id of this version: what an outbox message records. */
  readonly id: string
  readonly infrastructureId: string
  readonly categoryKey: string
  readonly channelType: TemplateChannelType
  /** A canonical BCP 47 tag (`en`, `de-CH`, `zh-Hant-TW`). */
  readonly locale: string
  /** 1 for the first save, then +1 per edit. */
  readonly version: number
  readonly content: TemplateContent
  readonly createdBy: string
  readonly createdAt: Date
}

/** A tenant's template settings: the locale every lookup falls back to last. */
export interface TemplateSettings {
  readonly infrastructureId: string
  readonly defaultLocale: string
  /** null: never saved, the module's default applies. */
  readonly updatedBy: string | null
  readonly updatedAt: Date | null
}

/** The default locale of a tenant that never set one. */
export const DEFAULT_TEMPLATE_LOCALE = 'en'

/**
 * The canonical form of a BCP 47 tag (`en-us` -> `en-US`), or null when it is not one.
 * Canonical tags are what templates are keyed by, so `de-ch` and `de-CH` name one template.
 */
export function canonicalLocale(tag: string): string | null {
  if (tag.length === 0 || tag.length > 35) return null
  try {
    const [canonical] = Intl.getCanonicalLocales(tag)
    return canonical ?? null
  } catch {
    return null
  }
}

/**
 * The tags a lookup tries, in order: the recipient's locale, then each shorter prefix of its
 * language-script-region part (`zh-Hant-TW`, `zh-Hant`, `zh`; extension and private-use
 * subtags such as `-u-co-phonebk` only match exactly), then the tenant's default and its
 * prefixes. Duplicates are dropped; a malformed locale is skipped.
 *
 * @example
 * localeFallbacks('de-CH', 'en') // ['de-CH', 'de', 'en']
 */
export function localeFallbacks(recipientLocale: string | null | undefined, defaultLocale: string): string[] {
  const out: string[] = []
  const add = (tag: string | null | undefined) => {
    const canonical = tag ? canonicalLocale(tag) : null
    if (canonical === null) return
    if (!out.includes(canonical)) out.push(canonical)
    const parts = canonical.split('-')
    const singleton = parts.findIndex((p, i) => i > 0 && p.length === 1)
    if (singleton !== -1) parts.length = singleton
    while (parts.length > 0) {
      const candidate = parts.join('-')
      if (!out.includes(candidate)) out.push(candidate)
      parts.pop()
    }
  }
  add(recipientLocale)
  add(defaultLocale)
  return out
}

/**
 * The template one message renders: among the current versions of one category (one per
 * channel type and locale), the one of `channelType` whose locale comes first in
 * `localeFallbacks(recipientLocale, defaultLocale)`; null when none fits.
 */
export function selectTemplate(
  current: readonly TemplateVersion[],
  channelType: string,
  recipientLocale: string | null | undefined,
  defaultLocale: string,
): TemplateVersion | null {
  const byLocale = new Map<string, TemplateVersion>()
  for (const t of current) if (t.channelType === channelType) byLocale.set(t.locale, t)
  if (byLocale.size === 0) return null
  for (const tag of localeFallbacks(recipientLocale, defaultLocale)) {
    const hit = byLocale.get(tag)
    if (hit) return hit
  }
  return null
}

/** What a template renders with. */
export interface RenderContext {
  /** The recipient's profile: user id, contact points, locale, time zone, custom properties. */
  readonly recipient: Readonly<Record<string, unknown>>
  /** The notification's own data. */
  readonly data: Readonly<Record<string, unknown>>
  /** The tenant: its ids, its default locale and the locale the template was chosen in. */
  readonly tenant: Readonly<Record<string, unknown>>
}

/** One field that did not parse or render: the field, the rule it broke and the engine's words. */
export interface TemplateProblem {
  readonly field: string
  /** `template_syntax`, `template_render`, `template_limit`, `template_output`, `template_missing`. */
  readonly rule: TemplateProblemRule
  readonly message: string
}

export type TemplateProblemRule =
  | 'template_syntax'
  | 'template_render'
  | 'template_limit'
  | 'template_output'
  | 'template_missing'

/** A template rendered: the transport's payload, by channel type. */
export type RenderedTemplate =
  | {
      readonly channelType: 'email'
      readonly payload: { readonly subject: string; readonly html?: string; readonly text?: string }
    }
  | { readonly channelType: 'sms'; readonly payload: { readonly text: string } }
  | {
      readonly channelType: 'in_app'
      readonly payload: {
        readonly title: string
        readonly body?: string
        readonly actionUrl?: string
        readonly data: Readonly<Record<string, unknown>>
      }
    }
  | { readonly channelType: 'webhook'; readonly payload: unknown }

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g

/**
 * Checks what the engine produced for each field against the channel type's rules and
 * builds the transport's payload: an email subject is one line; an in-app action URL is
 * http(s) or a path on the host's own site (never `javascript:`); a webhook body is JSON.
 * Pure: the engine has already run.
 */
export function assembleRendered(
  channelType: TemplateChannelType,
  rendered: Readonly<Record<string, string>>,
  data: Readonly<Record<string, unknown>>,
): { ok: true; value: RenderedTemplate } | { ok: false; problem: TemplateProblem } {
  const fail = (name: string, message: string) => ({
    ok: false as const,
    problem: { field: name, rule: 'template_output' as const, message },
  })
  for (const f of TEMPLATE_FIELDS[channelType]) {
    const out = rendered[f.name]
    if (out !== undefined && out.length > f.maxRendered)
      return fail(f.name, `renders to ${out.length} characters, more than ${f.maxRendered}`)
  }
  const opt = (name: string) => {
    const v = rendered[name]
    return v === undefined || v.trim() === '' ? undefined : v
  }
  switch (channelType) {
    case 'email': {
      // One header line: folded newlines would be a header injection attempt or an accident.
      const subject = (rendered.subject ?? '')
        .replace(/[\r\n]+/g, ' ')
        .replace(CONTROL, '')
        .trim()
      if (subject === '') return fail('subject', 'renders to an empty subject')
      const html = opt('html')
      const text = opt('text')
      if (html === undefined && text === undefined) return fail('html', 'renders to no html and no text')
      return {
        ok: true,
        value: {
          channelType,
          payload: { subject, ...(html !== undefined && { html }), ...(text !== undefined && { text }) },
        },
      }
    }
    case 'sms': {
      const text = (rendered.text ?? '').trim()
      if (text === '') return fail('text', 'renders to an empty text')
      return { ok: true, value: { channelType, payload: { text } } }
    }
    case 'in_app': {
      const title = (rendered.title ?? '').replace(/\s+/g, ' ').trim()
      if (title === '') return fail('title', 'renders to an empty title')
      const body = opt('body')
      const actionUrl = opt('actionUrl')?.trim()
      if (actionUrl !== undefined && !isSafeActionUrl(actionUrl))
        return fail('actionUrl', 'must render to an http(s) URL or a path starting with /')
      return {
        ok: true,
        value: {
          channelType,
          payload: {
            title,
            ...(body !== undefined && { body }),
            ...(actionUrl !== undefined && { actionUrl }),
            data,
          },
        },
      }
    }
    case 'webhook': {
      const body = rendered.body ?? ''
      try {
        return { ok: true, value: { channelType, payload: JSON.parse(body) as unknown } }
      } catch {
        return fail('body', 'must render to JSON (use the json filter for values: {{ data.x | json }})')
      }
    }
  }
}

/** http(s) with a host, or a path on the host's own site (`/invoices/42`, not `//evil.example`). */
export function isSafeActionUrl(url: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: a URL with a control character is refused
  if (/[\s\u0000-\u001f]/.test(url)) return false
  if (url.startsWith('/')) return !url.startsWith('//') && !url.startsWith('/\\')
  try {
    const u = new URL(url)
    return (u.protocol === 'https:' || u.protocol === 'http:') && u.hostname !== ''
  } catch {
    return false
  }
}
