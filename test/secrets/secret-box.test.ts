import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { BUILTIN_CHANNEL_TYPE_DEFINITIONS, type ChannelTypeDefinition } from '../../src/domain/channel.js'
import {
  createSecretBox,
  describeSecrets,
  isSealed,
  openConfig,
  resealConfig,
  SecretBoxError,
  sealConfig,
  sealedKeyId,
  secretKeysFromEnv,
} from '../../src/secrets/index.js'

const key = () => randomBytes(32).toString('base64')
const K1 = key()
const K2 = key()
const def = (type: string): ChannelTypeDefinition =>
  BUILTIN_CHANNEL_TYPE_DEFINITIONS.find((d) => d.type === type)!
const SCOPE = { infrastructureId: 'infra-a', channelId: 'chan-1' }
const PASSWORD = 'correct horse battery staple'

/** Whatever went wrong, the error must not carry the plaintext or the sealed value. */
function expectCleanError(fn: () => unknown, code: string, ...forbidden: string[]) {
  let caught: unknown
  try {
    fn()
  } catch (e) {
    caught = e
  }
  expect(caught).toBeInstanceOf(SecretBoxError)
  expect((caught as SecretBoxError).code).toBe(code)
  const text = `${(caught as Error).message} ${(caught as Error).stack ?? ''} ${JSON.stringify(caught)}`
  for (const f of forbidden) expect(text).not.toContain(f)
}

describe('secret box', () => {
  const box = createSecretBox({ keys: { k1: K1 }, activeKeyId: 'k1' })

  it('seals to v1.<keyId>.<iv>.<ciphertext+tag> with a fresh 96-bit IV, and opens it', () => {
    const a = box.seal(PASSWORD, 'ctx')
    const b = box.seal(PASSWORD, 'ctx')
    expect(a).not.toBe(b)
    const [version, keyId, iv, body] = a.split('.')
    expect(version).toBe('v1')
    expect(keyId).toBe('k1')
    expect(Buffer.from(iv!, 'base64url')).toHaveLength(12)
    expect(Buffer.from(body!, 'base64url')).toHaveLength(Buffer.byteLength(PASSWORD) + 16)
    expect(a).not.toContain(Buffer.from(PASSWORD).toString('base64'))
    expect(isSealed(a)).toBe(true)
    expect(sealedKeyId(a)).toBe('k1')
    expect(box.open(a, 'ctx')).toBe(PASSWORD)
    expect(box.open(box.seal('', 'ctx'), 'ctx')).toBe('')
    expect(box.open(box.seal('ünïcødé ✓', 'ctx'), 'ctx')).toBe('ünïcødé ✓')
  })

  it('does not open under another context: the associated data binds tenant, channel and path', () => {
    const sealed = box.seal(PASSWORD, 'infra-a/chan-1/smtp.auth.pass')
    for (const other of [
      'infra-b/chan-1/smtp.auth.pass',
      'infra-a/chan-2/smtp.auth.pass',
      'infra-a/chan-1/x',
    ]) {
      expectCleanError(() => box.open(sealed, other), 'SECRET_UNREADABLE', PASSWORD, sealed)
    }
    expect(box.open(sealed, 'infra-a/chan-1/smtp.auth.pass')).toBe(PASSWORD)
  })

  it('detects tampering with any part as a typed error without the secret', () => {
    const sealed = box.seal(PASSWORD, 'ctx')
    const [v, k, iv, body] = sealed.split('.') as [string, string, string, string]
    const flip = (s: string, i: number) => {
      const bytes = Buffer.from(s, 'base64url')
      bytes[i] = bytes[i]! ^ 1
      return bytes.toString('base64url')
    }
    expectCleanError(
      () => box.open([v, k, flip(iv, 0), body].join('.'), 'ctx'),
      'SECRET_UNREADABLE',
      PASSWORD,
    )
    expectCleanError(
      () => box.open([v, k, iv, flip(body, 0)].join('.'), 'ctx'),
      'SECRET_UNREADABLE',
      PASSWORD,
    )
    const tagEnd = Buffer.from(body, 'base64url').length - 1
    expectCleanError(
      () => box.open([v, k, iv, flip(body, tagEnd)].join('.'), 'ctx'),
      'SECRET_UNREADABLE',
      PASSWORD,
    )
    expectCleanError(() => box.open([v, 'k9', iv, body].join('.'), 'ctx'), 'SECRET_KEY_UNKNOWN', PASSWORD)
    expectCleanError(() => box.open(['v2', k, iv, body].join('.'), 'ctx'), 'SECRET_MALFORMED', PASSWORD)
    expectCleanError(() => box.open([v, k, iv.slice(2), body].join('.'), 'ctx'), 'SECRET_MALFORMED', PASSWORD)
    expectCleanError(() => box.open(PASSWORD, 'ctx'), 'SECRET_MALFORMED', PASSWORD)
  })

  it('rotates: a new active key seals, the old key still opens, reseal moves a value over', () => {
    const old = createSecretBox({ keys: { k1: K1 }, activeKeyId: 'k1' })
    const sealedOld = old.seal(PASSWORD, 'ctx')
    const rotated = createSecretBox({ keys: { k1: K1, k2: K2 }, activeKeyId: 'k2' })
    expect(rotated.open(sealedOld, 'ctx')).toBe(PASSWORD)
    expect(sealedKeyId(rotated.seal(PASSWORD, 'ctx'))).toBe('k2')
    const moved = rotated.reseal(sealedOld, 'ctx')
    expect(sealedKeyId(moved)).toBe('k2')
    // Once k1 is retired, only re-sealed values still open.
    const retired = createSecretBox({ keys: { k2: K2 }, activeKeyId: 'k2' })
    expect(retired.open(moved, 'ctx')).toBe(PASSWORD)
    expectCleanError(() => retired.open(sealedOld, 'ctx'), 'SECRET_KEY_UNKNOWN', PASSWORD)
  })

  it('refuses a value relabelled to another key id', () => {
    const both = createSecretBox({ keys: { k1: K1, k2: K2 }, activeKeyId: 'k1' })
    const sealed = both.seal(PASSWORD, 'ctx')
    expectCleanError(() => both.open(sealed.replace('.k1.', '.k2.'), 'ctx'), 'SECRET_UNREADABLE', PASSWORD)
  })

  it('refuses bad keys at construction without echoing them', () => {
    const short = Buffer.alloc(16, 1).toString('base64')
    expectCleanError(
      () => createSecretBox({ keys: { k1: short }, activeKeyId: 'k1' }),
      'SECRET_KEY_INVALID',
      short,
    )
    expectCleanError(() => createSecretBox({ keys: { k1: K1 }, activeKeyId: 'k2' }), 'SECRET_KEY_INVALID', K1)
    expectCleanError(
      () => createSecretBox({ keys: { 'a.b': K1 }, activeKeyId: 'a.b' }),
      'SECRET_KEY_INVALID',
      K1,
    )
  })

  it('reads keys from the environment, the first active unless named', () => {
    const env = { MESSAGING_SECRET_KEYS: `k2:${K2}, k1:${K1}` }
    const opts = secretKeysFromEnv(env)
    expect(opts.activeKeyId).toBe('k2')
    expect(opts.keys).toEqual({ k2: K2, k1: K1 })
    expect(secretKeysFromEnv({ ...env, MESSAGING_SECRET_ACTIVE_KEY: 'k1' }).activeKeyId).toBe('k1')
    const fromEnv = createSecretBox(opts)
    expect(fromEnv.open(createSecretBox({ keys: { k1: K1 }, activeKeyId: 'k1' }).seal('x', 'c'), 'c')).toBe(
      'x',
    )
    expectCleanError(() => secretKeysFromEnv({}), 'SECRET_KEY_INVALID')
    expectCleanError(() => secretKeysFromEnv({ MESSAGING_SECRET_KEYS: K1 }), 'SECRET_KEY_INVALID', K1)
  })
})

describe('sealed channel configs', () => {
  const box = createSecretBox({ keys: { k1: K1 }, activeKeyId: 'k1' })
  const email = {
    from: 'ops@example.com',
    smtp: { host: 'smtp.example.com', port: 587, secure: false, auth: { user: 'ops', pass: PASSWORD } },
  }
  const webhook = {
    url: 'https://hooks.example.com/x',
    secrets: ['whsec_c2VjcmV0c2VjcmV0', 'whsec_b3RoZXJvdGhlcg=='],
  }

  it('seals exactly the secret paths and leaves every other field as it was', () => {
    const sealed = sealConfig(box, def('email'), email, SCOPE)
    expect(JSON.stringify(sealed)).not.toContain(PASSWORD)
    expect(isSealed((sealed.smtp as { auth: { pass: string } }).auth.pass)).toBe(true)
    expect({ ...sealed, smtp: { ...(sealed.smtp as object), auth: { user: 'ops', pass: 'X' } } }).toEqual({
      ...email,
      smtp: { ...email.smtp, auth: { user: 'ops', pass: 'X' } },
    })
    expect(openConfig(box, def('email'), sealed, SCOPE)).toEqual(email)
    // The input is not mutated.
    expect(email.smtp.auth.pass).toBe(PASSWORD)
  })

  it('seals each entry of a list of secrets, and the list still opens after one is removed', () => {
    const sealed = sealConfig(box, def('webhook'), webhook, SCOPE)
    const secrets = sealed.secrets as string[]
    expect(secrets).toHaveLength(2)
    expect(secrets.every(isSealed)).toBe(true)
    expect(openConfig(box, def('webhook'), sealed, SCOPE)).toEqual(webhook)
    expect(openConfig(box, def('webhook'), { ...sealed, secrets: [secrets[1]] }, SCOPE).secrets).toEqual([
      webhook.secrets[1],
    ])
  })

  it('is idempotent: values that already open in this scope are kept, new plaintext is sealed', () => {
    const once = sealConfig(box, def('webhook'), webhook, SCOPE)
    const merged = { ...once, secrets: [...(once.secrets as string[]), 'whsec_bmV3bmV3bmV3bmV3'] }
    const twice = sealConfig(box, def('webhook'), merged, SCOPE)
    expect((twice.secrets as string[]).slice(0, 2)).toEqual(once.secrets)
    expect(openConfig(box, def('webhook'), twice, SCOPE).secrets).toEqual([
      ...webhook.secrets,
      'whsec_bmV3bmV3bmV3bmV3',
    ])
  })

  it("does not open a sealed config copied to another tenant's or channel's row", () => {
    const sealed = sealConfig(box, def('email'), email, SCOPE)
    expectCleanError(
      () => openConfig(box, def('email'), sealed, { ...SCOPE, infrastructureId: 'infra-b' }),
      'SECRET_UNREADABLE',
      PASSWORD,
    )
    expectCleanError(
      () => openConfig(box, def('email'), sealed, { ...SCOPE, channelId: 'chan-2' }),
      'SECRET_UNREADABLE',
      PASSWORD,
    )
  })

  it('refuses to open a plaintext secret, naming the path only', () => {
    expectCleanError(() => openConfig(box, def('email'), email, SCOPE), 'SECRET_MALFORMED', PASSWORD)
  })

  it('skips absent optional secrets and refuses a secret path holding a non-string', () => {
    const sms = { from: '+4915112345678' }
    expect(sealConfig(box, def('sms'), sms, SCOPE)).toEqual(sms)
    const odd: ChannelTypeDefinition = {
      type: 'odd',
      configSchema: def('in_app').configSchema,
      secretPaths: ['n'],
    }
    expectCleanError(() => sealConfig(box, odd, { n: 42 }, SCOPE), 'SECRET_MALFORMED')
  })

  it('re-seals a whole config under the new active key during rotation', () => {
    const sealed = sealConfig(box, def('webhook'), webhook, SCOPE)
    const rotated = createSecretBox({ keys: { k1: K1, k2: K2 }, activeKeyId: 'k2' })
    const moved = resealConfig(rotated, def('webhook'), sealed, SCOPE)
    expect(describeSecrets(def('webhook'), moved)).toEqual([
      { path: 'secrets', set: true, keyIds: ['k2', 'k2'] },
    ])
    expect(
      openConfig(createSecretBox({ keys: { k2: K2 }, activeKeyId: 'k2' }), def('webhook'), moved, SCOPE),
    ).toEqual(webhook)
  })

  it('describes secrets for a write-only read: set and key id, never the value', () => {
    const sealed = sealConfig(
      box,
      def('sms'),
      { from: '+4915112345678', provider: { url: 'https://s.example', apiKey: 'k-123456' } },
      SCOPE,
    )
    const described = describeSecrets(def('sms'), sealed)
    expect(described).toEqual([
      { path: 'provider.apiKey', set: true, keyIds: ['k1'] },
      { path: 'twilio.authToken', set: false, keyIds: [] },
    ])
    expect(JSON.stringify(described)).not.toContain('k-123456')
  })
})
