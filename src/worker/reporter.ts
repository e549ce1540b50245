import type { EventEmitter } from 'node:events'
import type { BreakerChange } from '../application/breaker-service.js'
import type { AttemptReport, SettleResult } from '../application/settle.js'
import type { ClaimedMessage } from '../domain/outbox-message.js'
import type { BreakerKey } from '../ports/breaker-repository.js'
import { type DeliveryWorkerEvents, logContext, type ReleaseReason, type WorkerLogger } from './events.js'
import type { Timers } from './timers.js'

/** A warning about one channel is repeated at most this often, however many messages it holds. */
const WARN_EVERY_MS = 60_000

/**
 * Turns what happened to each message into the worker's events and log lines: one event
 * per settled message, a log level by how it ended, and the (redacted, cleaned) error.
 */
export class Reporter {
  private readonly warned = new Map<string, number>()
  /** The reason of the failed claims in a row, as last logged (null: claims succeed). */
  private claimFailure: string | null = null

  constructor(
    private readonly events: EventEmitter<DeliveryWorkerEvents>,
    private readonly log: WorkerLogger,
    private readonly timers: Timers,
  ) {}

  settled(held: ClaimedMessage, report: AttemptReport, result: SettleResult): void {
    if (!result.acked) {
      this.events.emit('leaseLost', held)
      this.log.warn(logContext(held), 'ack refused: the lease was lost before it landed')
      return
    }
    const ctx = {
      ...logContext(held),
      attempt: held.attempts,
      status: result.status,
      errorCode: report.errorCode,
    }
    const error = report.error
    if (result.status === 'processed') {
      this.events.emit('delivered', held, report)
      this.log.debug(ctx, 'delivered')
    } else if (result.status === 'pending') {
      this.events.emit('retried', held, report)
      this.log.info({ ...ctx, retryInMs: report.retryAfterMs, error }, 'delivery failed; will retry')
    } else if (result.status === 'dead') {
      this.events.emit('dead', held, report)
      this.log.warn({ ...ctx, error }, 'delivery failed on its last attempt; message is dead')
    } else {
      this.events.emit('failed', held, report)
      this.log.warn({ ...ctx, error }, 'delivery failed permanently')
    }
  }

  released(held: ClaimedMessage, reason: ReleaseReason, detail?: string): void {
    this.events.emit('released', held, reason)
    if (detail === undefined) return
    // A channel whose secrets do not open holds every message of it: say so, not once per message.
    const key = `${held.infrastructureId}/${held.channelId}/${reason}`
    const now = this.timers.now()
    const last = this.warned.get(key)
    if (last !== undefined && now - last < WARN_EVERY_MS) return
    if (this.warned.size >= 10_000) this.warned.clear()
    this.warned.set(key, now)
    this.log.warn(
      { infrastructureId: held.infrastructureId, channelId: held.channelId, reason, detail },
      'messages of this channel are held, attempts not spent',
    )
  }

  /** A channel's breaker opened or closed: an event, and a log line (the audit entry is the store's). */
  breakerChanged(channel: BreakerKey, change: BreakerChange): void {
    if (change.transition === 'closed') {
      this.events.emit('breakerClosed', channel, change)
      this.log.info({ ...channel }, 'circuit breaker closed; the channel delivers again')
      return
    }
    this.events.emit('breakerOpened', channel, change)
    const retryInMs = change.state.retryAt === null ? null : change.state.retryAt - change.at
    this.log.warn(
      { ...channel, failures: change.state.failures, retryInMs, reopened: change.transition === 'reopened' },
      "circuit breaker open; the channel's messages wait, attempts not spent",
    )
  }

  leaseLost(held: ClaimedMessage): void {
    this.events.emit('leaseLost', held)
    this.log.warn(logContext(held), 'lease lost; another worker holds the message now')
  }

  /**
   * A claim failed. Every failure is an `error` event; the log says so once per state
   * change: when the store goes away, and again only if the reason changes (the server
   * comes up before its database or tables do, say), not once per try.
   */
  claimFailed(error: unknown, failures: number, retryInMs: number): void {
    this.events.emit('error', error)
    const reason = String(error)
    if (failures > 1 && reason === this.claimFailure) return
    this.claimFailure = reason
    this.log.error({ err: reason, retryInMs }, 'store unavailable; claiming again with capped backoff')
  }

  /** A claim succeeded after failed ones: the store is back. */
  claimRecovered(failures: number): void {
    this.claimFailure = null
    this.log.info({ failedClaims: failures }, 'store available again; claiming')
  }

  /** A store call failed: the lease lapses and the message is claimed again; the worker lives on. */
  storeFailed(error: unknown, what: string, held?: ClaimedMessage): void {
    this.events.emit('error', error)
    this.log.error({ ...(held && logContext(held)), err: String(error) }, what)
  }
}
