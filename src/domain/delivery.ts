/** What the worker records of each attempt, delivered or not. */
export interface DeliveryAttempt {
  readonly id: string
  readonly infrastructureId: string
  readonly messageId: string
  /** 1 for the first attempt. */
  readonly attempt: number
  readonly workerId: string
  /** The host the worker ran on (its `workerHost`; by default the machine's host name); null for an ack over HTTP. */
  readonly workerHost: string | null
  readonly startedAt: Date
  readonly finishedAt: Date
  readonly durationMs: number
  readonly outcome: 'delivered' | 'retryable' | 'permanent'
  /** A short machine-readable cause: `http_503`, `timeout`, `transport_threw`, ... */
  readonly errorCode: string | null
  /** The error text with every known secret redacted. */
  readonly error: string | null
  readonly providerMessageId: string | null
  /**
   * Which of the channel's providers the attempt went out through: an email channel's SMTP
   * relay or an SMS channel's provider (its `name`, or `smtp:<host>:<port>`, `provider:<host>`,
   * `twilio`), the last one tried when all failed; null for a single-endpoint type (webhook,
   * in-app) and attempts recorded before it was kept. Always present in reads.
   */
  readonly provider?: string | null
}

/** Queue health of one channel of one tenant. */
/** A channel's outbox rows by state, as a store counts them (ChannelStats without the digests). */
export interface QueueCounts {
  readonly infrastructureId: string
  readonly channelId: string
  /** Waiting, due or not. */
  readonly pending: number
  /** Held under a lease (live or lapsed). */
  readonly inFlight: number
  readonly processed: number
  readonly failed: number
  readonly dead: number
  /** Cancelled before delivery (and not yet pruned). */
  readonly cancelled: number
  /** Delivered, and the provider's receipt says it reached the recipient (and not yet pruned). */
  readonly confirmed: number
  /** Delivered, and the provider's receipt says it did not reach the recipient (and not yet pruned). */
  readonly bounced: number
  /** Age of the oldest due pending message; null when none is due. */
  readonly oldestPendingAgeMs: number | null
}

/** Queue health of one tenant's channel. */
export interface ChannelStats extends QueueCounts {
  /**
   * Messages held in the channel's digests not yet closed (a category's notifications, a
   * channel's plain enqueues): they go out as one delivery each digest, when it closes. Read
   * by `infra_admin` and `service` (a member reads 0: digests hold others' data).
   */
  readonly digested: number
}

/** Exponential backoff with full jitter (the AWS architecture blog's "full jitter": uniform in [0, cap]). */
export interface RetryPolicy {
  /** The first retry's upper bound. Default 1 s. */
  readonly baseMs: number
  /** No retry waits longer. Default 10 min. */
  readonly maxMs: number
}

const MAX_RETRY_AFTER_MS = 24 * 3_600_000

export const DEFAULT_RETRY_POLICY: RetryPolicy = { baseMs: 1000, maxMs: 10 * 60_000 }

/**
 * The wait before retry number `attempt` (1-based): uniform in [0, min(maxMs, baseMs * 2^(attempt-1))].
 * A provider's Retry-After, when given, is a floor (capped at a day).
 */
export function backoffMs(
  attempt: number,
  policy: RetryPolicy,
  random: () => number,
  retryAfterMs?: number,
): number {
  const cap = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, Math.min(attempt - 1, 40)))
  const jittered = Math.floor(random() * cap)
  // The provider knows its own load: its Retry-After wins over maxMs, up to a day.
  return Math.max(jittered, Math.min(retryAfterMs ?? 0, MAX_RETRY_AFTER_MS))
}
