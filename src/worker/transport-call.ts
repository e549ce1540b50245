import { z } from 'zod'
import type { Channel } from '../domain/channel.js'
import type { ClaimedMessage } from '../domain/outbox-message.js'
import type { Redactor } from '../domain/redaction.js'
import type { TenantScope } from '../domain/tenant-scope.js'
import type { DeliveryOutcome, HandOff, RelayTransport, Transport } from '../ports/transport.js'
import type { Timers } from './timers.js'

// Lengths are not checked here: an overlong provider id or error is cut when the attempt is
// stored, a delivered message must not become a retry because its provider's id is long.
const provider = z.string().optional()
const outcomeSchema = z.discriminatedUnion('status', [
  z.object({ status: z.literal('delivered'), providerMessageId: z.string().optional(), provider }),
  z.object({
    status: z.literal('retryable'),
    error: z.string(),
    code: z.string().optional(),
    retryAfterMs: z.number().nonnegative().optional(),
    provider,
  }),
  z.object({ status: z.literal('permanent'), error: z.string(), code: z.string().optional(), provider }),
  z.object({
    status: z.literal('relayed'),
    holdMs: z.number().int().positive(),
    reference: z.string().max(500).optional(),
  }),
])

export interface TransportCall {
  readonly transport: Transport | RelayTransport
  readonly held: ClaimedMessage
  /** Opened and parsed (see DeliveryChannel). */
  readonly channel: Channel
  readonly scope: TenantScope
  /** The channel's redactor, handed to the transport. */
  readonly redact: Redactor
  /** Aborted when the worker shuts down or loses the lease. */
  readonly signal: AbortSignal
  readonly timeoutMs: number
  readonly timers: Timers
}

/**
 * Calls the transport with a deadline. Whatever happens becomes an outcome (or a relay's
 * hand-off): a throw, an
 * answer that is no outcome, a hang past the deadline or an abort are all retryable, so
 * no transport can crash or stall the worker.
 */
export async function callTransport(call: TransportCall): Promise<DeliveryOutcome | HandOff> {
  const attempt = new AbortController()
  const onAbort = () => attempt.abort(call.signal.reason)
  call.signal.addEventListener('abort', onAbort, { once: true })
  let timer: ReturnType<Timers['setTimeout']> | undefined
  const deadline = new Promise<DeliveryOutcome>((resolve) => {
    timer = call.timers.setTimeout(() => {
      // Settle first, then abort: the race must see the timeout, not the abort it causes.
      resolve({ status: 'retryable', code: 'timeout', error: `no answer within ${call.timeoutMs} ms` })
      attempt.abort(new Error('attempt timed out'))
    }, call.timeoutMs)
  })
  const aborted = new Promise<DeliveryOutcome>((resolve) => {
    const done = () => resolve({ status: 'retryable', code: 'aborted', error: 'attempt aborted' })
    if (call.signal.aborted) done()
    else call.signal.addEventListener('abort', done, { once: true })
  })
  try {
    return await Promise.race([send(call, attempt.signal), deadline, aborted])
  } finally {
    if (timer !== undefined) call.timers.clearTimeout(timer)
    call.signal.removeEventListener('abort', onAbort)
  }
}

async function send(call: TransportCall, signal: AbortSignal): Promise<DeliveryOutcome | HandOff> {
  try {
    const raw: unknown = await call.transport.send(call.held, call.channel, {
      idempotencyKey: call.held.id,
      attempt: call.held.attempts,
      signal,
      scope: call.scope,
      redact: call.redact,
    })
    const parsed = outcomeSchema.safeParse(raw)
    if (parsed.success) return parsed.data as DeliveryOutcome | HandOff
    return { status: 'retryable', code: 'invalid_outcome', error: 'transport returned no valid outcome' }
  } catch (e) {
    return { status: 'retryable', code: 'transport_threw', error: e instanceof Error ? e.message : String(e) }
  }
}
