import { describe, expect, it } from 'vitest'
import { composeRedactors, createRedactor, secretForms } from '../../src/domain/redaction.js'

const SECRET = 'tok_live_9f8e7d6c5b4a:p@ss/w0rd+é'
const WHSEC = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
const b64 = (s: string) => Buffer.from(s).toString('base64')
const b64url = (s: string) => Buffer.from(s).toString('base64url')

/** Each encoded form a provider or a library may echo a secret back in. */
const FORMS: ReadonlyArray<readonly [name: string, encode: (s: string) => string]> = [
  ['raw', (s) => s],
  ['percent-encoded', (s) => encodeURIComponent(s)],
  ['form-encoded', (s) => new URLSearchParams({ k: s }).toString().slice(2)],
  ['JSON-escaped', (s) => JSON.stringify(s).slice(1, -1)],
  ['base64', b64],
  ['base64 without padding', (s) => b64(s).replace(/=+$/, '')],
  ['base64url', b64url],
  ['hex', (s) => Buffer.from(s).toString('hex')],
  ['HEX', (s) => Buffer.from(s).toString('hex').toUpperCase()],
  ['base64 inside a Basic auth pair', (s) => `Basic ${b64(`AC0123456789:${s}`)}`],
  ['base64 inside a longer encoded body, off by one byte', (s) => b64(`{"x":1,"token":"${s}"}`)],
  ['base64 inside a longer encoded body, off by two bytes', (s) => b64(`{"xy":1,"token":"${s}"}`)],
  ['base64url inside a longer encoded body', (s) => b64url(`\u0000${s}\u0000`)],
]

/**
 * Every 6-character window of the secret found in the text, as is, percent-decoded, or in
 * what any run of base64, base64url or hex characters in it decodes to.
 */
function leaks(text: string, secret: string): string[] {
  const readings = [text]
  try {
    readings.push(decodeURIComponent(text.replace(/\+/g, ' ')))
  } catch {}
  for (const run of text.match(/[A-Za-z0-9+/_=-]{8,}/g) ?? []) {
    for (let skip = 0; skip < 4; skip++) {
      const part = run.slice(skip)
      readings.push(
        Buffer.from(part, 'base64').toString('latin1'),
        Buffer.from(part, 'base64url').toString('latin1'),
      )
      readings.push(
        Buffer.from(part, 'base64').toString('utf8'),
        Buffer.from(part, 'base64url').toString('utf8'),
      )
    }
    if (/^[0-9a-fA-F]+$/.test(run)) readings.push(Buffer.from(run, 'hex').toString('utf8'))
  }
  const found = new Set<string>()
  for (let i = 0; i + 6 <= secret.length; i++) {
    const window = secret.slice(i, i + 6)
    if (readings.some((r) => r.includes(window))) found.add(window)
  }
  return [...found]
}

describe('the one redactor', () => {
  it.each(FORMS)('scrubs the %s form of a secret', (_name, encode) => {
    const redact = createRedactor([SECRET])
    const out = redact(`401 Unauthorized: ${encode(SECRET)} (end)`)
    expect(out).toContain('[redacted]')
    expect(leaks(out, SECRET)).toEqual([])
  })

  it('scrubs a Standard Webhooks key whole and its base64 part alone, in every form', () => {
    const redact = createRedactor([WHSEC])
    const key = WHSEC.slice('whsec_'.length)
    for (const text of [WHSEC, key, encodeURIComponent(key), b64(key), JSON.stringify({ key })]) {
      expect(redact(`bad key ${text}`)).not.toContain(key.slice(4, 20))
    }
    expect(secretForms(WHSEC)).toContain(key)
  })

  it('replaces a secret that contains another whole, and leaves short values and other text alone', () => {
    const redact = createRedactor(['abcdefgh', 'abcdefgh-longer', 'ok'])
    expect(redact('x abcdefgh-longer y abcdefgh z ok')).toBe('x [redacted] y [redacted] z ok')
    expect(createRedactor([])('nothing to hide')).toBe('nothing to hide')
  })

  it("composes a transport's derived forms on top of the channel's", () => {
    const redact = composeRedactors(createRedactor(['channel-secret-1']), createRedactor(['relay-pass-22']))
    expect(redact('channel-secret-1 and relay-pass-22')).toBe('[redacted] and [redacted]')
  })
})
