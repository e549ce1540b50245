import { randomUUID } from 'node:crypto'
import type { BreakerChange, BreakerGate } from '../../src/application/breaker-service.js'
import type { ChannelLookup } from '../../src/application/channel-opener.js'
import type { DeliveryPort, RenderStep } from '../../src/application/delivery-port.js'
import type { RetainItem } from '../../src/application/retain.js'
import type { AttemptReport, SettleItem, SettleResult } from '../../src/application/settle.js'
import {
  admit,
  type BreakerPolicy,
  type BreakerResult,
  type BreakerState,
  recordResult,
} from '../../src/domain/breaker.js'
import type { Channel, RateLimit } from '../../src/domain/channel.js'
import type { ClaimedMessage } from '../../src/domain/outbox-message.js'
import { TenantScope } from '../../src/domain/tenant-scope.js'
import type { RateBucketKey } from '../../src/ports/rate-bucket-repository.js'
import { TokenBuckets } from '../../src/worker/token-bucket.js'
import { channel, message, uuid } from '../support/fixtures.js'

/** A claimed message of a fresh tenant (or of `infrastructureId`). */
export function claimed(over: Partial<ClaimedMessage> = {}): ClaimedMessage {
  const infrastructureId = over.infrastructureId ?? uuid()
  return {
    ...message(infrastructureId, over.channelId ?? uuid()),
    status: 'processing',
    attempts: 1,
    leaseToken: randomUUID(),
    leasedUntil: new Date(Date.now() + 30_000),
    ...over,
  } as ClaimedMessage
}

export function report(over: Partial<AttemptReport> = {}): AttemptReport {
  const at = new Date()
  return {
    outcome: 'delivered',
    errorCode: null,
    error: null,
    providerMessageId: null,
    startedAt: at,
    finishedAt: at,
    workerId: uuid(),
    ...over,
  }
}

export function readyChannel(over: Partial<Channel> = {}, extra: Partial<ChannelLookup> = {}): ChannelLookup {
  return {
    status: 'ready',
    channel: channel(over.infrastructureId ?? uuid(), { type: 'test', config: {}, ...over }),
    rateLimit: null,
    redact: (t: string) => t,
    ...extra,
  } as ChannelLookup
}

/**
 * A DeliveryPort double that holds claimed messages in memory, named as such: the unit tests
 * of the worker's parts check wiring and timing against it; the conformance suites run the
 * real port on every store.
 */
export class MemoryPortDouble implements DeliveryPort {
  readonly scope = TenantScope.fleet(uuid())
  queue: ClaimedMessage[] = []
  readonly settled: SettleItem[] = []
  readonly released: { id: string; delayMs: number }[] = []
  readonly renewed: string[] = []
  readonly retained: RetainItem[] = []
  settleCalls = 0
  failSettle: (items: readonly SettleItem[]) => boolean = () => false
  claimError: unknown = null
  lookup: (infrastructureId: string, channelId: string) => ChannelLookup = (i, c) =>
    readyChannel({ infrastructureId: i, id: c })
  private listeners = new Set<() => void>()

  async claim(request: { limit: number }): Promise<ClaimedMessage[]> {
    if (this.claimError) throw this.claimError
    return this.queue.splice(0, request.limit)
  }
  async renew(held: { id: string }): Promise<boolean> {
    this.renewed.push(held.id)
    return true
  }
  async release(held: { id: string }, delayMs: number): Promise<boolean> {
    this.released.push({ id: held.id, delayMs })
    return true
  }
  async settle(items: readonly SettleItem[]): Promise<SettleResult[]> {
    this.settleCalls++
    if (this.failSettle(items)) throw new Error('settle failed')
    this.settled.push(...items)
    return items.map((i) => ({
      acked: true,
      status:
        i.report.outcome === 'delivered'
          ? 'processed'
          : i.report.outcome === 'permanent'
            ? 'failed'
            : 'pending',
    }))
  }
  async retain(items: readonly RetainItem[]): Promise<boolean[]> {
    this.retained.push(...items)
    return items.map(() => true)
  }
  /** Channels' buckets in this process (the stores' shared buckets pass the conformance suite). */
  readonly buckets = new TokenBuckets()
  readonly deferred: { channelId: string; afterMs: number }[] = []
  async takeToken(channel: RateBucketKey, limit: RateLimit): Promise<number> {
    return this.buckets.take(`${channel.infrastructureId}/${channel.channelId}`, limit)
  }
  async deferChannel(channel: RateBucketKey, afterMs: number): Promise<void> {
    this.deferred.push({ channelId: channel.channelId, afterMs })
    this.buckets.defer(`${channel.infrastructureId}/${channel.channelId}`, afterMs)
  }
  /** Channels' breakers in this process, on `now` (the stores' shared breakers pass the conformance suite). */
  readonly breakerStates = new Map<string, BreakerState>()
  breakerNow: () => number = () => Date.now()
  breakerAdmits = 0
  async admitBreaker(channel: RateBucketKey, policy: BreakerPolicy): Promise<BreakerGate> {
    const key = `${channel.infrastructureId}/${channel.channelId}`
    const state = this.breakerStates.get(key) ?? null
    const a = admit(state, this.breakerNow(), policy)
    this.breakerAdmits++
    if (a.decision === 'probe') this.breakerStates.set(key, a.next)
    if (a.decision === 'go') return { decision: 'go', clean: (state?.failures ?? 0) === 0 }
    return a.decision === 'wait' ? { decision: 'wait', waitMs: a.waitMs } : { decision: 'probe' }
  }
  async recordBreaker(
    channel: RateBucketKey,
    policy: BreakerPolicy,
    result: BreakerResult,
  ): Promise<BreakerChange | null> {
    const key = `${channel.infrastructureId}/${channel.channelId}`
    const now = this.breakerNow()
    const { next, transition } = recordResult(this.breakerStates.get(key) ?? null, result, now, policy)
    if (next) this.breakerStates.set(key, next)
    return next && transition ? { transition, state: next, at: now } : null
  }
  async openChannel(infrastructureId: string, channelId: string): Promise<ChannelLookup> {
    return this.lookup(infrastructureId, channelId)
  }
  /** Messages of this double carry no notification: they go out as written. */
  async render(held: ClaimedMessage): Promise<RenderStep> {
    return { ok: true, payload: held.payload }
  }
  onWake(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
  wake(): void {
    for (const l of this.listeners) l()
  }
}
