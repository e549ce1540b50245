import { EventEmitter } from 'node:events'
import type { ConsumerMessages, JsMsg, NatsConnection } from 'nats'
import { ChannelCache } from '../worker/channel-cache.js'
import { DeliverySlots } from '../worker/claim-loop.js'
import { CompletionBatcher } from '../worker/completion-batcher.js'
import type { DeliveryWorkerEvents } from '../worker/events.js'
import { type DeliveryWorkerOptions, resolveOptions, type WorkerSettings } from '../worker/options.js'
import { Reporter } from '../worker/reporter.js'
import { sleep } from '../worker/timers.js'
import { type BrokerDeliveryParts, BrokerShutdown, deliverFromBroker } from './broker-delivery.js'
import { ensureDeliveryConsumer } from './delivery-consumer.js'
import { DEFAULT_DUPLICATE_WINDOW_MS, DEFAULT_STREAM, DEFAULT_SUBJECT_PREFIX } from './relay-stream.js'

export interface JetStreamDeliveryWorkerOptions
  extends Omit<
    DeliveryWorkerOptions,
    'batchSize' | 'leaseMs' | 'renewEveryMs' | 'perTenantConcurrency' | 'pollIntervalMs'
  > {
  /** A connection whose user may create and pull the consumer (see `consumerPermissions`). */
  readonly connection: NatsConnection
  /** The relay's stream. Default `MESSAGING`. */
  readonly stream?: string
  /** The relay's subject prefix. Default `messaging`. */
  readonly subjectPrefix?: string
  /** The durable consumer every worker of this name shares. Default `messaging-delivery`. */
  readonly durable?: string
  /** Only this tenant's subjects (a consumer per tenant); default every tenant's. */
  readonly infrastructureId?: string
  /**
   * How long the outbox holds a message for the broker after each attempt: the broker's
   * backlog plus the backoff. As the relay's `holdMs`; default 1 h.
   */
  readonly holdMs?: number
  /**
   * The consumer's ack wait: a worker that dies mid-delivery has its messages handed to
   * another worker after this. A running delivery tells the broker it is alive every third
   * of it. Default `attemptTimeoutMs` + 5 s.
   */
  readonly ackWaitMs?: number
  /** The relay stream's duplicate window. Default 2 min. */
  readonly duplicateWindowMs?: number
  /** How long one pull waits for messages when there are none. Default 1 s (the least the client takes). */
  readonly pullWaitMs?: number
}

/** What `createJetStreamDeliveryWorker` gives: run it, stop it, listen to it (the database worker's events). */
export interface JetStreamDeliveryWorker {
  readonly workerId: string
  /** The host it names in its attempts. */
  readonly workerHost: string
  readonly events: EventEmitter<DeliveryWorkerEvents>
  /** Pulls and delivers until `signal` aborts or `stop()` is called, then shuts down cleanly. */
  run(signal?: AbortSignal): Promise<void>
  /** Stops pulling, lets deliveries in flight finish within the grace period, hands the rest back to the broker. */
  stop(): Promise<void>
}

/**
 * A delivery worker fed by the relay's JetStream stream instead of the outbox's claims: it
 * pulls from a durable consumer and runs each message through the same parts as the database
 * worker (channel cache, deliver-one with its redaction, rate limits and timeouts, the
 * completion batcher and the one settle path). Messages must be relayed with
 * `settle: 'delivered'`: the outbox holds each for the broker, and this worker settles it.
 * Any number of workers, on any hosts, share one durable consumer.
 *
 * @example
 * const relay = createJetStreamRelay({ jetstream: nc.jetstream(), settle: 'delivered' })
 * const consumer = createJetStreamDeliveryWorker({ messaging, fleet: true, connection: nc, transports: [webhook] })
 * await consumer.run(stop.signal)
 */
export function createJetStreamDeliveryWorker(
  options: JetStreamDeliveryWorkerOptions,
): JetStreamDeliveryWorker {
  const settings = resolveOptions({ ...options, pollIntervalMs: options.pullWaitMs ?? 1000 })
  const events = new EventEmitter<DeliveryWorkerEvents>()
  // An 'error' event without a listener would throw; the worker logs instead.
  events.on('error', () => {})
  const runtime = new BrokerRuntime(options, settings, events)
  let running: Promise<void> | null = null
  const worker: JetStreamDeliveryWorker = {
    workerId: settings.workerId,
    workerHost: settings.workerHost,
    events,
    run(signal) {
      if (running) return running
      runtime.stopping = signal?.aborted ?? false
      signal?.addEventListener('abort', () => void worker.stop(), { once: true })
      running = runtime.run().finally(() => {
        running = null
      })
      return running
    },
    async stop() {
      runtime.stop()
      await running
    },
  }
  return worker
}

class BrokerRuntime {
  stopping = false
  private readonly slots: DeliverySlots
  private readonly inFlight = new Map<JsMsg, { abort: AbortController; done: Promise<void> }>()
  private readonly parts: BrokerDeliveryParts
  private pulling: ConsumerMessages | null = null
  private slotFreed: (() => void) | null = null

  constructor(
    private readonly options: JetStreamDeliveryWorkerOptions,
    private readonly settings: WorkerSettings,
    events: EventEmitter<DeliveryWorkerEvents>,
  ) {
    const { port, timers } = settings
    this.slots = new DeliverySlots(settings.concurrency, Number.POSITIVE_INFINITY)
    this.parts = {
      port,
      channels: new ChannelCache({
        open: (i, c) => port.openChannel(i, c),
        ttlMs: settings.channelCacheMs,
        timers,
      }),
      deliverOptions: {
        ...settings,
        scope: port.scope,
        render: (held, channelType) => port.render(held, channelType),
      },
      batcher: new CompletionBatcher({
        settle: (items) => port.settle(items),
        delayMs: settings.completeDelayMs,
        batchSize: settings.completeBatchSize,
        inFlight: () => this.slots.used,
        timers,
      }),
      reporter: new Reporter(events, settings.logger, timers),
      events,
      logger: settings.logger,
      timers,
      holdMs: options.holdMs ?? 3_600_000,
      ackWaitMs: options.ackWaitMs ?? settings.attemptTimeoutMs + 5000,
      duplicateWindowMs: options.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS,
    }
  }

  stop(): void {
    this.stopping = true
    this.pulling?.stop()
    this.slotFreed?.()
  }

  async run(): Promise<void> {
    const o = this.options
    const stream = o.stream ?? DEFAULT_STREAM
    const prefix = o.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX
    const durable = o.durable ?? 'messaging-delivery'
    await ensureDeliveryConsumer(await o.connection.jetstreamManager({ checkAPI: false }), {
      stream,
      durable,
      filterSubject: o.infrastructureId ? `${prefix}.${o.infrastructureId}.>` : `${prefix}.>`,
      ackWaitMs: this.parts.ackWaitMs,
      // The broker hands out no more than the workers can hold (this one's share, times a few workers).
      maxAckPending: Math.max(1000, this.settings.concurrency * 10),
    })
    const consumer = await o.connection.jetstream().consumers.get(stream, durable)
    try {
      while (!this.stopping) {
        if (this.slots.free === 0) {
          await new Promise<void>((resolve) => {
            this.slotFreed = resolve
          })
          continue
        }
        try {
          this.pulling = await consumer.fetch({
            max_messages: this.slots.free,
            expires: this.settings.pollIntervalMs,
          })
          for await (const m of this.pulling) this.start(m)
        } catch (e) {
          if (this.stopping) break
          this.parts.reporter.storeFailed(e, 'pull from the broker failed; retrying after the pull wait')
          await sleep(this.settings.timers, this.settings.pollIntervalMs).done
        } finally {
          this.pulling = null
        }
      }
    } finally {
      await this.shutdown()
    }
  }

  private start(m: JsMsg): void {
    this.slots.take('')
    const abort = new AbortController()
    const done = deliverFromBroker(m, abort.signal, this.parts)
      .catch((e: unknown) => {
        // The store could not be reached: the broker hands the message out again after the backoff's base.
        m.nak(this.settings.retry.baseMs)
        this.parts.reporter.storeFailed(e, 'delivery bookkeeping failed; the broker redelivers it')
      })
      .finally(() => {
        this.inFlight.delete(m)
        this.slots.give('')
        const freed = this.slotFreed
        this.slotFreed = null
        freed?.()
      })
    this.inFlight.set(m, { abort, done })
  }

  /** In-flight deliveries get the grace period; the rest are aborted and go back to the broker. */
  private async shutdown(): Promise<void> {
    const pending = [...this.inFlight.values()]
    if (pending.length === 0) return
    const grace = sleep(this.settings.timers, this.settings.shutdownGraceMs)
    await Promise.race([Promise.all(pending.map((p) => p.done)), grace.done])
    grace.wake()
    for (const p of this.inFlight.values()) p.abort.abort(new BrokerShutdown('worker shutting down'))
    await Promise.all([...this.inFlight.values()].map((p) => p.done))
  }
}
