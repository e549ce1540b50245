import { EventEmitter } from 'node:events'
import { z } from 'zod'
import type { ChannelLookup } from '../application/channel-opener.js'
import type { DeliveryPort } from '../application/delivery-port.js'
import type { AttemptReport, SettleResult } from '../application/settle.js'
import type { Channel } from '../domain/channel.js'
import { backoffMs, DEFAULT_RETRY_POLICY, type RetryPolicy } from '../domain/delivery.js'
import type { ClaimedMessage } from '../domain/outbox-message.js'
import type { Principal } from '../domain/tenant-scope.js'
import type { Messaging } from '../messaging.js'
import { randomIds } from '../ports/id-generator.js'
import type { DeliveryOutcome, HandOff, RelayTransport, Transport } from '../ports/transport.js'
import { TokenBuckets } from './token-bucket.js'

/** The subset of a pino (or console-like) logger the worker uses. Nothing secret is ever passed to it. */
export interface WorkerLogger {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

const silent: WorkerLogger = { debug() {}, info() {}, warn() {}, error() {} }

export interface DeliveryWorkerOptions {
  /** The module: the worker asks it for its DeliveryPort (give `delivery` instead to pass one). */
  readonly messaging?: Messaging
  /** The narrow interface the worker runs on; default `messaging.deliveryPort(...)` for `principal` or `fleet`. */
  readonly delivery?: DeliveryPort
  /** A `service` principal: the worker serves the tenants of its grants. */
  readonly principal?: Principal
  /** Serve every tenant (on PostgreSQL, as the messaging_worker role). Excludes `principal`. */
  readonly fleet?: boolean
  /** A UUID naming this worker in attempt records. Default: random. */
  readonly workerId?: string
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
  /** A disabled channel's messages wait this long before they are looked at again. Default 30 s. */
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
  readonly logger?: WorkerLogger
  /** For the jitter; tests pin it. */
  readonly random?: () => number
}

/** What the worker tells its listeners. */
export interface DeliveryWorkerEvents {
  claimed: [messages: readonly ClaimedMessage[]]
  delivered: [message: ClaimedMessage, attempt: AttemptReport]
  retried: [message: ClaimedMessage, attempt: AttemptReport]
  failed: [message: ClaimedMessage, attempt: AttemptReport]
  dead: [message: ClaimedMessage, attempt: AttemptReport]
  /** Handed to a broker by a relay; `reference` is where the broker keeps it. */
  relayed: [message: ClaimedMessage, reference: string | null]
  released: [
    message: ClaimedMessage,
    reason: 'shutdown' | 'rate_limited' | 'channel_paused' | 'secrets_unavailable' | 'tenant_cap',
  ]
  leaseLost: [message: ClaimedMessage]
  error: [error: unknown]
}

export interface DeliveryWorker {
  readonly workerId: string
  readonly events: EventEmitter<DeliveryWorkerEvents>
  /** Runs until `signal` aborts or `stop()` is called, then shuts down cleanly. */
  run(signal?: AbortSignal): Promise<void>
  /** Stops claiming, lets in-flight deliveries finish within the grace period, releases the rest. */
  stop(): Promise<void>
  /** Claims and delivers until nothing is due; returns how many messages were settled. */
  drain(): Promise<number>
}

const outcomeSchema = z.discriminatedUnion('status', [
  z.object({ status: z.literal('delivered'), providerMessageId: z.string().max(500).optional() }),
  z.object({
    status: z.literal('retryable'),
    error: z.string(),
    code: z.string().max(100).optional(),
    retryAfterMs: z.number().nonnegative().optional(),
  }),
  z.object({ status: z.literal('permanent'), error: z.string(), code: z.string().max(100).optional() }),
  z.object({
    status: z.literal('relayed'),
    holdMs: z.number().int().positive(),
    reference: z.string().max(500).optional(),
  }),
])

class ShutdownAbort extends Error {}

/** A delivery in flight: its lease's state as the renewal ticker sees it. */
interface InFlight {
  readonly held: ClaimedMessage
  readonly abort: AbortController
  done: Promise<void>
  /** When the lease was last taken or renewed (ms since the epoch). */
  renewedAt: number
  /** A renewal found the lease taken by another worker. */
  lost: boolean
  /** Its completion is on its way: a refused renewal no longer means anything. */
  settling: boolean
}
class LeaseLostAbort extends Error {}

const MAX_ERROR_TEXT = 2000

/**
 * A delivery worker: claims due messages fairly across tenants, hands each to the
 * transport of its channel's type, renews the lease while the transport runs, and settles
 * the message fenced by that lease. At-least-once: a worker that dies mid-delivery leaves
 * its messages to be claimed again once their lease lapses.
 *
 * @example
 * const worker = createDeliveryWorker({ messaging, principal: workerPrincipal, transports: [webhook] })
 * const stop = new AbortController()
 * process.once('SIGTERM', () => stop.abort())
 * await worker.run(stop.signal)
 */
export function createDeliveryWorker(options: DeliveryWorkerOptions): DeliveryWorker {
  if (options.fleet && options.principal)
    throw new Error('a worker is either scoped by a principal or a fleet worker')
  const workerId = options.workerId ?? randomIds.next()
  const port = options.delivery ?? portOf(options, workerId)
  const { scope } = port
  const concurrency = options.concurrency ?? 10
  const batchSize = Math.min(options.batchSize ?? concurrency, concurrency)
  const leaseMs = options.leaseMs ?? 30_000
  const renewEveryMs = options.renewEveryMs ?? Math.max(50, Math.floor(leaseMs / 3))
  const pollIntervalMs = options.pollIntervalMs ?? 1000
  const attemptTimeoutMs = options.attemptTimeoutMs ?? 25_000
  const retry: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry }
  const perTenant = options.perTenantConcurrency ?? Number.POSITIVE_INFINITY
  const graceMs = options.shutdownGraceMs ?? 10_000
  const pausedDelayMs = options.pausedChannelDelayMs ?? 30_000
  const log = options.logger ?? silent
  const random = options.random ?? Math.random
  const completeDelayMs = options.completeDelayMs ?? 2
  const completeBatchSize = Math.max(1, options.completeBatchSize ?? 100)
  const channelCacheMs = options.channelCacheMs ?? 2000
  const transports = new Map(options.transports.map((t) => [t.channelType.type, t]))
  const buckets = new TokenBuckets()
  const events = new EventEmitter<DeliveryWorkerEvents>()
  // An 'error' event without a listener would throw; the worker logs instead.
  events.on('error', () => {})

  const inflight = new Map<string, InFlight>()
  const perTenantInflight = new Map<string, number>()
  /** Releases of claimed messages over a tenant's cap, still on their way back to the store. */
  const releasing = new Set<Promise<void>>()
  let stopping = false
  let running: Promise<void> | null = null
  let wake: (() => void) | null = null
  const poke = () => {
    const w = wake
    wake = null
    w?.()
  }

  const ctxOf = (m: ClaimedMessage) => ({
    messageId: m.id,
    infrastructureId: m.infrastructureId,
    channelId: m.channelId,
  })

  async function release(held: ClaimedMessage, delayMs: number, reason: DeliveryWorkerEvents['released'][1]) {
    try {
      await port.release(held, delayMs)
      events.emit('released', held, reason)
    } catch (e) {
      // Releasing is a courtesy: if it fails, the lease lapses and the message is claimed again.
      log.warn({ ...ctxOf(held), err: String(e) }, 'release failed; the lease will lapse')
    }
  }

  /** Calls the transport with a deadline; whatever happens becomes an outcome. */
  async function callTransport(
    transport: Transport | RelayTransport,
    held: ClaimedMessage,
    channel: Channel,
    abort: AbortController,
  ): Promise<DeliveryOutcome | HandOff> {
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<DeliveryOutcome>((resolve) => {
      timer = setTimeout(() => {
        // Settle first, then abort: the race must see the timeout, not the abort it causes.
        resolve({ status: 'retryable', code: 'timeout', error: `no answer within ${attemptTimeoutMs} ms` })
        abort.abort(new Error('attempt timed out'))
      }, attemptTimeoutMs)
    })
    const aborted = new Promise<DeliveryOutcome>((resolve) => {
      abort.signal.addEventListener(
        'abort',
        () => resolve({ status: 'retryable', code: 'aborted', error: 'attempt aborted' }),
        { once: true },
      )
    })
    const call = (async (): Promise<DeliveryOutcome | HandOff> => {
      try {
        const raw: unknown = await transport.send(held, channel, {
          idempotencyKey: held.id,
          attempt: held.attempts,
          signal: abort.signal,
          scope,
        })
        const parsed = outcomeSchema.safeParse(raw)
        if (!parsed.success)
          return {
            status: 'retryable',
            code: 'invalid_outcome',
            error: 'transport returned no valid outcome',
          }
        return parsed.data as DeliveryOutcome | HandOff
      } catch (e) {
        return {
          status: 'retryable',
          code: 'transport_threw',
          error: e instanceof Error ? e.message : String(e),
        }
      }
    })()
    try {
      return await Promise.race([call, deadline, aborted])
    } finally {
      clearTimeout(timer)
    }
  }

  // One ticker renews every delivery that has run for half the renewal period since its
  // claim (or its last renewal): the gap between renewals stays at most `renewEveryMs`, as
  // with a timer per delivery, and a delivery that ends sooner (most do, in milliseconds)
  // costs no timer and no renewal at all.
  const renewTickMs = Math.max(25, Math.floor(renewEveryMs / 2))
  let renewTicker: NodeJS.Timeout | null = null
  function renewDue(): void {
    const now = Date.now()
    for (const f of inflight.values()) {
      if (f.lost || now - f.renewedAt < renewTickMs) continue
      f.renewedAt = now
      port.renew(f.held, leaseMs).then(
        (ok) => {
          // A message being settled stops being held the moment its ack lands: the
          // completion's own answer says whether the lease was lost.
          if (!ok && !f.lost && !f.settling) {
            f.lost = true
            f.abort.abort(new LeaseLostAbort('lease lost'))
            events.emit('leaseLost', f.held)
            log.warn(ctxOf(f.held), 'lease lost; another worker holds the message now')
          }
        },
        (e: unknown) => log.warn({ ...ctxOf(f.held), err: String(e) }, 'lease renewal failed'),
      )
    }
  }

  /** Lookups by infrastructure/channel: a batch of one channel's messages costs one lookup. */
  const channels = new Map<string, { at: number; lookup: Promise<ChannelLookup> }>()
  function channelFor(held: ClaimedMessage): Promise<ChannelLookup> {
    const key = `${held.infrastructureId}/${held.channelId}`
    const now = Date.now()
    const hit = channels.get(key)
    if (hit && now - hit.at < channelCacheMs) return hit.lookup
    if (channels.size >= 10_000) channels.clear()
    const lookup = port.openChannel(held.infrastructureId, held.channelId)
    const entry = { at: now, lookup }
    channels.set(key, entry)
    const forget = () => {
      if (channels.get(key) === entry) channels.delete(key)
    }
    lookup.then((r) => {
      if (r.status !== 'ready') forget()
    }, forget)
    return lookup
  }

  // Completions wait a moment for each other and settle in one unit of work; each keeps its
  // own fenced answer. Per message, a unit of work costs 4 round trips and a commit (1,247
  // msgs/s drained, 2 cores); a batch of 100 costs the same once.
  type Completion = SettleResult
  let completions: Array<{
    held: ClaimedMessage
    report: AttemptReport
    resolve: (r: Completion) => void
    reject: (e: unknown) => void
  }> = []
  let completing = 0
  let flushTimer: NodeJS.Timeout | null = null
  function flush(): void {
    if (flushTimer) clearTimeout(flushTimer)
    flushTimer = null
    const batch = completions
    completions = []
    if (batch.length === 0) return
    completing += batch.length
    port
      .settle(batch.map(({ held, report }) => ({ held, report })))
      .then(
        (results) => {
          for (const [i, c] of batch.entries()) c.resolve(results[i]!)
        },
        (e: unknown) => {
          // One bad item must not cost the others their ack: settle them one by one.
          if (batch.length === 1) batch[0]!.reject(e)
          else
            for (const c of batch)
              port.settle([{ held: c.held, report: c.report }]).then(([r]) => c.resolve(r!), c.reject)
        },
      )
      .finally(() => {
        completing -= batch.length
      })
  }
  function complete(held: ClaimedMessage, report: AttemptReport): Promise<Completion> {
    return new Promise((resolve, reject) => {
      completions.push({ held, report, resolve, reject })
      // Nothing else is running that could join: waiting would only add latency.
      if (completions.length >= completeBatchSize || completions.length + completing >= inflight.size) flush()
      else flushTimer ??= setTimeout(flush, completeDelayMs)
    })
  }

  async function deliver(f: InFlight): Promise<void> {
    const { held, abort } = f
    try {
      const lookup = await channelFor(held)
      const startedAt = new Date()
      let outcome: DeliveryOutcome | HandOff
      let redact = (t: string) => t
      if (lookup.status === 'missing') {
        outcome = { status: 'permanent', code: 'channel_missing', error: 'the channel no longer exists' }
      } else if (lookup.status === 'disabled') {
        await release(held, pausedDelayMs, 'channel_paused')
        return
      } else if (lookup.status === 'unavailable') {
        // Only an operator can fix a key: the message waits uncounted, as for a paused channel.
        log.warn({ ...ctxOf(held), code: lookup.code, reason: lookup.reason }, 'channel secrets do not open')
        await release(held, pausedDelayMs, 'secrets_unavailable')
        return
      } else if (lookup.status === 'invalid') {
        outcome = { status: 'permanent', code: 'INVALID_CONFIG', error: lookup.reason }
      } else {
        redact = lookup.redact
        if (lookup.rateLimit) {
          const waitMs = buckets.take(`${held.infrastructureId}/${held.channelId}`, lookup.rateLimit)
          if (waitMs > 0) {
            await release(held, waitMs, 'rate_limited')
            return
          }
        }
        const transport = transports.get(lookup.channel.type)
        outcome = transport
          ? await callTransport(transport, held, lookup.channel, abort)
          : {
              status: 'retryable',
              code: 'no_transport',
              error: `no transport registered for channel type ${lookup.channel.type}`,
            }
      }
      if (abort.signal.aborted && abort.signal.reason instanceof ShutdownAbort) {
        await release(held, 0, 'shutdown')
        return
      }
      if (f.lost) return
      if (outcome.status === 'relayed') {
        await handOff(f, outcome)
        return
      }
      const finishedAt = new Date()
      const error = outcome.status === 'delivered' ? null : redact(outcome.error).slice(0, MAX_ERROR_TEXT)
      const report: AttemptReport = {
        outcome: outcome.status,
        errorCode: outcome.status === 'delivered' ? null : (outcome.code ?? outcome.status),
        error,
        providerMessageId: outcome.status === 'delivered' ? (outcome.providerMessageId ?? null) : null,
        startedAt,
        finishedAt,
        workerId,
        ...(outcome.status === 'retryable' && {
          retryAfterMs: backoffMs(held.attempts, retry, random, outcome.retryAfterMs),
        }),
      }
      f.settling = true
      const result = await complete(held, report)
      if (!result.acked) {
        events.emit('leaseLost', held)
        log.warn(ctxOf(held), 'ack refused: the lease was lost before it landed')
        return
      }
      const logCtx = {
        ...ctxOf(held),
        attempt: held.attempts,
        status: result.status,
        errorCode: report.errorCode,
      }
      if (result.status === 'processed') {
        events.emit('delivered', held, report)
        log.debug(logCtx, 'delivered')
      } else if (result.status === 'pending') {
        events.emit('retried', held, report)
        log.info({ ...logCtx, retryInMs: report.retryAfterMs, error }, 'delivery failed; will retry')
      } else if (result.status === 'dead') {
        events.emit('dead', held, report)
        log.warn({ ...logCtx, error }, 'delivery failed on its last attempt; message is dead')
      } else {
        events.emit('failed', held, report)
        log.warn({ ...logCtx, error }, 'delivery failed permanently')
      }
    } catch (e) {
      // A store error: the lease lapses and the message is claimed again; the worker lives on.
      events.emit('error', e)
      log.error({ ...ctxOf(held), err: String(e) }, 'delivery bookkeeping failed')
    }
  }

  /** The broker's workers settle the message now: hold its lease for them, settle nothing. */
  async function handOff(f: InFlight, outcome: HandOff): Promise<void> {
    f.settling = true
    if (!(await port.renew(f.held, outcome.holdMs))) {
      events.emit('leaseLost', f.held)
      log.warn(ctxOf(f.held), 'hand-off refused: the lease was lost before it landed')
      return
    }
    events.emit('relayed', f.held, outcome.reference ?? null)
    log.debug({ ...ctxOf(f.held), reference: outcome.reference }, 'relayed')
  }

  function start(held: ClaimedMessage): void {
    perTenantInflight.set(held.infrastructureId, (perTenantInflight.get(held.infrastructureId) ?? 0) + 1)
    const f: InFlight = {
      held,
      abort: new AbortController(),
      done: Promise.resolve(),
      renewedAt: Date.now(),
      lost: false,
      settling: false,
    }
    inflight.set(held.id, f)
    renewTicker ??= setInterval(renewDue, renewTickMs)
    f.done = deliver(f).finally(() => {
      inflight.delete(held.id)
      if (inflight.size === 0 && renewTicker) {
        clearInterval(renewTicker)
        renewTicker = null
      }
      const n = (perTenantInflight.get(held.infrastructureId) ?? 1) - 1
      if (n <= 0) perTenantInflight.delete(held.infrastructureId)
      else perTenantInflight.set(held.infrastructureId, n)
      poke()
    })
  }

  /** One claim of up to the free slots; returns how many were claimed. */
  async function claimOnce(): Promise<{ claimed: number; asked: number }> {
    const free = concurrency - inflight.size
    if (free <= 0) return { claimed: 0, asked: 0 }
    const asked = Math.min(batchSize, free)
    const atCap = [...perTenantInflight].filter(([, n]) => n >= perTenant).map(([i]) => i)
    const claimed = await port.claim({
      limit: asked,
      leaseMs,
      excludeInfrastructureIds: atCap,
      ...(Number.isFinite(perTenant) && { perTenantLimit: perTenant }),
    })
    if (claimed.length > 0) events.emit('claimed', claimed)
    const taken = new Map<string, number>()
    for (const held of claimed) {
      const n = (perTenantInflight.get(held.infrastructureId) ?? 0) + (taken.get(held.infrastructureId) ?? 0)
      if (n >= perTenant) {
        const back: Promise<void> = release(held, 0, 'tenant_cap').finally(() => releasing.delete(back))
        releasing.add(back)
        continue
      }
      taken.set(held.infrastructureId, (taken.get(held.infrastructureId) ?? 0) + 1)
      start(held)
    }
    return { claimed: claimed.length, asked }
  }

  async function shutdown(): Promise<void> {
    await Promise.all(releasing)
    const pending = [...inflight.values()]
    if (pending.length === 0) return
    let graceTimer: NodeJS.Timeout | undefined
    const grace = new Promise<void>((resolve) => {
      graceTimer = setTimeout(resolve, graceMs)
    })
    await Promise.race([Promise.all(pending.map((p) => p.done)), grace])
    clearTimeout(graceTimer)
    for (const p of inflight.values()) p.abort.abort(new ShutdownAbort('worker shutting down'))
    await Promise.all([...inflight.values()].map((p) => p.done))
  }

  async function loop(): Promise<void> {
    const unsubscribe = port.onWake(poke)
    try {
      while (!stopping) {
        let full = false
        try {
          const { claimed, asked } = await claimOnce()
          full = asked > 0 && claimed === asked
        } catch (e) {
          events.emit('error', e)
          log.error({ err: String(e) }, 'claim failed; retrying after the poll interval')
        }
        if (full || stopping) continue
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pollIntervalMs)
          wake = () => {
            clearTimeout(timer)
            resolve()
          }
        })
        wake = null
      }
    } finally {
      unsubscribe()
      await shutdown()
    }
  }

  const worker: DeliveryWorker = {
    workerId,
    events,
    run(signal) {
      if (running) return running
      stopping = false
      if (signal) {
        if (signal.aborted) stopping = true
        else signal.addEventListener('abort', () => void worker.stop(), { once: true })
      }
      running = loop().finally(() => {
        running = null
      })
      return running
    },
    async stop() {
      stopping = true
      poke()
      await running
    },
    async drain() {
      let settled = 0
      const count = () => settled++
      for (const e of ['delivered', 'retried', 'failed', 'dead', 'relayed'] as const) events.on(e, count)
      try {
        for (;;) {
          const { claimed } = await claimOnce()
          if (claimed === 0 && inflight.size === 0 && releasing.size === 0) break
          // A message over its tenant's cap is due again once its release lands: wait for that too.
          if (claimed === 0) await Promise.race([...[...inflight.values()].map((p) => p.done), ...releasing])
        }
      } finally {
        for (const e of ['delivered', 'retried', 'failed', 'dead', 'relayed'] as const) events.off(e, count)
      }
      return settled
    },
  }
  return worker
}

function portOf(options: DeliveryWorkerOptions, workerId: string): DeliveryPort {
  if (!options.messaging) throw new Error('a worker needs messaging (or a delivery port)')
  if (options.fleet) return options.messaging.deliveryPort({ fleet: true, workerId })
  if (options.principal) return options.messaging.deliveryPort({ principal: options.principal })
  throw new Error('a worker needs a service principal or fleet: true')
}
