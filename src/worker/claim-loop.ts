import type { ClaimRequest } from '../application/delivery-service.js'
import type { ClaimedMessage } from '../domain/outbox-message.js'
import { isMisconfiguration, WorkerConfigurationError } from './errors.js'
import { sleep, type Timers } from './timers.js'

/** Deliveries in flight, in all and per tenant, against the worker's two caps. */
export class DeliverySlots {
  private readonly perTenant = new Map<string, number>()
  private total = 0

  constructor(
    readonly concurrency: number,
    readonly perTenantCap: number,
  ) {}

  get used(): number {
    return this.total
  }

  get free(): number {
    return Math.max(0, this.concurrency - this.total)
  }

  /** Tenants at their cap: a claim skips them. */
  full(): string[] {
    return [...this.perTenant].filter(([, n]) => n >= this.perTenantCap).map(([i]) => i)
  }

  /** Takes a slot for a delivery of `infrastructureId`; false (nothing taken) when its tenant is at the cap. */
  take(infrastructureId: string): boolean {
    const n = this.perTenant.get(infrastructureId) ?? 0
    if (n >= this.perTenantCap) return false
    this.perTenant.set(infrastructureId, n + 1)
    this.total++
    return true
  }

  give(infrastructureId: string): void {
    const n = (this.perTenant.get(infrastructureId) ?? 1) - 1
    if (n <= 0) this.perTenant.delete(infrastructureId)
    else this.perTenant.set(infrastructureId, n)
    this.total = Math.max(0, this.total - 1)
  }
}

export interface ClaimLoopOptions {
  /** The one claim path (the delivery port's). */
  claim(request: ClaimRequest): Promise<ClaimedMessage[]>
  readonly slots: DeliverySlots
  /** Messages per claim at most. */
  readonly batchSize: number
  readonly leaseMs: number
  /** Idle poll when no wake-up arrives. */
  readonly pollIntervalMs: number
  readonly timers: Timers
  /** A claimed message within the caps, its slot taken: deliver it. */
  start(held: ClaimedMessage): void
  /** A claimed message over its tenant's cap (claims raced): hand it back. */
  giveBack(held: ClaimedMessage): Promise<void>
  onClaimed(messages: readonly ClaimedMessage[]): void
  /**
   * A claim failed (the store unreachable, say): the loop tries again after `retryInMs`.
   * `failures` counts the failed claims in a row (1: the store has just gone away).
   */
  onError(error: unknown, failures: number, retryInMs: number): void
  /** A claim succeeded after `failures` failed ones in a row: the store is back. */
  onRecovered?(failures: number): void
  /** For the backoff's jitter. Default Math.random. */
  readonly random?: () => number
}

/**
 * Failed claims in a row wait from the poll interval, doubling, up to this (or the poll
 * interval, if longer): a store that is down costs a try every 5 s per worker, and one
 * that comes back is claimed from within 5 s.
 */
export const CLAIM_RETRY_CAP_MS = 5_000

/** The wait after `failures` failed claims in a row: doubling from the poll interval to the cap, jittered down by up to a fifth so a fleet does not retry in step. */
export function claimRetryDelay(pollIntervalMs: number, failures: number, random: () => number): number {
  const cap = Math.max(pollIntervalMs, CLAIM_RETRY_CAP_MS)
  const full = Math.min(cap, pollIntervalMs * 2 ** Math.min(failures - 1, 30))
  return Math.round(full * (1 - random() / 5))
}

/**
 * Claims up to the free slots, skipping tenants at their cap, and starts each message;
 * claims again at once while claims come back full, otherwise waits for a wake-up (an
 * enqueue, a delivery ending) or the poll interval. A failing claim (the store down) is
 * tried again with capped backoff, forever: the worker outlives its database. A store that
 * says it is misconfigured ends the loop with a WorkerConfigurationError: retrying could
 * not help.
 */
export class ClaimLoop {
  private readonly returning = new Set<Promise<void>>()
  private wake: (() => void) | null = null
  /** Failed claims in a row. */
  private failures = 0

  constructor(private readonly options: ClaimLoopOptions) {}

  /** Hand-backs of over-cap messages still on their way to the store. */
  get returns(): readonly Promise<void>[] {
    return [...this.returning]
  }

  /** Ends the current wait: something may be due, or a slot came free. */
  poke(): void {
    const wake = this.wake
    this.wake = null
    wake?.()
  }

  /** One claim of up to the free slots. */
  async claimOnce(): Promise<{ claimed: number; asked: number }> {
    const { slots } = this.options
    if (slots.free <= 0) return { claimed: 0, asked: 0 }
    const asked = Math.min(this.options.batchSize, slots.free)
    const claimed = await this.options
      .claim({
        limit: asked,
        leaseMs: this.options.leaseMs,
        excludeInfrastructureIds: slots.full(),
        ...(Number.isFinite(slots.perTenantCap) && { perTenantLimit: slots.perTenantCap }),
      })
      .catch((e: unknown) => {
        if (isMisconfiguration(e)) throw new WorkerConfigurationError((e as Error).message, { cause: e })
        throw e
      })
    if (claimed.length > 0) this.options.onClaimed(claimed)
    for (const held of claimed) {
      if (slots.take(held.infrastructureId)) this.options.start(held)
      else this.giveBack(held)
    }
    return { claimed: claimed.length, asked }
  }

  /** Claims until `stopping()` says so. */
  async run(stopping: () => boolean): Promise<void> {
    while (!stopping()) {
      let full = false
      let waitMs = this.options.pollIntervalMs
      try {
        const { claimed, asked } = await this.claimOnce()
        full = asked > 0 && claimed === asked
        if (this.failures > 0) this.options.onRecovered?.(this.failures)
        this.failures = 0
      } catch (e) {
        // Retrying cannot fix a misconfiguration: the loop ends and `run()` rejects with it.
        if (e instanceof WorkerConfigurationError) throw e
        this.failures++
        waitMs = claimRetryDelay(
          this.options.pollIntervalMs,
          this.failures,
          this.options.random ?? Math.random,
        )
        this.options.onError(e, this.failures, waitMs)
      }
      if (full || stopping()) continue
      const wait = sleep(this.options.timers, waitMs)
      this.wake = wait.wake
      await wait.done
      this.wake = null
    }
  }

  private giveBack(held: ClaimedMessage): void {
    const back: Promise<void> = this.options.giveBack(held).finally(() => this.returning.delete(back))
    this.returning.add(back)
  }
}
