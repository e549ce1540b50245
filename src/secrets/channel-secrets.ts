import { configValueAt } from '../domain/channel.js'
import { type ChannelSecrets, plaintextSecrets } from '../ports/channel-secrets.js'
import { describeSecrets, openConfig, resealConfig, sealConfig } from './sealed-config.js'
import { isSealed, type SecretBox, SecretBoxError } from './secret-box.js'

/**
 * The ChannelSecrets port over a SecretBox: every secret path sealed with AES-256-GCM,
 * bound to its tenant, channel and field.
 *
 * @example
 * createMessaging({ storage, secrets: channelSecrets(createSecretBox(secretKeysFromEnv(process.env))) })
 */
export function channelSecrets(box: SecretBox): ChannelSecrets {
  return {
    encrypts: true,
    seal: (def, config, owner) => sealConfig(box, def, config, owner),
    open: (def, config, owner) => openConfig(box, def, config, owner),
    reseal: (def, config, owner) => resealConfig(box, def, config, owner),
    describe: (def, config) =>
      describeSecrets(def, config).map((d) => ({ path: d.path, set: d.set, keyIds: d.keyIds })),
  }
}

/**
 * What a process given no key uses: secrets are kept as given (which only a store that
 * never reaches a disk accepts), and a value that another process sealed does not pass for
 * plaintext: opening it throws `SECRET_UNAVAILABLE` naming the setting that is missing, so
 * a worker started without keys holds such a channel's messages instead of sending a
 * sealed string as a password.
 */
export const keylessSecrets: ChannelSecrets = {
  ...plaintextSecrets,
  open(def, config, owner) {
    for (const path of def.secretPaths) {
      const v = configValueAt(config, path)
      if (isSealed(v) || (Array.isArray(v) && v.some(isSealed))) {
        throw new SecretBoxError(
          'SECRET_UNAVAILABLE',
          `secret at ${path} is sealed, but no key is configured: set MESSAGING_SECRET_KEYS or pass the secrets option`,
        )
      }
    }
    return plaintextSecrets.open(def, config, owner)
  },
}
