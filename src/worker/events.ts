import type { BreakerChange } from '../application/breaker-service.js'
import type { AttemptReport } from '../application/settle.js'
import type { ClaimedMessage } from '../domain/outbox-message.js'
import type { BreakerKey } from '../ports/breaker-repository.js'

/** The subset of a pino (or console-like) logger the worker uses. Nothing secret is ever passed to it. */
export interface WorkerLogger {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

export const silentLogger: WorkerLogger = { debug() {}, info() {}, warn() {}, error() {} }

/** Why a held message went back uncounted. */
export type ReleaseReason =
  | 'shutdown'
  | 'rate_limited'
  | 'channel_paused'
  | 'secrets_unavailable'
  | 'tenant_cap'
  | 'breaker_open'

/** What the worker tells its listeners. */
export interface DeliveryWorkerEvents {
  claimed: [messages: readonly ClaimedMessage[]]
  delivered: [message: ClaimedMessage, attempt: AttemptReport]
  retried: [message: ClaimedMessage, attempt: AttemptReport]
  failed: [message: ClaimedMessage, attempt: AttemptReport]
  dead: [message: ClaimedMessage, attempt: AttemptReport]
  /** Handed to a broker by a relay; `reference` is where the broker keeps it. */
  relayed: [message: ClaimedMessage, reference: string | null]
  released: [message: ClaimedMessage, reason: ReleaseReason]
  leaseLost: [message: ClaimedMessage]
  /** A channel's circuit breaker opened (or opened again after a failed probe); audited too. */
  breakerOpened: [channel: BreakerKey, change: BreakerChange]
  /** A channel's circuit breaker closed (a delivery went through after it opened); audited too. */
  breakerClosed: [channel: BreakerKey, change: BreakerChange]
  error: [error: unknown]
}

/** The ids a log line of one message carries: never its payload or its channel's config. */
export const logContext = (m: ClaimedMessage) => ({
  messageId: m.id,
  infrastructureId: m.infrastructureId,
  channelId: m.channelId,
})
