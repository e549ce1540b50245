import { randomUUID } from 'node:crypto'
import { describe } from '../adapters/transports/shared/outcome.js'
import { createOutboundHttp, type OutboundHttpOptions } from '../adapters/transports/shared/safe-http.js'
import { signWebhook } from '../adapters/transports/webhook/signature.js'
import type { EventDispatchPort, LeasedEndpoint } from '../application/event-endpoint-service.js'
import {
  DEFAULT_ENDPOINT_RETRY,
  type EndpointRetryPolicy,
  endpointRetryDelay,
} from '../domain/event-endpoint.js'
import type { DeliveryEvent } from '../domain/events.js'
import { createRedactor } from '../domain/redaction.js'
import type { Principal } from '../domain/tenant-scope.js'
import type { Messaging } from '../messaging.js'
import { WorkerConfigurationError } from './errors.js'
import { silentLogger, type WorkerLogger } from './events.js'

/** An endpoint whose secret does not open here is looked at again after this long (as a paused channel is). */
const SECRET_UNAVAILABLE_RETRY_MS = 30_000

export interface EventDispatcherOptions extends OutboundHttpOptions {
  /** The module: the dispatcher asks it for its port (or pass `port` itself). */
  readonly messaging?: Messaging
  readonly port?: EventDispatchPort
  /** A `service` principal: sends the endpoints of the tenants of its grants. */
  readonly principal?: Principal
  /** Every tenant's endpoints (on PostgreSQL, as the messaging_worker role). */
  readonly fleet?: boolean
  readonly workerId?: string
  /** How often idle endpoints are looked at for new events. Default 1 s. */
  readonly pollIntervalMs?: number
  /** Endpoints leased per round. Default 10. */
  readonly endpointsPerRound?: number
  /** Events read per endpoint per lease. Default 50. */
  readonly batchSize?: number
  /** One request's limit, connect to last byte; past it the attempt failed. Default 10 s. */
  readonly requestTimeoutMs?: number
  /** A lease; renewed by each accepted event. Default 60 s (longer than a few requests' timeouts). */
  readonly leaseMs?: number
  readonly retry?: Partial<EndpointRetryPolicy>
  /** The signature timestamp's clock. */
  readonly now?: () => Date
  readonly userAgent?: string
  readonly logger?: WorkerLogger
}

export interface EventDispatcher {
  /**
   * Keeps up to `endpointsPerRound` endpoints in flight, leasing a free slot again as soon as
   * it frees; with nothing due, looks again every `pollIntervalMs`.
   */
  start(): void
  /** Stops the loop and waits for the round in flight. */
  stop(): Promise<void>
  /** One round by hand (tests, scripts): leases due endpoints, sends what they have, gives them back. Returns the events accepted. */
  round(): Promise<number>
}

/**
 * Sends tenants' delivery events to their status webhook endpoints (docs/live.md, "Status
 * webhooks"): one POST per event, in the log's order, signed per Standard Webhooks with
 * `webhook-id` = the event's id (stable across retries: a receiver deduplicates with it).
 * A 2xx moves the endpoint's cursor past the event; anything else (or a timeout, or a
 * refused destination) ends the round for that endpoint, which retries the same event
 * after the backoff. Delivery is at least once and in order per endpoint.
 *
 * @example
 * const dispatcher = createEventDispatcher({ messaging, fleet: true })
 * dispatcher.start() // ... await dispatcher.stop()
 */
export function createEventDispatcher(options: EventDispatcherOptions): EventDispatcher {
  const port = options.port ?? portOf(options)
  const http = createOutboundHttp({
    ...options,
    ssrf: options.ssrf ?? options.messaging?.destinations ?? {},
  })
  const retry: EndpointRetryPolicy = { ...DEFAULT_ENDPOINT_RETRY, ...options.retry }
  const pollMs = options.pollIntervalMs ?? 1_000
  const leaseMs = options.leaseMs ?? 60_000
  const batchSize = options.batchSize ?? 50
  const perRound = options.endpointsPerRound ?? 10
  const timeoutMs = options.requestTimeoutMs ?? 10_000
  const now = options.now ?? (() => new Date())
  const userAgent = options.userAgent ?? 'messaging-events/1'
  const logger = options.logger ?? silentLogger
  const stopping = new AbortController()

  /** Null when the endpoint accepted the event, else why not (redacted, short). */
  async function post(ep: LeasedEndpoint, secret: string, event: DeliveryEvent): Promise<string | null> {
    const redact = createRedactor([secret])
    // The Standard Webhooks payload shape: type, timestamp, data (the event as GET /events lists it).
    const body = Buffer.from(JSON.stringify({ type: event.type, timestamp: event.occurredAt, data: event }))
    const timestamp = Math.floor(now().getTime() / 1000)
    try {
      const res = await http.post({
        url: ep.url,
        headers: {
          'content-type': 'application/json',
          'user-agent': userAgent,
          'webhook-id': event.id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signWebhook([secret], event.id, timestamp, body),
        },
        body,
        timeoutMs,
        signal: stopping.signal,
      })
      if (res.status >= 200 && res.status < 300) return null
      const detail = describe(res.body, redact)
      return `HTTP ${res.status}${detail === '' ? '' : `: ${detail}`}`
    } catch (e) {
      const code = (e as { code?: unknown }).code
      const text = e instanceof Error ? e.message : String(e)
      return describe(typeof code === 'string' ? `${code}: ${text}` : text, redact)
    }
  }

  /** Sends what one leased endpoint has after its cursor; returns the events accepted. */
  async function dispatch(ep: LeasedEndpoint): Promise<number> {
    const fail = (error: string) => {
      const failures = ep.attempts + 1
      return port.release(ep.lease, {
        error: error.slice(0, 500),
        retryInMs: endpointRetryDelay(retry, failures),
        disable: failures >= retry.disableAfter,
      })
    }
    if (ep.secret === null) {
      // Not the endpoint's failure: this process lacks the key. Nothing is sent or counted (it
      // never disables the endpoint); a worker that holds the key takes it meanwhile.
      await port.release(ep.lease, {
        error: `signing secret unavailable here: ${ep.secretError ?? 'it does not open'}`.slice(0, 500),
        retryInMs: SECRET_UNAVAILABLE_RETRY_MS,
        disable: false,
        counted: false,
      })
      logger.warn(
        { endpointId: ep.id, infrastructureId: ep.infrastructureId },
        'status webhook secret unavailable',
      )
      return 0
    }
    const events = await port.events(ep.infrastructureId, ep.cursor, batchSize)
    let skipped: string | null = null
    let sent = 0
    for (const event of events) {
      if (ep.eventTypes !== null && !ep.eventTypes.includes(event.type)) {
        skipped = event.cursor
        continue
      }
      if (stopping.signal.aborted) break
      const error = await post(ep, ep.secret, event)
      if (error !== null) {
        if (skipped !== null) await port.advance(ep.lease, skipped, leaseMs)
        // Cut off by our own shutdown: not the receiver's failure; the event goes again next time.
        if (stopping.signal.aborted) {
          await port.release(ep.lease, null)
          return sent
        }
        await fail(error)
        logger.warn(
          { endpointId: ep.id, infrastructureId: ep.infrastructureId, error },
          'status webhook failed',
        )
        return sent
      }
      skipped = null
      sent++
      // Lost the lease (it ran out, another worker holds it now): stop, that worker goes on.
      if (!(await port.advance(ep.lease, event.cursor, leaseMs))) return sent
    }
    if (skipped !== null && !(await port.advance(ep.lease, skipped, leaseMs))) return sent
    await port.release(ep.lease, null)
    return sent
  }

  async function round(): Promise<number> {
    const leased = await port.lease({ limit: perRound, leaseMs, token: randomUUID() })
    const counts = await Promise.all(leased.map(guarded))
    return counts.reduce((a, b) => a + b, 0)
  }

  /** One endpoint's dispatch, its errors logged: what the loop keeps in flight. */
  const guarded = (ep: LeasedEndpoint): Promise<number> =>
    dispatch(ep).catch((e: unknown) => {
      logger.error({ endpointId: ep.id, err: e }, 'status webhook dispatch failed')
      return 0
    })

  /**
   * Up to `endpointsPerRound` endpoints in flight; a free slot is leased again at once, so a
   * slow receiver holds only its own slot, never the other endpoints' next events.
   */
  async function run(): Promise<void> {
    const inflight = new Set<Promise<unknown>>()
    while (!stopping.signal.aborted) {
      let leased: LeasedEndpoint[] = []
      const free = perRound - inflight.size
      if (free > 0) {
        try {
          leased = await port.lease({ limit: free, leaseMs, token: randomUUID() })
        } catch (e) {
          logger.error({ err: e }, 'status webhook lease failed')
        }
        for (const ep of leased) {
          const p: Promise<unknown> = guarded(ep).finally(() => inflight.delete(p))
          inflight.add(p)
        }
      }
      if (stopping.signal.aborted) break
      // More may be due: lease again at once while slots are free; else wait for a slot or the poll.
      if (leased.length > 0 && inflight.size < perRound) continue
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, leased.length > 0 ? 2_147_483_647 : pollMs)
        const done = () => {
          clearTimeout(timer)
          resolve()
        }
        wakeUp = done
        for (const p of inflight) p.then(done, done)
      })
      wakeUp = null
    }
    await Promise.all(inflight)
  }

  let loop: Promise<void> | null = null
  let wakeUp: (() => void) | null = null
  return {
    round,
    start() {
      if (loop) return
      loop = run()
    },
    async stop() {
      stopping.abort()
      wakeUp?.()
      await loop
    },
  }
}

function portOf(options: EventDispatcherOptions): EventDispatchPort {
  if (!options.messaging) throw new WorkerConfigurationError('createEventDispatcher needs messaging or port')
  if (options.fleet === true) {
    if (options.principal) throw new WorkerConfigurationError('pass principal or fleet, not both')
    return options.messaging.eventDispatchPort({ fleet: true, workerId: options.workerId ?? randomUUID() })
  }
  if (!options.principal) throw new WorkerConfigurationError('createEventDispatcher needs principal or fleet')
  return options.messaging.eventDispatchPort({ principal: options.principal })
}
