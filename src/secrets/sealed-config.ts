import { type ChannelTypeDefinition, configValueAt, setConfigValueAt } from '../domain/channel.js'
import { isSealed, type SecretBox, SecretBoxError, sealedKeyId } from './secret-box.js'

/** Whose secret a sealed value is: bound into its associated data. */
export interface SecretScope {
  readonly infrastructureId: string
  readonly channelId: string
}

/**
 * The associated data of one config secret: tenant, channel and path. A sealed value copied
 * to another tenant's or channel's row, or to another field, does not open. The index of a
 * rotating list entry is deliberately left out, so removing the first entry keeps the rest.
 */
export const secretContext = (scope: SecretScope, path: string): string =>
  `${scope.infrastructureId}/${scope.channelId}/${path}`

function mapSecrets(
  def: ChannelTypeDefinition,
  config: Readonly<Record<string, unknown>>,
  each: (value: string, path: string) => string,
): Record<string, unknown> {
  const copy = structuredClone(config) as Record<string, unknown>
  for (const path of def.secretPaths) {
    const v = configValueAt(copy, path)
    if (v === undefined || v === null) continue
    if (typeof v === 'string') setConfigValueAt(copy, path, each(v, path))
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) {
      setConfigValueAt(
        copy,
        path,
        v.map((x: string) => each(x, path)),
      )
    } else {
      throw new SecretBoxError('SECRET_MALFORMED', `secret at ${path} must be a string or a list of strings`)
    }
  }
  return copy
}

/**
 * A copy of `config` with every secret path sealed. Idempotent: a value that already opens
 * in this scope is kept as it is, so a config merged with its stored secrets can be sealed again.
 */
export function sealConfig(
  box: SecretBox,
  def: ChannelTypeDefinition,
  config: Readonly<Record<string, unknown>>,
  scope: SecretScope,
): Record<string, unknown> {
  return mapSecrets(def, config, (value, path) => {
    const context = secretContext(scope, path)
    if (isSealed(value)) {
      try {
        box.open(value, context)
        return value
      } catch {
        // Not ours (or not for this scope): treat it as plaintext that happens to look sealed.
      }
    }
    return box.seal(value, context)
  })
}

/** A copy of `config` with every secret path opened. Throws SecretBoxError when one is plaintext, foreign or altered. */
export function openConfig(
  box: SecretBox,
  def: ChannelTypeDefinition,
  config: Readonly<Record<string, unknown>>,
  scope: SecretScope,
): Record<string, unknown> {
  return mapSecrets(def, config, (value, path) => {
    if (!isSealed(value)) throw new SecretBoxError('SECRET_MALFORMED', `secret at ${path} is not sealed`)
    try {
      return box.open(value, secretContext(scope, path))
    } catch (e) {
      if (e instanceof SecretBoxError) throw new SecretBoxError(e.code, `secret at ${path}: ${e.message}`)
      throw e
    }
  })
}

/** A copy of `config` with every secret re-sealed under the box's active key (for rotation). */
export function resealConfig(
  box: SecretBox,
  def: ChannelTypeDefinition,
  config: Readonly<Record<string, unknown>>,
  scope: SecretScope,
): Record<string, unknown> {
  return mapSecrets(def, config, (value, path) => box.reseal(value, secretContext(scope, path)))
}

/** What a read may show of one secret: that it is set, and under which key. */
export interface SecretDescription {
  readonly path: string
  readonly set: boolean
  /** Key ids of the sealed values (one per list entry); empty when plaintext or unset. */
  readonly keyIds: readonly string[]
}

/**
 * Describes the secrets of a stored config without opening them.
 *
 * @example
 * describeSecrets(def, row.config) // [{ path: 'smtp.auth.pass', set: true, keyIds: ['k2'] }]
 */
export function describeSecrets(
  def: ChannelTypeDefinition,
  config: Readonly<Record<string, unknown>>,
): SecretDescription[] {
  // A path into a list (`fallbacks.*.auth.pass`) is described only while the list has an
  // entry holding it: a channel without fallbacks reads as it always did.
  return def.secretPaths.flatMap((path) => {
    const v = configValueAt(config, path)
    if (path.includes('*') && v === undefined) return []
    const values = typeof v === 'string' ? [v] : Array.isArray(v) ? v : []
    const keyIds = values.map(sealedKeyId).filter((k): k is string => k !== null)
    return [{ path, set: values.length > 0, keyIds }]
  })
}
