export { createJetStreamRelay, type JetStreamRelay, type JetStreamRelayOptions } from './jetstream-relay.js'
export {
  createJetStreamDeliveryWorker,
  type JetStreamDeliveryWorker,
  type JetStreamDeliveryWorkerOptions,
} from './jetstream-worker.js'
export { consumerPermissions, type NatsPermissions, relayPermissions } from './permissions.js'
export {
  decodeEnvelope,
  type RelayEnvelope,
  type RelaySettle,
  relaySubject,
} from './relay-envelope.js'
export {
  DEFAULT_DUPLICATE_WINDOW_MS,
  DEFAULT_STREAM,
  DEFAULT_SUBJECT_PREFIX,
  ensureRelayStream,
  type RelayStreamOptions,
} from './relay-stream.js'
