import { REDACTED } from '../../../domain/channel.js'

/**
 * Returns a function that replaces every known secret in a text, in the forms a provider
 * may echo it back: as is, percent-encoded, base64 and base64url (Basic auth, a decoded
 * `whsec_` key). Extra derived forms (a `user:pass` pair) can be passed as secrets too.
 *
 * @example
 * const redact = createRedactor(['s3cret'])
 * redact('auth failed for s3cret') // 'auth failed for [redacted]'
 */
export function createRedactor(secrets: readonly string[]): (text: string) => string {
  const forms = new Set<string>()
  for (const s of secrets) {
    if (s.length === 0) continue
    forms.add(s)
    forms.add(encodeURIComponent(s))
    forms.add(Buffer.from(s).toString('base64'))
    forms.add(Buffer.from(s).toString('base64url'))
    if (s.startsWith('whsec_')) forms.add(s.slice('whsec_'.length))
  }
  // Longest first, so a secret that contains another is replaced whole.
  const ordered = [...forms].filter((f) => f.length > 0).sort((a, b) => b.length - a.length)
  return (text) => {
    let out = text
    for (const f of ordered) out = out.split(f).join(REDACTED)
    return out
  }
}
