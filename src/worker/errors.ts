import { isMessagingError } from '../domain/errors.js'

/**
 * A worker that cannot serve anyone as configured: raised by `createDeliveryWorker`, or by
 * `run()`/`drain()` when the store says at the first claim that no retry can help (a fleet
 * worker on PostgreSQL without a `messaging_worker` login, say). The message says the fix.
 */
export class WorkerConfigurationError extends Error {
  readonly code = 'WORKER_MISCONFIGURED'
  override get name(): string {
    return 'WorkerConfigurationError'
  }
}

/** True for a store error that names a setting to change, not a state to wait out. */
export function isMisconfiguration(e: unknown): boolean {
  return (
    isMessagingError(e) &&
    e.code === 'STORAGE_FAILURE' &&
    (e as { misconfigured?: unknown }).misconfigured === true
  )
}
