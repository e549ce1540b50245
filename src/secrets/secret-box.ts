import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

/**
 * Why a sealed value could not be opened or a box could not be built. The message names
 * the key id or the rule, never the plaintext, the key or the sealed value.
 */
export type SecretBoxErrorCode =
  | 'SECRET_MALFORMED'
  | 'SECRET_KEY_UNKNOWN'
  | 'SECRET_UNREADABLE'
  | 'SECRET_KEY_INVALID'
  /** A value is sealed but this process was given no key at all (MESSAGING_SECRET_KEYS, the `secrets` option). */
  | 'SECRET_UNAVAILABLE'

export class SecretBoxError extends Error {
  constructor(
    readonly code: SecretBoxErrorCode,
    message: string,
  ) {
    super(message)
  }
  override get name(): string {
    return 'SecretBoxError'
  }
}

export interface SecretBoxOptions {
  /** Key id -> 32-byte AES-256 key, base64 (or base64url). Old ids stay here to open what they sealed. */
  readonly keys: Readonly<Record<string, string | Uint8Array>>
  /** The key every new seal uses. */
  readonly activeKeyId: string
}

/** Seals short secrets (passwords, tokens) with AES-256-GCM, bound to a context string. */
export interface SecretBox {
  readonly activeKeyId: string
  /** `v1.<keyId>.<iv>.<ciphertext+tag>` (base64url parts); a fresh random 96-bit IV each call. */
  seal(plaintext: string, context: string): string
  /** Throws SecretBoxError when the value is malformed, its key is unknown, or it was sealed for another context or altered. */
  open(sealed: string, context: string): string
  /** Opens with whichever key sealed it and seals again with the active key (a no-op read for values already on it is still re-sealed). */
  reseal(sealed: string, context: string): string
}

const VERSION = 'v1'
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/
const B64URL = /^[A-Za-z0-9_-]+$/
const IV_BYTES = 12
const TAG_BYTES = 16

/** True when `value` has the shape of a sealed secret (it says nothing of whether it opens). */
export function isSealed(value: unknown): value is string {
  if (typeof value !== 'string') return false
  const parts = value.split('.')
  return (
    parts.length === 4 &&
    parts[0] === VERSION &&
    KEY_ID.test(parts[1]!) &&
    B64URL.test(parts[2]!) &&
    B64URL.test(parts[3]!)
  )
}

/** The key id a sealed value names, or null when it is not sealed: what a read may show instead of the secret. */
export function sealedKeyId(value: unknown): string | null {
  return isSealed(value) ? value.split('.')[1]! : null
}

function decodeKey(keyId: string, key: string | Uint8Array): Buffer {
  if (!KEY_ID.test(keyId)) {
    throw new SecretBoxError('SECRET_KEY_INVALID', `key id ${JSON.stringify(keyId)} must match ${KEY_ID}`)
  }
  const bytes = typeof key === 'string' ? Buffer.from(key, 'base64') : Buffer.from(key)
  if (bytes.byteLength !== 32) {
    throw new SecretBoxError('SECRET_KEY_INVALID', `key ${keyId} must be 32 bytes, got ${bytes.byteLength}`)
  }
  return bytes
}

// The key id is part of the associated data too, so a value cannot be relabelled to another key.
const aad = (keyId: string, context: string): Buffer =>
  Buffer.from(`messaging-secret:${VERSION}:${keyId}:${context}`)

/**
 * Builds a box from the host's keys. Rotation: add a new key, make it active, re-seal
 * stored values at leisure (`reseal`); remove the old key only once nothing names it.
 *
 * @example
 * const box = createSecretBox({ keys: { k2: process.env.MESSAGING_KEY_K2!, k1: process.env.MESSAGING_KEY_K1! }, activeKeyId: 'k2' })
 * const sealed = box.seal('smtp-password', 'infra-1/chan-9/smtp.auth.pass')
 * box.open(sealed, 'infra-1/chan-9/smtp.auth.pass') // 'smtp-password'
 */
export function createSecretBox(options: SecretBoxOptions): SecretBox {
  const keys = new Map<string, Buffer>()
  for (const [id, key] of Object.entries(options.keys)) keys.set(id, decodeKey(id, key))
  const activeKeyId = options.activeKeyId
  const activeKey = keys.get(activeKeyId)
  if (!activeKey) {
    throw new SecretBoxError(
      'SECRET_KEY_INVALID',
      `active key ${JSON.stringify(activeKeyId)} is not among the keys`,
    )
  }

  const seal = (plaintext: string, context: string): string => {
    const iv = randomBytes(IV_BYTES)
    const cipher = createCipheriv('aes-256-gcm', activeKey, iv, { authTagLength: TAG_BYTES })
    cipher.setAAD(aad(activeKeyId, context))
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()])
    return `${VERSION}.${activeKeyId}.${iv.toString('base64url')}.${body.toString('base64url')}`
  }

  const open = (sealed: string, context: string): string => {
    if (!isSealed(sealed)) throw new SecretBoxError('SECRET_MALFORMED', 'value is not a sealed secret')
    const [, keyId, ivPart, bodyPart] = sealed.split('.') as [string, string, string, string]
    const key = keys.get(keyId)
    if (!key) throw new SecretBoxError('SECRET_KEY_UNKNOWN', `no key with id ${keyId}`)
    const iv = Buffer.from(ivPart, 'base64url')
    const body = Buffer.from(bodyPart, 'base64url')
    if (iv.byteLength !== IV_BYTES || body.byteLength < TAG_BYTES) {
      throw new SecretBoxError('SECRET_MALFORMED', 'sealed secret has a wrong IV or tag length')
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES })
      decipher.setAAD(aad(keyId, context))
      decipher.setAuthTag(body.subarray(body.byteLength - TAG_BYTES))
      return Buffer.concat([
        decipher.update(body.subarray(0, body.byteLength - TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8')
    } catch {
      // GCM says only "unable to authenticate": altered, another context, or another key's bytes.
      throw new SecretBoxError(
        'SECRET_UNREADABLE',
        `sealed secret (key ${keyId}) does not open in this context: altered, or sealed for another channel`,
      )
    }
  }

  return {
    activeKeyId,
    seal,
    open,
    reseal: (sealed, context) => seal(open(sealed, context), context),
  }
}

/**
 * Reads keys from an environment variable: `MESSAGING_SECRET_KEYS="k2:<base64>,k1:<base64>"`,
 * the first one active unless `MESSAGING_SECRET_ACTIVE_KEY` names another.
 *
 * @example
 * const box = createSecretBox(secretKeysFromEnv(process.env))
 */
export function secretKeysFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  names: { keys?: string; active?: string } = {},
): SecretBoxOptions {
  const keysName = names.keys ?? 'MESSAGING_SECRET_KEYS'
  const activeName = names.active ?? 'MESSAGING_SECRET_ACTIVE_KEY'
  const raw = env[keysName]
  if (!raw) throw new SecretBoxError('SECRET_KEY_INVALID', `${keysName} is not set`)
  const keys: Record<string, string> = {}
  let first: string | undefined
  for (const entry of raw.split(',')) {
    const trimmed = entry.trim()
    if (trimmed === '') continue
    const colon = trimmed.indexOf(':')
    if (colon <= 0)
      throw new SecretBoxError('SECRET_KEY_INVALID', `${keysName} entries must be <keyId>:<base64>`)
    const id = trimmed.slice(0, colon)
    keys[id] = trimmed.slice(colon + 1)
    first ??= id
  }
  if (!first) throw new SecretBoxError('SECRET_KEY_INVALID', `${keysName} holds no key`)
  return { keys, activeKeyId: env[activeName] || first }
}
