import { z } from 'zod'
import { type CategoryDigest, categoryDigestSchema } from './category.js'
import { ValidationError } from './errors.js'
import { ORDERING_ON_DEAD } from './outbox-message.js'
import { parseInput } from './validation.js'

export const BUILTIN_CHANNEL_TYPES = ['in_app', 'email', 'sms', 'webhook'] as const
export type BuiltinChannelType = (typeof BUILTIN_CHANNEL_TYPES)[number]
/** A built-in type, or a custom one a transport registered. */
export type ChannelType = BuiltinChannelType | (string & {})

/** A tenant-scoped delivery channel. `config` holds provider settings; its secret fields never leave the module unredacted. */
export interface Channel {
  readonly id: string
  readonly infrastructureId: string
  readonly channelKey: string
  readonly type: ChannelType
  readonly name: string
  readonly config: Readonly<Record<string, unknown>>
  readonly enabled: boolean
  /** Delivery attempts before a retried message is dead; null takes the module default. */
  readonly maxAttempts: number | null
  readonly createdBy: string
  readonly createdAt: Date
  readonly updatedAt: Date
}

/** What a read may show of one secret of a channel's config: whether it is set, and under which keys it is sealed. */
export interface SecretState {
  /** The dotted path in the config (`smtp.auth.pass`, `secrets`). */
  readonly path: string
  readonly set: boolean
  /** Key ids of the sealed values (one per list entry); empty for a store that does not seal. */
  readonly keyIds: readonly string[]
}

/** A channel as every read returns it: secrets in `config` read as REDACTED, their state in `secrets`. */
export interface ChannelView extends Channel {
  readonly secrets: readonly SecretState[]
}

/** Lower-case slug, unique per infrastructure: `ops-alerts`, `billing_email`. */
export const channelKeySchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9]+(?:[-_][a-z0-9]+)*$/, {
    message: 'must be a lower-case slug (a-z, 0-9, single - or _ between)',
  })

export const channelTypeNameSchema = z
  .string()
  .min(1)
  .max(40)
  .regex(/^[a-z][a-z0-9_]*$/, { message: 'must be a lower-case identifier' })

/** What the module knows of a channel type: how to validate its config and which of its fields are secret. */
export interface ChannelTypeDefinition {
  readonly type: ChannelType
  readonly configSchema: z.ZodType<Record<string, unknown>>
  /** Dotted paths into the config that hold credentials (`auth.pass`). */
  readonly secretPaths: readonly string[]
  /**
   * Dotted paths of the URLs the type's transport calls (`url`): checked when a channel is
   * saved against the destination policy (no credentials in them, no refused literal
   * address, ports 80, 443 or allowed ones), as the SSRF guard checks them at delivery.
   */
  readonly destinationPaths?: readonly string[]
}

// A DNS name, an IPv4 literal, or a bracketed IPv6 literal (as URL.hostname spells it);
// whether the address may be reached is the transport's SSRF guard's call, not the schema's.
const urlHostname = new RegExp(`(?:${z.regexes.hostname.source})|(?:^\\[[0-9a-fA-F:.]+\\]$)`)
export const httpUrl = z.url({ protocol: /^https?$/, hostname: urlHostname }).max(2048)

export const inAppConfigSchema = z.strictObject({
  /** Days an inbox entry is kept; null keeps it forever. */
  retentionDays: z.number().int().min(1).max(3650).nullable().default(null),
})

/** Per-attempt limit; absent, the transport's default applies (nodemailer's own run to minutes). */
const timeoutMs = z.number().int().min(100).max(120_000).optional()

/** A `{{var}}` template of a message; the payload's own subject/text/html win over it. */
const emailTemplateSchema = z.strictObject({
  subject: z.string().min(1).max(998),
  text: z.string().max(100_000).optional(),
  html: z.string().max(500_000).optional(),
})

/** A name for one provider of a channel, recorded with each attempt that used it. */
const providerName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9]+(?:[-_.][a-z0-9]+)*$/, {
    message: 'must be a lower-case slug (a-z, 0-9, single - _ or .)',
  })

/** An SMTP relay of a channel. */
const smtpRelaySchema = z.strictObject({
  /** Names the relay in attempt records; default `smtp:<host>:<port>`. */
  name: providerName.optional(),
  host: z.string().min(1).max(255),
  port: z.number().int().min(1).max(65535),
  /** TLS from the first byte (port 465); otherwise STARTTLS when offered. */
  secure: z.boolean().default(false),
  /** Refuse to send unless STARTTLS succeeds. */
  requireTls: z.boolean().default(false),
  auth: z.strictObject({ user: z.string().min(1).max(255), pass: z.string().min(1).max(1024) }).optional(),
})

/**
 * At most 3 fallbacks: a delivery that finds its first relay down tries the next in the same
 * attempt, and four relays are already four connection timeouts inside one attempt's limit.
 */
const MAX_FALLBACKS = 3

export const emailConfigSchema = z.strictObject({
  from: z.email().max(320),
  /** Display name shown with `from`. */
  fromName: z.string().min(1).max(100).optional(),
  replyTo: z.email().max(320).optional(),
  /** The channel's own relay; without it the transport's host-configured relay is used. */
  smtp: smtpRelaySchema.optional(),
  /**
   * Relays tried in order, in the same attempt, when the one before fails to take the message
   * (unreachable, refused the login, answered 4xx); a refusal of the message itself (a 5xx
   * for its recipient or content) is final.
   */
  fallbacks: z.array(smtpRelaySchema).min(1).max(MAX_FALLBACKS).optional(),
  template: emailTemplateSchema.optional(),
  timeoutMs,
  /**
   * The Standard Webhooks secret (`whsec_<base64>`) the email service signs its delivery
   * receipts with (`POST /receipts/email/{infrastructureId}/{channelId}`); sealed at rest and
   * redacted like the relays' passwords. Absent: the channel takes no receipts.
   */
  receiptSecret: z
    .string()
    .regex(/^whsec_[A-Za-z0-9+/=]{8,}$/, { message: 'must be whsec_ followed by base64' })
    .max(1024)
    .optional(),
})

const e164 = z.string().regex(/^\+[1-9]\d{6,14}$/, { message: 'must be an E.164 number' })
const headerName = z.string().regex(/^[A-Za-z0-9-]{1,64}$/)

/** A generic JSON SMS API: POST `{ from, to, text }` with the key in a header. */
const smsHttpProviderSchema = z.strictObject({
  /** Names the provider in attempt records; default `provider:<url host>`. */
  name: providerName.optional(),
  url: httpUrl,
  apiKey: z.string().min(1).max(1024),
  apiKeyHeader: headerName.default('x-api-key'),
})

/** Twilio's Messages API (form-encoded POST, basic auth). */
const twilioSchema = z.strictObject({
  /** Names the provider in attempt records; default `twilio`. */
  name: providerName.optional(),
  accountSid: z.string().regex(/^AC[0-9a-fA-F]{32}$/, { message: 'must be an AC… account SID' }),
  authToken: z.string().min(1).max(1024),
  baseUrl: httpUrl.default('https://api.twilio.com'),
})

/** One fallback SMS provider: exactly one of the two kinds. */
const smsFallbackSchema = z
  .strictObject({ provider: smsHttpProviderSchema.optional(), twilio: twilioSchema.optional() })
  .refine((c) => Boolean(c.provider) !== Boolean(c.twilio), {
    message: 'set exactly one of provider or twilio',
    path: ['provider'],
  })

export const smsConfigSchema = z
  .strictObject({
    from: e164,
    provider: smsHttpProviderSchema.optional(),
    twilio: twilioSchema.optional(),
    /**
     * Providers tried in order, for the same recipient in the same attempt, when the one
     * before fails to take the message (unreachable, 5xx, 429, refused credentials); a
     * refusal of the message itself (an invalid number) is final.
     */
    fallbacks: z.array(smsFallbackSchema).min(1).max(MAX_FALLBACKS).optional(),
    /** `{{var}}` template of the text, used when the payload has no `text`. */
    template: z.string().min(1).max(1600).optional(),
    timeoutMs,
  })
  .refine((c) => !(c.provider && c.twilio), { message: 'set provider or twilio, not both', path: ['twilio'] })

// Set by the transport on every request; a channel may not override them.
const RESERVED_WEBHOOK_HEADERS = new Set([
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'content-type',
  'content-length',
  'transfer-encoding',
  'host',
  'connection',
])

export const webhookConfigSchema = z.strictObject({
  url: httpUrl,
  /** Standard Webhooks signing secret(s), `whsec_<base64>`; several while keys rotate. */
  secrets: z
    .array(z.string().regex(/^whsec_[A-Za-z0-9+/=]{8,}$/, { message: 'must be whsec_ followed by base64' }))
    .min(1)
    .max(5),
  headers: z
    .record(headerName, z.string().max(1024))
    .refine((h) => Object.keys(h).every((k) => !RESERVED_WEBHOOK_HEADERS.has(k.toLowerCase())), {
      message: 'may not set webhook-*, content-type, content-length, transfer-encoding, host or connection',
    })
    .optional(),
  timeoutMs: z.number().int().min(100).max(60_000).default(10_000),
})

export const BUILTIN_CHANNEL_TYPE_DEFINITIONS: readonly ChannelTypeDefinition[] = [
  { type: 'in_app', configSchema: inAppConfigSchema, secretPaths: [] },
  {
    type: 'email',
    configSchema: emailConfigSchema,
    secretPaths: ['smtp.auth.pass', 'fallbacks.*.auth.pass', 'receiptSecret'],
  },
  {
    type: 'sms',
    configSchema: smsConfigSchema,
    secretPaths: [
      'provider.apiKey',
      'twilio.authToken',
      'fallbacks.*.provider.apiKey',
      'fallbacks.*.twilio.authToken',
    ],
    destinationPaths: [
      'provider.url',
      'twilio.baseUrl',
      'fallbacks.*.provider.url',
      'fallbacks.*.twilio.baseUrl',
    ],
  },
  { type: 'webhook', configSchema: webhookConfigSchema, secretPaths: ['secrets'], destinationPaths: ['url'] },
]

/** Delivery throttling of one channel: a token bucket of `burst` tokens refilled at `perSecond`. */
export const rateLimitSchema = z.strictObject({
  perSecond: z.number().positive().max(100_000),
  burst: z.number().int().min(1).max(100_000).optional(),
})
export type RateLimit = z.infer<typeof rateLimitSchema>

/** `config.orderingOnDead` of any channel: `hold` (the default) or `skip` (ORDERING_ON_DEAD). */
export const orderingOnDeadSchema = z.enum(ORDERING_ON_DEAD)

/**
 * A channel's own circuit-breaker setting: `false` turns the breaker off for the channel; an
 * object overrides the worker's defaults field by field (see BreakerPolicy).
 */
export const breakerSettingSchema = z.union([
  z.literal(false),
  z.strictObject({
    failures: z.number().int().min(1).max(1000).optional(),
    windowMs: z.number().int().min(1000).max(86_400_000).optional(),
    coolDownMs: z.number().int().min(1000).max(86_400_000).optional(),
  }),
])
export type BreakerSetting = z.infer<typeof breakerSettingSchema>

/**
 * `config.digest` of any channel: plain enqueues on the channel to one destination (and one
 * value of `key` in the payload) collapse into one delivery, with a category digest's rules
 * and bounds (docs/notify.md, "Digests"); null or absent: each goes alone.
 */
export const channelDigestSchema = categoryDigestSchema.nullable()

/** A channel's digest of plain enqueues, or null (none, or a config a store wrote before it). */
export function channelDigestOf(channel: {
  readonly config: Readonly<Record<string, unknown>>
}): CategoryDigest | null {
  // Every enqueue asks (memory and SQLite, per message): a channel without one parses nothing.
  if (channel.config.digest === undefined || channel.config.digest === null) return null
  const parsed = categoryDigestSchema.safeParse(channel.config.digest)
  return parsed.success ? parsed.data : null
}

/** Fields every channel type's config may carry, read by the worker rather than the transport. */
const MODULE_FIELDS = ['rateLimit', 'breaker', 'orderingOnDead', 'digest'] as const

/** Shown in place of a secret in every read; sent back unchanged, it keeps the stored secret. */
export const REDACTED = '[redacted]'

/**
 * The channel types a Messaging instance accepts: the four built-ins plus any a host registers.
 *
 * @example
 * const types = new ChannelTypeRegistry([{ type: 'slack', configSchema: z.object({ webhookUrl: z.url() }), secretPaths: ['webhookUrl'] }])
 */
export class ChannelTypeRegistry {
  private readonly defs = new Map<string, ChannelTypeDefinition>()

  constructor(custom: readonly ChannelTypeDefinition[] = []) {
    for (const d of BUILTIN_CHANNEL_TYPE_DEFINITIONS) this.defs.set(d.type, d)
    for (const d of custom) this.register(d)
  }

  register(def: ChannelTypeDefinition): void {
    parseInput(channelTypeNameSchema, def.type, 'type')
    if ((BUILTIN_CHANNEL_TYPES as readonly string[]).includes(def.type) && this.defs.get(def.type) !== def) {
      const builtin = BUILTIN_CHANNEL_TYPE_DEFINITIONS.find((b) => b.type === def.type)
      if (builtin !== def)
        throw ValidationError.single('type', 'builtin_type', `${def.type} is a built-in type`)
    }
    this.defs.set(def.type, def)
  }

  has(type: string): boolean {
    return this.defs.has(type)
  }

  get(type: string): ChannelTypeDefinition {
    const def = this.defs.get(type)
    if (!def) throw ValidationError.single('type', 'unknown_channel_type', `unknown channel type ${type}`)
    return def
  }

  types(): string[] {
    return [...this.defs.keys()]
  }

  /**
   * Validates a config against its type's schema; issues are reported under `config.`.
   * Every type also accepts `rateLimit` (delivery throttling) and `breaker` (the channel's
   * circuit breaker), both read by the worker, `orderingOnDead` (what a dead message
   * does to its ordering key), read by the claim, and `digest` (plain enqueues collapse into
   * one delivery per destination), read by the enqueue.
   */
  parseConfig(type: string, config: unknown): Record<string, unknown> {
    const def = this.get(type)
    if (
      typeof config === 'object' &&
      config !== null &&
      !Array.isArray(config) &&
      MODULE_FIELDS.some((f) => f in config)
    ) {
      const { rateLimit, breaker, orderingOnDead, digest, ...rest } = config as Record<string, unknown>
      const parsed = parseInput(def.configSchema, rest, 'config')
      return {
        ...parsed,
        ...('rateLimit' in config && {
          rateLimit: parseInput(rateLimitSchema, rateLimit, 'config.rateLimit'),
        }),
        ...('breaker' in config && {
          breaker: parseInput(breakerSettingSchema, breaker, 'config.breaker'),
        }),
        ...('orderingOnDead' in config && {
          orderingOnDead: parseInput(orderingOnDeadSchema, orderingOnDead, 'config.orderingOnDead'),
        }),
        ...('digest' in config && { digest: parseInput(channelDigestSchema, digest, 'config.digest') }),
      }
    }
    return parseInput(def.configSchema, config, 'config')
  }
}

/**
 * The leaf paths a dotted path names in `obj`: itself, or for a path with `*` segments (every
 * entry of a list: `fallbacks.*.auth.pass`) one concrete path per entry that holds the leaf,
 * in list order (`fallbacks.0.auth.pass`, `fallbacks.2.auth.pass`).
 */
export function concretePaths(obj: Readonly<Record<string, unknown>>, path: string): string[] {
  if (!path.includes('*')) return [path]
  const out: string[] = []
  const walk = (cur: unknown, parts: readonly string[], done: readonly string[]) => {
    if (parts.length === 0) {
      out.push(done.join('.'))
      return
    }
    if (typeof cur !== 'object' || cur === null) return
    const [part, ...rest] = parts as [string, ...string[]]
    if (part === '*') {
      if (!Array.isArray(cur)) return
      for (const [i, entry] of cur.entries()) walk(entry, rest, [...done, String(i)])
      return
    }
    if (Array.isArray(cur) || !(part in cur)) return
    walk((cur as Record<string, unknown>)[part], rest, [...done, part])
  }
  walk(obj, path.split('.'), [])
  return out
}

/** One step down a config: a key of an object, or an index of a list. */
function child(cur: unknown, part: string): unknown {
  if (typeof cur !== 'object' || cur === null) return undefined
  if (Array.isArray(cur)) return /^\d+$/.test(part) ? cur[Number(part)] : undefined
  return (cur as Record<string, unknown>)[part]
}

/**
 * The value at a dotted secret path of a config (`smtp.auth.pass`), or undefined. A path with
 * `*` segments gives the list of the values it names (see concretePaths), undefined when none.
 */
export function configValueAt(obj: Readonly<Record<string, unknown>>, path: string): unknown {
  if (path.includes('*')) {
    const values = concretePaths(obj, path).map((p) => configValueAt(obj, p))
    return values.length === 0 ? undefined : values.flat()
  }
  let cur: unknown = obj
  for (const part of path.split('.')) {
    cur = child(cur, part)
    if (cur === undefined) return undefined
  }
  return cur
}

/**
 * Replaces the value at a dotted path where one exists; a missing path is left alone. For a
 * path with `*` segments, `value` is a list given out in the order configValueAt read them.
 */
export function setConfigValueAt(obj: Record<string, unknown>, path: string, value: unknown): void {
  if (path.includes('*')) {
    const values = Array.isArray(value) ? value : []
    let k = 0
    for (const p of concretePaths(obj, path)) {
      const v = configValueAt(obj, p)
      // A leaf that is itself a list took as many values as it holds.
      const n = Array.isArray(v) ? v.length : 1
      setConfigValueAt(obj, p, Array.isArray(v) ? values.slice(k, k + n) : values[k])
      k += n
    }
    return
  }
  const parts = path.split('.')
  let cur: unknown = obj
  for (const part of parts.slice(0, -1)) {
    cur = child(cur, part)
    if (typeof cur !== 'object' || cur === null) return
  }
  const last = parts[parts.length - 1]!
  if (Array.isArray(cur)) {
    if (/^\d+$/.test(last) && Number(last) < cur.length) cur[Number(last)] = value
  } else if (last in (cur as Record<string, unknown>)) (cur as Record<string, unknown>)[last] = value
}

const redactValue = (v: unknown): unknown => (Array.isArray(v) ? v.map(() => REDACTED) : REDACTED)

/** A deep copy of `config` with every secret path replaced by REDACTED. */
export function redactConfig(
  def: ChannelTypeDefinition,
  config: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const copy = structuredClone(config) as Record<string, unknown>
  for (const path of def.secretPaths) {
    const v = configValueAt(copy, path)
    if (v !== undefined) setConfigValueAt(copy, path, redactValue(v))
  }
  return copy
}

/**
 * For a configure call: where the new config carries REDACTED at a secret path (what a
 * read showed), the stored secret is kept; anything else replaces it.
 */
export function mergeSecrets(
  def: ChannelTypeDefinition,
  next: Record<string, unknown>,
  previous: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const merged = structuredClone(next)
  // Entry by entry for a path into a list (`fallbacks.*.auth.pass`): each keeps its own.
  for (const path of def.secretPaths.flatMap((p) => concretePaths(merged, p))) {
    const v = configValueAt(merged, path)
    const old = configValueAt(previous, path)
    const isMarker = v === REDACTED || (Array.isArray(v) && v.length > 0 && v.every((x) => x === REDACTED))
    if (isMarker && old !== undefined) setConfigValueAt(merged, path, structuredClone(old))
  }
  return merged
}

/** The secret values of a config, for scrubbing them out of error texts and logs. */
export function secretValues(
  def: ChannelTypeDefinition,
  config: Readonly<Record<string, unknown>>,
): string[] {
  const out: string[] = []
  for (const path of def.secretPaths) {
    const v = configValueAt(config, path)
    if (typeof v === 'string') out.push(v)
    else if (Array.isArray(v)) for (const x of v) if (typeof x === 'string') out.push(x)
  }
  return out
}
