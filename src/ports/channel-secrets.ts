import { type ChannelTypeDefinition, configValueAt, type SecretState } from '../domain/channel.js'

/** Whose secret it is: sealed values are bound to their tenant, channel and field. */
export interface SecretOwner {
  readonly infrastructureId: string
  readonly channelId: string
}

/**
 * Keeps channel credentials sealed at rest. The domain seals a config's secret paths
 * before a store sees them and opens them only for a transport.
 */
export interface ChannelSecrets {
  /** `false` for the plaintext pass-through (tests on memory only). */
  readonly encrypts: boolean
  seal(
    def: ChannelTypeDefinition,
    config: Readonly<Record<string, unknown>>,
    owner: SecretOwner,
  ): Record<string, unknown>
  /** Seals every secret again under the active key (rotation); plaintext stays plaintext. */
  reseal(
    def: ChannelTypeDefinition,
    config: Readonly<Record<string, unknown>>,
    owner: SecretOwner,
  ): Record<string, unknown>
  /** Whether each secret path is set, and the key ids it is sealed under, without opening anything. */
  describe(def: ChannelTypeDefinition, config: Readonly<Record<string, unknown>>): SecretState[]
  /** Throws when a value does not open (wrong key, other owner, altered); the error names no secret. */
  open(
    def: ChannelTypeDefinition,
    config: Readonly<Record<string, unknown>>,
    owner: SecretOwner,
  ): Record<string, unknown>
}

/** Stores secrets as given. Only for stores that never touch a disk (the memory adapter). */
export const plaintextSecrets: ChannelSecrets = {
  encrypts: false,
  seal: (_def, config) => structuredClone(config) as Record<string, unknown>,
  open: (_def, config) => structuredClone(config) as Record<string, unknown>,
  reseal: (_def, config) => structuredClone(config) as Record<string, unknown>,
  describe: (def, config) =>
    def.secretPaths.flatMap((path) => {
      const v = configValueAt(config, path)
      // A path into a list is described only while the list has an entry holding it.
      if (path.includes('*') && v === undefined) return []
      return [{ path, set: typeof v === 'string' || (Array.isArray(v) && v.length > 0), keyIds: [] }]
    }),
}
