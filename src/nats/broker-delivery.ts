import type { EventEmitter } from 'node:events'
import type { JsMsg } from 'nats'
import type { DeliveryPort } from '../application/delivery-port.js'
import type { AttemptReport } from '../application/settle.js'
import type { ClaimedMessage } from '../domain/outbox-message.js'
import type { ChannelCache } from '../worker/channel-cache.js'
import type { CompletionBatcher } from '../worker/completion-batcher.js'
import { type DeliverOneOptions, type DeliveryStep, deliverOne } from '../worker/deliver-one.js'
import { type DeliveryWorkerEvents, logContext, type WorkerLogger } from '../worker/events.js'
import type { Reporter } from '../worker/reporter.js'
import { sleep, type Timers } from '../worker/timers.js'
import { decodeEnvelope, heldFromEnvelope } from './relay-envelope.js'

export interface BrokerDeliveryParts {
  readonly port: DeliveryPort
  readonly channels: ChannelCache
  readonly deliverOptions: DeliverOneOptions
  readonly batcher: CompletionBatcher
  readonly reporter: Reporter
  readonly events: EventEmitter<DeliveryWorkerEvents>
  readonly logger: WorkerLogger
  readonly timers: Timers
  /** How long the outbox holds the message for the broker after each attempt (as the relay's `holdMs`). */
  readonly holdMs: number
  /** The consumer's ack wait: a delivery in progress tells the broker so well within it. */
  readonly ackWaitMs: number
  /** The relay stream's duplicate window: a message given back to the outbox waits it out. */
  readonly duplicateWindowMs: number
}

/** Why a delivery was cut short: the worker is stopping; the broker will hand the message on. */
export class BrokerShutdown extends Error {}

/**
 * One message from the broker, carried to its one outcome. The outbox message stays held under
 * the relay's lease the whole time (`settle: 'delivered'`); every step is fenced by it:
 *
 * - the lease is extended first: refused, the message was settled already (a worker died
 *   between its settle and its ack) or the outbox took it back (the hold lapsed): the broker's
 *   copy is dropped (`term`), not delivered again;
 * - delivered, or failed for good, or failed on its last attempt: settled through the one
 *   settle path (`processed`, `failed`, `dead` with its attempt), then acknowledged;
 * - failed with attempts left: the attempt is recorded and the lease extended (`retain`), then
 *   the broker is told to redeliver after the module's backoff (`nak(delay)`);
 * - rate-limited: waits here, the attempt not spent; a paused channel (or secrets that do
 *   not open): given back to the outbox uncounted, to be relayed again once due.
 *
 * The attempt number is the broker's delivery number after the outbox's earlier claims, so
 * a delivery cut short (a worker killed, or stopped mid-call) counts, as a lapsed lease does.
 */
export async function deliverFromBroker(
  m: JsMsg,
  signal: AbortSignal,
  parts: BrokerDeliveryParts,
): Promise<void> {
  const envelope = decodeEnvelope(m.data)
  if (envelope === null || envelope.settle !== 'delivered') {
    // Not the module's to settle: a stranger's publish, or a relay settling on publish.
    m.term(envelope === null ? 'not a relay envelope' : "relayed with settle: 'published'")
    parts.logger.error(
      { subject: m.subject, seq: m.seq, messageId: envelope?.id },
      "dropped from the broker: only messages relayed with settle: 'delivered' are delivered here",
    )
    return
  }
  const attempt = envelope.attempts - 1 + m.info.deliveryCount
  const held = heldFromEnvelope(envelope, attempt, new Date(parts.timers.now() + parts.holdMs))
  if (!(await parts.port.renew(held, parts.holdMs))) {
    m.term('the outbox no longer holds it for the broker')
    parts.reporter.leaseLost(held)
    return
  }
  const step = await attemptOnce(held, m, signal, parts)
  if (signal.aborted) {
    // Stopped mid-call: another worker takes it at once; the call may have gone out, so it counts.
    m.nak()
    return
  }
  await finish(held, m, step, parts)
}

/** deliver-one, the broker kept told that the message is in progress; a rate limit waited out here. */
async function attemptOnce(
  held: ClaimedMessage,
  m: JsMsg,
  signal: AbortSignal,
  parts: BrokerDeliveryParts,
): Promise<DeliveryStep> {
  const { timers } = parts
  let ticker = timers.setTimeout(function tick() {
    m.working()
    ticker = timers.setTimeout(tick, parts.ackWaitMs / 3)
  }, parts.ackWaitMs / 3)
  try {
    for (;;) {
      const lookup = await parts.channels.lookup(held.infrastructureId, held.channelId)
      const step = await deliverOne(held, lookup, signal, parts.deliverOptions)
      if (step.action !== 'release' || step.reason !== 'rate_limited' || signal.aborted) return step
      const wait = sleep(timers, step.delayMs)
      const wake = () => wait.wake()
      signal.addEventListener('abort', wake, { once: true })
      await wait.done
      signal.removeEventListener('abort', wake)
    }
  } finally {
    timers.clearTimeout(ticker)
  }
}

async function finish(held: ClaimedMessage, m: JsMsg, step: DeliveryStep, parts: BrokerDeliveryParts) {
  if (step.action === 'release') {
    // Waiting at the broker would count deliveries the module does not count: the outbox keeps
    // it instead, past the duplicate window so the next relay is not dropped as a repeat.
    const delayMs = Math.max(step.delayMs, parts.duplicateWindowMs)
    if (await parts.port.release(held, delayMs)) parts.reporter.released(held, step.reason, step.detail)
    m.term('given back to the outbox')
    return
  }
  if (step.action === 'cancelled') {
    m.term('cancelled in the outbox: a digest with no item left')
    return
  }
  if (step.action === 'hand-off') {
    // A relay among the broker worker's transports passed it on again: held for that broker.
    if (await parts.port.renew(held, step.holdMs)) parts.events.emit('relayed', held, step.reference)
    await ack(m, held, parts)
    return
  }
  const { report } = step
  if (report.outcome === 'retryable' && held.attempts < held.maxAttempts) return retry(held, m, report, parts)
  const result = await parts.batcher.submit({ held, report })
  parts.reporter.settled(held, report, result)
  if (result.acked) await ack(m, held, parts)
  else m.term('the outbox no longer holds it for the broker')
}

/** Records the attempt and extends the hold over the backoff, then has the broker redeliver after it. */
async function retry(held: ClaimedMessage, m: JsMsg, report: AttemptReport, parts: BrokerDeliveryParts) {
  const delayMs = report.retryAfterMs ?? 0
  const [kept] = await parts.port.retain([{ held, report, holdMs: parts.holdMs + delayMs }])
  if (!kept) {
    m.term('the outbox no longer holds it for the broker')
    parts.reporter.leaseLost(held)
    return
  }
  m.nak(delayMs)
  parts.events.emit('retried', held, report)
  parts.logger.info(
    {
      ...logContext(held),
      attempt: held.attempts,
      errorCode: report.errorCode,
      error: report.error,
      retryInMs: delayMs,
    },
    'delivery failed; the broker redelivers it after the backoff',
  )
}

/**
 * Settled first, acknowledged after: a worker that dies between the two leaves a copy the
 * broker hands out again, and the next worker drops it at the lease (already settled).
 */
async function ack(m: JsMsg, held: ClaimedMessage, parts: BrokerDeliveryParts): Promise<void> {
  try {
    await m.ackAck()
  } catch (e) {
    parts.logger.warn(
      { ...logContext(held), err: String(e) },
      'broker ack unconfirmed; a redelivery is dropped at the lease',
    )
  }
}
