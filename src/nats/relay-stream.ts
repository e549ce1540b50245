import type { JetStreamManager, RetentionPolicy, StorageType, StreamConfig, StreamInfo } from 'nats'

export const DEFAULT_STREAM = 'MESSAGING'
export const DEFAULT_SUBJECT_PREFIX = 'messaging'
/** NATS's own default: a publish repeated within 2 minutes is dropped. */
export const DEFAULT_DUPLICATE_WINDOW_MS = 120_000

export interface RelayStreamOptions {
  /** Default `MESSAGING`. */
  readonly name?: string
  /** The stream takes `<subjectPrefix>.>`. Default `messaging`. */
  readonly subjectPrefix?: string
  /** Copies on that many servers of a cluster (1, 3 or 5). Default 1. */
  readonly replicas?: number
  /** A publish repeated with the same Nats-Msg-Id within this window is dropped. Default 2 min. */
  readonly duplicateWindowMs?: number
  /**
   * `workqueue` (default): a message leaves the stream once a consumer acknowledged it, and
   * the consumers' subjects may not overlap (one shared consumer, or one per tenant).
   * `limits`: messages stay until `maxAgeMs`, for consumers that read the same subjects.
   */
  readonly retention?: 'workqueue' | 'limits'
  /** Default: kept until acknowledged (`workqueue`) or 7 days (`limits`). */
  readonly maxAgeMs?: number
}

const ns = (ms: number) => ms * 1_000_000

/**
 * Creates the relay's stream, or brings an existing one to these settings (replicas, window,
 * age; its retention cannot change after creation). File storage: the stream is the copy of
 * record once the outbox let the message go.
 *
 * @example
 * await ensureRelayStream(await nc.jetstreamManager(), { replicas: 3 })
 */
export async function ensureRelayStream(
  jsm: JetStreamManager,
  options: RelayStreamOptions = {},
): Promise<StreamInfo> {
  const retention = options.retention ?? 'workqueue'
  const config: Partial<StreamConfig> & { name: string } = {
    name: options.name ?? DEFAULT_STREAM,
    subjects: [`${options.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX}.>`],
    retention: retention as RetentionPolicy,
    storage: 'file' as StorageType,
    num_replicas: options.replicas ?? 1,
    duplicate_window: ns(options.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS),
    max_age: ns(options.maxAgeMs ?? (retention === 'limits' ? 7 * 86_400_000 : 0)),
  }
  try {
    await jsm.streams.info(config.name)
  } catch (e) {
    if ((e as { code?: string }).code !== '404') throw e
    return jsm.streams.add(config)
  }
  return jsm.streams.update(config.name, config)
}
