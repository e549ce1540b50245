import { z } from 'zod'
import type {
  ChannelTypeDefinition,
  DeliveryChannel,
  DeliveryContext,
  DeliveryOutcome,
  OutboxMessage,
  Transport,
} from '../../src/index.js'

/**
 * Transports the tests define (the real ones have their own suites): a custom channel type
 * `test` whose transport does what each message's payload asks.
 */
export const testChannelType: ChannelTypeDefinition = {
  type: 'test',
  configSchema: z.strictObject({ token: z.string().optional() }),
  secretPaths: ['token'],
}

export type Behaviour =
  | { do: 'deliver' }
  | { do: 'retry'; times?: number; retryAfterMs?: number; error?: string }
  | { do: 'permanent' }
  | { do: 'throw' }
  | { do: 'nonsense' }
  | { do: 'hang' }
  | { do: 'slow'; ms: number }
  /** Waits until the transport's `gate` opens: holds deliveries in flight for as long as a test needs. */
  | { do: 'gate' }

export interface Recorded {
  id: string
  attempt: number
  idempotencyKey: string
  at: number
}

/** A scripted transport that records every call. */
export function scriptedTransport(): Transport & {
  calls: Recorded[]
  delivered: Map<string, number>
  /** Calls in progress now, per infrastructure. */
  running: Map<string, number>
  /** The most calls in progress at once, per infrastructure. */
  peak: Map<string, number>
  /** Lets every `gate` delivery (waiting or to come) through. */
  openGate(): void
} {
  const calls: Recorded[] = []
  const running = new Map<string, number>()
  const peak = new Map<string, number>()
  const delivered = new Map<string, number>()
  const seen = new Map<string, number>()
  let openGate = () => {}
  const gate = new Promise<void>((resolve) => {
    openGate = resolve
  })
  return {
    channelType: testChannelType,
    calls,
    delivered,
    running,
    peak,
    openGate: () => openGate(),
    async send(message: OutboxMessage, channel, context): Promise<DeliveryOutcome> {
      const i = message.infrastructureId
      running.set(i, (running.get(i) ?? 0) + 1)
      peak.set(i, Math.max(peak.get(i) ?? 0, running.get(i)!))
      try {
        return await behave(message, channel, context)
      } finally {
        running.set(i, running.get(i)! - 1)
      }
    },
  }
  async function behave(
    message: OutboxMessage,
    channel: DeliveryChannel,
    context: DeliveryContext,
  ): Promise<DeliveryOutcome> {
    calls.push({
      id: message.id,
      attempt: context.attempt,
      idempotencyKey: context.idempotencyKey,
      at: Date.now(),
    })
    const n = (seen.get(message.id) ?? 0) + 1
    seen.set(message.id, n)
    const b = ((message.payload as { behaviour?: Behaviour } | null)?.behaviour ?? {
      do: 'deliver',
    }) as Behaviour
    const ok = (): DeliveryOutcome => {
      delivered.set(message.id, (delivered.get(message.id) ?? 0) + 1)
      return { status: 'delivered', providerMessageId: `p-${message.id}` }
    }
    switch (b.do) {
      case 'deliver':
        return ok()
      case 'retry':
        if (b.times !== undefined && n > b.times) return ok()
        return {
          status: 'retryable',
          code: 'http_503',
          error: b.error ?? `provider busy (token ${String(channel.config.token)})`,
          ...(b.retryAfterMs !== undefined && { retryAfterMs: b.retryAfterMs }),
        }
      case 'permanent':
        return { status: 'permanent', code: 'http_400', error: 'bad recipient' }
      case 'throw':
        throw new Error('socket hang up')
      case 'nonsense':
        return { status: 'maybe' } as unknown as DeliveryOutcome
      case 'hang':
        return new Promise<DeliveryOutcome>(() => {})
      case 'slow':
        await new Promise((r) => setTimeout(r, b.ms))
        return ok()
      case 'gate':
        await gate
        return ok()
    }
  }
}

export async function until(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  stepMs = 10,
): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, stepMs))
  }
}
