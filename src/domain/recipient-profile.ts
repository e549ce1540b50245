import { z } from 'zod'
import type { JsonValue } from './outbox-message.js'
import type { QuietHours } from './quiet-hours.js'

/**
 * A person the module can notify, per infrastructure: where to reach them and how to speak
 * to them. Infrastructure admins manage profiles; a member reads and updates only their own
 * contact points, locale and time zone.
 */
export interface RecipientProfile {
  readonly infrastructureId: string
  readonly userId: string
  /** The business the user belongs to; null: a user of the whole infrastructure. Decides who may see the profile. */
  readonly businessId: string | null
  readonly email: string | null
  /** E.164: `+4915112345678`. */
  readonly phone: string | null
  /** BCP 47, canonical case: `de-DE`, `pt-BR`, `fr`. */
  readonly locale: string | null
  /** IANA: `Europe/Berlin`. */
  readonly timeZone: string | null
  /**
   * When the user wants no non-critical notification, in local times of `timeZone` (UTC
   * without one): `{ start: '22:00', end: '07:00' }`. null: none of their own (the tenant's
   * default applies, if any).
   */
  readonly quietHours: QuietHours | null
  /** The host's own data for templates (`{{ recipient.properties.firstName }}`); at most 8 KiB of JSON. */
  readonly properties: { readonly [key: string]: JsonValue }
  readonly createdAt: Date
  readonly updatedAt: Date
  readonly updatedBy: string
}

/** The fields a member may change on their own profile; everything else is an admin's. */
export const MEMBER_PROFILE_FIELDS = ['email', 'phone', 'locale', 'timeZone', 'quietHours'] as const

/** UTF-8 bytes of `properties` as JSON. 8 KiB holds a few dozen template variables; more belongs in `data`. */
export const MAX_PROFILE_PROPERTIES_BYTES = 8 * 1024

export const profileEmailSchema = z.email().max(320)

/** E.164: a plus, a non-zero country digit, at most 15 digits in all (ITU-T E.164 §6). */
export const e164PhoneSchema = z.string().regex(/^\+[1-9]\d{6,14}$/, { message: 'must be an E.164 number' })

/**
 * A BCP 47 language tag, stored in its canonical case (`de-de` becomes `de-DE`) so that
 * template lookups by locale compare equal strings. 35 characters is RFC 5646's advice for
 * the longest tag an implementation must accept.
 */
export const localeSchema = z
  .string()
  .min(2)
  .max(35)
  .transform((v, ctx) => {
    try {
      const [canonical] = Intl.getCanonicalLocales(v)
      if (canonical !== undefined) return canonical
    } catch {
      // RangeError: not a structurally valid tag.
    }
    ctx.addIssue({ code: 'custom', message: 'must be a BCP 47 language tag', params: { rule: 'bcp47' } })
    return z.NEVER
  })

/**
 * An IANA time zone name the runtime knows (`Europe/Berlin`, `UTC`), never an offset: quiet
 * hours follow the zone's daylight-saving rules, which an offset does not carry.
 */
export const timeZoneSchema = z
  .string()
  .min(1)
  .max(64)
  .refine(
    (v) => {
      if (!/^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)*$/.test(v)) return false
      try {
        new Intl.DateTimeFormat('en', { timeZone: v })
        return true
      } catch {
        return false
      }
    },
    { message: 'must be an IANA time zone name', params: { rule: 'iana_time_zone' } },
  )

const encoder = new TextEncoder()
/** UTF-8 bytes of a value as JSON. */
export const jsonBytes = (value: unknown): number => encoder.encode(JSON.stringify(value)).byteLength

/** The language of a locale: `de-DE` -> `de`. Template lookups fall back to it. */
export const languageOf = (locale: string): string => locale.split('-')[0]!.toLowerCase()
