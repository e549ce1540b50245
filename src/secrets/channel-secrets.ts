import type { ChannelSecrets } from '../ports/channel-secrets.js'
import { describeSecrets, openConfig, resealConfig, sealConfig } from './sealed-config.js'
import type { SecretBox } from './secret-box.js'

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
