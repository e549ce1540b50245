export { channelSecrets, keylessSecrets } from './channel-secrets.js'
export {
  describeSecrets,
  openConfig,
  resealConfig,
  type SecretDescription,
  type SecretScope,
  sealConfig,
  secretContext,
} from './sealed-config.js'
export {
  createSecretBox,
  isSealed,
  type SecretBox,
  SecretBoxError,
  type SecretBoxErrorCode,
  type SecretBoxOptions,
  sealedKeyId,
  secretKeysFromEnv,
} from './secret-box.js'
