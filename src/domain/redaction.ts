import { REDACTED } from './channel.js'

/** Replaces every known secret in a text, in every form a provider may echo it back. */
export type Redactor = (text: string) => string

/** Shorter values are left alone: redacting `ok` or `42` everywhere would garble texts, not protect them. */
const MIN_SECRET_LENGTH = 4
/** A base64 run this short matches by chance; shorter inner runs of a short secret are not searched. */
const MIN_BASE64_CORE = 6

const utf8 = new TextEncoder()

function base64Of(bytes: Uint8Array): string {
  let binary = ''
  for (const b of bytes) binary += String.fromCharCode(b)
  return btoa(binary)
}

const toUrlAlphabet = (b64: string) => b64.replace(/\+/g, '-').replace(/\//g, '_')

/**
 * The base64 characters that depend on the secret's bytes alone, for the secret starting
 * at each of the three byte offsets modulo 3 of a longer encoded text (a Basic auth
 * header's `user:pass`, a token inside an encoded JSON body): whatever surrounds it,
 * these runs appear verbatim.
 */
function base64Cores(bytes: Uint8Array): string[] {
  const cores: string[] = []
  for (let k = 0; k < 3; k++) {
    const padded = new Uint8Array(k + bytes.length)
    padded.set(bytes, k)
    const encoded = base64Of(padded).replace(/=+$/, '')
    // Character j covers bits [6j, 6j + 6): keep those inside the secret's bits [8k, 8n).
    const core = encoded.slice(Math.ceil((8 * k) / 6), Math.floor((8 * padded.length) / 6))
    if (core.length >= MIN_BASE64_CORE) cores.push(core, toUrlAlphabet(core))
  }
  return cores
}

/** Percent-encoding as `application/x-www-form-urlencoded` writes it (space as `+`, `!'()*` escaped). */
const formEncoded = (s: string) =>
  encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+')

/** Every form of one secret the redactor looks for. */
export function secretForms(secret: string): string[] {
  if (secret.length < MIN_SECRET_LENGTH) return []
  const variants = [secret]
  // A Standard Webhooks key is `whsec_` + base64 of the key bytes; a provider may quote either.
  if (secret.startsWith('whsec_') && secret.length - 6 >= MIN_SECRET_LENGTH) variants.push(secret.slice(6))
  const forms = new Set<string>()
  for (const v of variants) {
    const bytes = utf8.encode(v)
    const b64 = base64Of(bytes)
    const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')
    for (const f of [
      v,
      encodeURIComponent(v),
      formEncoded(v),
      JSON.stringify(v).slice(1, -1),
      b64,
      toUrlAlphabet(b64).replace(/=+$/, ''),
      hex,
      hex.toUpperCase(),
      ...base64Cores(bytes),
    ]) {
      forms.add(f)
    }
  }
  return [...forms]
}

/**
 * The module's one redactor: replaces each secret, as is, percent- and form-encoded,
 * JSON-escaped, hex, and base64 or base64url (standalone or inside a longer encoded text),
 * and a `whsec_` key's base64 part, with `[redacted]`. Forms are replaced longest first,
 * so a secret that contains another goes whole. Used for attempt errors, log lines and
 * transports' provider texts alike.
 *
 * @example
 * const redact = createRedactor(['s3cret-token'])
 * redact('auth failed for s3cret-token') // 'auth failed for [redacted]'
 * redact(`Basic ${btoa('user:s3cret-token')}`) // the token's base64 run is gone too
 */
export function createRedactor(secrets: Iterable<string>): Redactor {
  const forms = new Set<string>()
  for (const s of secrets) for (const f of secretForms(s)) forms.add(f)
  const ordered = [...forms].sort((a, b) => b.length - a.length)
  if (ordered.length === 0) return (text) => text
  return (text) => {
    let out = text
    for (const f of ordered) if (out.includes(f)) out = out.split(f).join(REDACTED)
    return out
  }
}

/** A redactor that applies each given one in turn (a transport's own derived forms on top of the channel's). */
export function composeRedactors(...redactors: readonly Redactor[]): Redactor {
  return (text) => redactors.reduce((t, r) => r(t), text)
}
