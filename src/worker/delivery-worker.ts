import { EventEmitter } from 'node:events'
import type { Span } from '@opentelemetry/api'
import type { ClaimedMessage } from '../domain/outbox-message.js'
import { DeliveryTelemetry } from '../telemetry/delivery-telemetry.js'
import { failSpan } from '../telemetry/tracing.js'
import { storeBreakers } from './breakers.js'
import { ChannelCache } from './channel-cache.js'
import { ClaimLoop, DeliverySlots } from './claim-loop.js'
import { CompletionBatcher } from './completion-batcher.js'
import { type DeliverOneOptions, deliverOne } from './deliver-one.js'
import { type DeliveryWorkerEvents, logContext, type ReleaseReason } from './events.js'
import { type HeldLease, LeaseRenewer } from './lease-renewer.js'
import { type DeliveryWorkerOptions, resolveOptions, type WorkerSettings } from './options.js'
import { Reporter } from './reporter.js'
import { sleep } from './timers.js'

export type { DeliveryWorkerEvents, WorkerLogger } from './events.js'
export type { DeliveryWorkerOptions } from './options.js'

export interface DeliveryWorker {
  readonly workerId: string
  /** The host it names in its attempts (and so in its events' attempt reports). */
  readonly workerHost: string
  readonly events: EventEmitter<DeliveryWorkerEvents>
  /**
   * Runs until `signal` aborts or `stop()` is called, then shuts down cleanly. Rejects with a
   * WorkerConfigurationError when the store says the worker cannot run as configured.
   */
  run(signal?: AbortSignal): Promise<void>
  /** Stops claiming, lets in-flight deliveries finish within the grace period, releases the rest. */
  stop(): Promise<void>
  /** Claims and delivers until nothing is due; returns how many messages were settled (or relayed). */
  drain(): Promise<number>
}

class ShutdownAbort extends Error {}
class LeaseLostAbort extends Error {}

/** A delivery in flight. */
interface Running {
  readonly abort: AbortController
  readonly done: Promise<void>
}

/**
 * A delivery worker: claims due messages fairly across tenants, hands each to the
 * transport of its channel's type, renews the lease while the transport runs, and settles
 * the message fenced by that lease. At-least-once: a worker that dies mid-delivery leaves
 * its messages to be claimed again once their lease lapses. Its parts, each in its own
 * file: the claim loop, the lease renewer, the completion batcher, the channel cache and
 * deliver-one; this function only wires them.
 *
 * @example
 * const worker = createDeliveryWorker({ messaging, principal: workerPrincipal, transports: [webhook] })
 * const stop = new AbortController()
 * process.once('SIGTERM', () => stop.abort())
 * await worker.run(stop.signal)
 */
export function createDeliveryWorker(options: DeliveryWorkerOptions): DeliveryWorker {
  const settings = resolveOptions(options)
  const events = new EventEmitter<DeliveryWorkerEvents>()
  // An 'error' event without a listener would throw; the worker logs instead.
  events.on('error', () => {})
  const parts = new WorkerRuntime(settings, events)
  let stopping = false
  let running: Promise<void> | null = null

  async function runLoop(): Promise<void> {
    const unsubscribe = settings.port.onWake(() => parts.loop.poke())
    try {
      await parts.loop.run(() => stopping)
    } finally {
      unsubscribe()
      await parts.shutdown()
    }
  }

  const worker: DeliveryWorker = {
    workerId: settings.workerId,
    workerHost: settings.workerHost,
    events,
    run(signal) {
      if (running) return running
      stopping = false
      if (signal?.aborted) stopping = true
      else signal?.addEventListener('abort', () => void worker.stop(), { once: true })
      running = runLoop().finally(() => {
        running = null
      })
      return running
    },
    async stop() {
      stopping = true
      parts.loop.poke()
      await running
    },
    drain: () => parts.drain(),
  }
  return worker
}

/** The worker's parts, connected: what carries each claimed message from claim to settle. */
class WorkerRuntime {
  readonly loop: ClaimLoop
  private readonly reporter: Reporter
  private readonly slots: DeliverySlots
  private readonly inFlight = new Map<string, Running>()
  private readonly renewer: LeaseRenewer
  private readonly batcher: CompletionBatcher
  private readonly channels: ChannelCache
  private readonly deliverOptions: DeliverOneOptions
  private readonly telemetry = new DeliveryTelemetry()

  constructor(
    private readonly settings: WorkerSettings,
    private readonly events: EventEmitter<DeliveryWorkerEvents>,
  ) {
    const { port, timers } = settings
    this.reporter = new Reporter(events, settings.logger, timers)
    this.slots = new DeliverySlots(settings.concurrency, settings.perTenantConcurrency)
    this.renewer = new LeaseRenewer({
      renew: (held) => port.renew(held, settings.leaseMs),
      renewEveryMs: settings.renewEveryMs,
      timers,
      onLost: (held) => {
        this.inFlight.get(held.id)?.abort.abort(new LeaseLostAbort('lease lost'))
        this.reporter.leaseLost(held)
      },
      onError: (held, e) =>
        settings.logger.warn({ ...logContext(held), err: String(e) }, 'lease renewal failed'),
    })
    this.batcher = new CompletionBatcher({
      settle: (items) => port.settle(items),
      delayMs: settings.completeDelayMs,
      batchSize: settings.completeBatchSize,
      inFlight: () => this.slots.used,
      timers,
    })
    this.channels = new ChannelCache({
      open: (i, c) => port.openChannel(i, c),
      ttlMs: settings.channelCacheMs,
      timers,
    })
    this.deliverOptions = {
      ...settings,
      breakers: storeBreakers(
        port,
        settings.breakerDefaults,
        {
          change: (channel, change) => this.reporter.breakerChanged(channel, change),
          error: (channel, e) =>
            settings.logger.warn({ ...channel, err: String(e) }, 'circuit breaker not recorded'),
        },
        () => timers.now(),
      ),
      scope: port.scope,
      render: (held, channelType) => port.render(held, channelType),
    }
    this.loop = new ClaimLoop({
      claim: (request) => this.telemetry.claim(() => port.claim(request)),
      slots: this.slots,
      batchSize: settings.batchSize,
      leaseMs: settings.leaseMs,
      pollIntervalMs: settings.pollIntervalMs,
      timers,
      start: (held) => this.start(held),
      giveBack: (held) => this.release(held, 0, 'tenant_cap'),
      onClaimed: (messages) => events.emit('claimed', messages),
      onError: (e, failures, retryInMs) => this.reporter.claimFailed(e, failures, retryInMs),
      onRecovered: (failures) => this.reporter.claimRecovered(failures),
      random: settings.random,
    })
  }

  /** Runs one claimed message (its slot already taken) and frees its slot when done. */
  private start(held: ClaimedMessage): void {
    const abort = new AbortController()
    const lease = this.renewer.hold(held)
    const done = this.deliver(held, lease, abort.signal).finally(() => {
      this.renewer.drop(held.id)
      this.inFlight.delete(held.id)
      this.slots.give(held.infrastructureId)
      this.loop.poke()
    })
    this.inFlight.set(held.id, { abort, done })
  }

  /** One attempt, in its `messaging deliver` span (a child of the enqueue's, when it was traced). */
  private deliver(held: ClaimedMessage, lease: HeldLease, signal: AbortSignal): Promise<void> {
    return this.telemetry.deliver(held, (span) => this.attempt(held, lease, signal, span))
  }

  private async attempt(
    held: ClaimedMessage,
    lease: HeldLease,
    signal: AbortSignal,
    span: Span,
  ): Promise<void> {
    const { telemetry } = this
    try {
      const lookup = await this.channels.lookup(held.infrastructureId, held.channelId)
      const step = await deliverOne(held, lookup, signal, this.deliverOptions)
      if (signal.reason instanceof ShutdownAbort) {
        return telemetry.settle(span, 'release', () => this.release(held, 0, 'shutdown'))
      }
      if (lease.lost) return
      if (step.action === 'release') {
        return telemetry.settle(span, 'release', () =>
          this.release(held, step.delayMs, step.reason, step.detail),
        )
      }
      this.renewer.settling(held.id)
      if (step.action === 'cancelled') return
      if (step.action === 'hand-off') {
        return telemetry.settle(span, 'hand-off', () => this.handOff(held, step.holdMs, step.reference))
      }
      const result = await telemetry.settle(span, 'settle', () =>
        this.batcher.submit({ held, report: step.report }),
      )
      this.reporter.settled(held, step.report, result)
      telemetry.settled(span, held, step.report, result)
    } catch (e) {
      // The settle (or the lookup) failed: the lease is dropped (see start) and lapses, the
      // message comes back, and its next attempt is recorded when that one settles.
      failSpan(span, e)
      this.reporter.storeFailed(e, 'delivery bookkeeping failed', held)
    }
  }

  private async release(held: ClaimedMessage, delayMs: number, reason: ReleaseReason, detail?: string) {
    try {
      await this.settings.port.release(held, delayMs)
      this.reporter.released(held, reason, detail)
    } catch (e) {
      // Releasing is a courtesy: if it fails, the lease lapses and the message is claimed again.
      this.settings.logger.warn(
        { ...logContext(held), err: String(e) },
        'release failed; the lease will lapse',
      )
    }
  }

  /** A relay handed the message to a broker whose workers settle it: hold its lease for them, settle nothing. */
  private async handOff(held: ClaimedMessage, holdMs: number, reference: string | null): Promise<void> {
    if (!(await this.settings.port.renew(held, holdMs))) {
      this.events.emit('leaseLost', held)
      this.settings.logger.warn(logContext(held), 'hand-off refused: the lease was lost before it landed')
      return
    }
    this.events.emit('relayed', held, reference)
    this.settings.logger.debug({ ...logContext(held), reference }, 'relayed')
  }

  /** In-flight deliveries get the grace period; the rest are aborted and released uncounted. */
  async shutdown(): Promise<void> {
    await Promise.all(this.loop.returns)
    const pending = [...this.inFlight.values()]
    if (pending.length === 0) return
    const grace = sleep(this.settings.timers, this.settings.shutdownGraceMs)
    await Promise.race([Promise.all(pending.map((p) => p.done)), grace.done])
    grace.wake()
    for (const p of this.inFlight.values()) p.abort.abort(new ShutdownAbort('worker shutting down'))
    await Promise.all([...this.inFlight.values()].map((p) => p.done))
  }

  /** Claims and delivers until nothing is due; returns how many messages were settled (or relayed). */
  async drain(): Promise<number> {
    let settled = 0
    const count = () => settled++
    const outcomes = ['delivered', 'retried', 'failed', 'dead', 'relayed'] as const
    for (const e of outcomes) this.events.on(e, count)
    try {
      for (;;) {
        const { claimed } = await this.loop.claimOnce()
        if (claimed === 0 && this.inFlight.size === 0 && this.loop.returns.length === 0) break
        // A message over its tenant's cap is due again once its hand-back lands: wait for that too.
        const running = [...this.inFlight.values()].map((p) => p.done)
        if (claimed === 0) await Promise.race([...running, ...this.loop.returns])
      }
    } finally {
      for (const e of outcomes) this.events.off(e, count)
    }
    return settled
  }
}
