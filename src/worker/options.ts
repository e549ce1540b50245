import { hostname } from 'node:os'
import type { DeliveryPort } from '../application/delivery-port.js'
import type { BreakerPolicy } from '../domain/breaker.js'
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../domain/delivery.js'
import type { Principal } from '../domain/tenant-scope.js'
import type { Messaging } from '../messaging.js'
import { randomIds } from '../ports/id-generator.js'
import type { RelayTransport, Transport } from '../ports/transport.js'
import { WorkerConfigurationError } from './errors.js'
import { silentLogger, type WorkerLogger } from './events.js'
import { type RateLimiter, storeRateLimiter } from './rate-limiter.js'
import { systemTimers, type Timers } from './timers.js'

export interface DeliveryWorkerOptions {
  /** The module: the worker asks it for its DeliveryPort (or pass `delivery` itself). */
  readonly messaging?: Messaging
  /** The narrow interface the worker runs on; default `messaging.deliveryPort(...)` for `principal` or `fleet`. */
  readonly delivery?: DeliveryPort
  /** A `service` principal: the worker serves the tenants of its grants. */
  readonly principal?: Principal
  /** Serve every tenant (on PostgreSQL, as the messaging_worker role). Excludes `principal`. */
  readonly fleet?: boolean
  /** A UUID naming this worker in attempt records. Default: random. */
  readonly workerId?: string
  /** The host this worker runs on, recorded with each of its attempts. Default: `os.hostname()`. */
  readonly workerHost?: string
  /** One per channel type; a relay (`messaging/nats`) stands in for the types it relays. */
  readonly transports: readonly (Transport | RelayTransport)[]
  /** Deliveries in flight at once. Default 10. */
  readonly concurrency?: number
  /** Messages per claim. Default: the free slots, at most `concurrency`. */
  readonly batchSize?: number
  /** Lease per claim; renewed while a delivery runs. Default 30 s. */
  readonly leaseMs?: number
  /** Default a third of the lease. */
  readonly renewEveryMs?: number
  /** Idle poll when no wake-up arrives. Default 1 s. */
  readonly pollIntervalMs?: number
  /** One transport call's limit; past it the attempt is a retryable `timeout`. Default 25 s. */
  readonly attemptTimeoutMs?: number
  readonly retry?: Partial<RetryPolicy>
  /** Deliveries in flight per infrastructure. Default: no cap. */
  readonly perTenantConcurrency?: number
  /** On shutdown, in-flight deliveries get this long to finish; the rest are released. Default 10 s. */
  readonly shutdownGraceMs?: number
  /**
   * A paused channel's messages (disabled, or whose secrets do not open here) go back
   * uncounted and are looked at again after this long. Default 30 s.
   */
  readonly pausedChannelDelayMs?: number
  /**
   * Completions are coalesced: a finished delivery waits up to this long for others to settle
   * with it in one unit of work (at once when no other delivery is still running). Default 2 ms.
   */
  readonly completeDelayMs?: number
  /** At most this many completions in one unit of work. Default 100. */
  readonly completeBatchSize?: number
  /**
   * How long a looked-up channel (with its secrets opened) is reused for the next messages of
   * that channel. A channel that is missing, disabled or whose secrets do not open is never
   * reused. A change to a channel reaches a running worker within this. Default 2 s.
   */
  readonly channelCacheMs?: number
  /**
   * Decides when a rate-limited channel's next message may go. Default: the channel's bucket
   * in the store, shared by every worker (`storeRateLimiter`); `localRateLimiter` keeps one
   * per process instead (no round trip, but N workers send N times the rate).
   */
  readonly rateLimiter?: RateLimiter
  /**
   * Circuit breakers per channel, shared by every worker of the store: the defaults a channel's
   * own `breaker` field overrides. Default: 5 failed attempts within 60 s open a channel's
   * breaker for a 30 s cool-down (DEFAULT_BREAKER_POLICY); in-app channels have none unless
   * they set one. `false`: none, except on channels that set one.
   */
  readonly breakers?: Partial<BreakerPolicy> | false
  readonly logger?: WorkerLogger
  /** For the jitter; tests pin it. */
  readonly random?: () => number
  /** The worker's clock and timers; tests pass a fake one. */
  readonly timers?: Timers
}

/** Every setting with its default filled in. */
export interface WorkerSettings {
  readonly port: DeliveryPort
  readonly workerId: string
  readonly workerHost: string
  readonly transports: ReadonlyMap<string, Transport | RelayTransport>
  readonly concurrency: number
  readonly batchSize: number
  readonly leaseMs: number
  readonly renewEveryMs: number
  readonly pollIntervalMs: number
  readonly attemptTimeoutMs: number
  readonly retry: RetryPolicy
  readonly perTenantConcurrency: number
  readonly shutdownGraceMs: number
  readonly pausedChannelDelayMs: number
  readonly completeDelayMs: number
  readonly completeBatchSize: number
  readonly channelCacheMs: number
  readonly rateLimiter: RateLimiter
  readonly breakerDefaults: Partial<BreakerPolicy> | false
  readonly logger: WorkerLogger
  readonly random: () => number
  readonly timers: Timers
}

/** Fills in the defaults; throws WorkerConfigurationError for a worker that could not serve anyone. */
export function resolveOptions(options: DeliveryWorkerOptions): WorkerSettings {
  if (options.fleet && options.principal)
    throw new WorkerConfigurationError('a worker is either scoped by a principal or a fleet worker, not both')
  const workerId = options.workerId ?? randomIds.next()
  const concurrency = options.concurrency ?? 10
  const leaseMs = options.leaseMs ?? 30_000
  const timers = options.timers ?? systemTimers
  const port = options.delivery ?? portOf(options, workerId)
  return {
    port,
    workerId,
    workerHost: options.workerHost ?? hostname(),
    transports: new Map(options.transports.map((t) => [t.channelType.type, t])),
    concurrency,
    batchSize: Math.min(options.batchSize ?? concurrency, concurrency),
    leaseMs,
    renewEveryMs: options.renewEveryMs ?? Math.max(50, Math.floor(leaseMs / 3)),
    pollIntervalMs: options.pollIntervalMs ?? 1000,
    attemptTimeoutMs: options.attemptTimeoutMs ?? 25_000,
    retry: { ...DEFAULT_RETRY_POLICY, ...options.retry },
    perTenantConcurrency: options.perTenantConcurrency ?? Number.POSITIVE_INFINITY,
    shutdownGraceMs: options.shutdownGraceMs ?? 10_000,
    pausedChannelDelayMs: options.pausedChannelDelayMs ?? 30_000,
    completeDelayMs: options.completeDelayMs ?? 2,
    completeBatchSize: Math.max(1, options.completeBatchSize ?? 100),
    channelCacheMs: options.channelCacheMs ?? 2000,
    rateLimiter: options.rateLimiter ?? storeRateLimiter(port),
    breakerDefaults: options.breakers ?? {},
    logger: options.logger ?? silentLogger,
    random: options.random ?? Math.random,
    timers,
  }
}

function portOf(options: DeliveryWorkerOptions, workerId: string): DeliveryPort {
  if (!options.messaging) throw new WorkerConfigurationError('a worker needs messaging (or a delivery port)')
  if (options.fleet) return options.messaging.deliveryPort({ fleet: true, workerId })
  if (options.principal) return options.messaging.deliveryPort({ principal: options.principal })
  throw new WorkerConfigurationError('a worker needs a service principal or fleet: true')
}
