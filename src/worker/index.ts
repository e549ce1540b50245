export { type BreakerPolicy, DEFAULT_BREAKER_POLICY } from '../domain/breaker.js'
export { ChannelCache, type ChannelCacheOptions } from './channel-cache.js'
export { CompletionBatcher, type CompletionBatcherOptions } from './completion-batcher.js'
export { type DeliverOneOptions, type DeliveryStep, deliverOne } from './deliver-one.js'
export { createDeliveryWorker, type DeliveryWorker } from './delivery-worker.js'
export { WorkerConfigurationError } from './errors.js'
export {
  createEventDispatcher,
  type EventDispatcher,
  type EventDispatcherOptions,
} from './event-dispatcher.js'
export type { DeliveryWorkerEvents, ReleaseReason, WorkerLogger } from './events.js'
export { type HeldLease, LeaseRenewer, type LeaseRenewerOptions } from './lease-renewer.js'
export type { DeliveryWorkerOptions } from './options.js'
export {
  localRateLimiter,
  type RateLimitedChannel,
  type RateLimiter,
  storeRateLimiter,
} from './rate-limiter.js'
export { systemTimers, type TimerHandle, type Timers } from './timers.js'
export { TokenBuckets } from './token-bucket.js'
