import type { ClaimedMessage } from '../domain/outbox-message.js'
import type { TimerHandle, Timers } from './timers.js'

/** One held lease as the renewer sees it. */
export interface HeldLease {
  readonly held: ClaimedMessage
  /** A renewal found the lease taken by another worker. */
  readonly lost: boolean
}

export interface LeaseRenewerOptions {
  /** Extends one lease; false when it was lost (lapsed and claimed elsewhere). */
  renew(held: ClaimedMessage): Promise<boolean>
  /** The longest gap between two renewals of one lease. */
  readonly renewEveryMs: number
  readonly timers: Timers
  /** A renewal was refused: another worker holds the message now. */
  onLost(held: ClaimedMessage): void
  /** A renewal failed (the store is unreachable, say): the lease may lapse. */
  onError(held: ClaimedMessage, error: unknown): void
}

interface Entry {
  readonly held: ClaimedMessage
  renewedAt: number
  lost: boolean
  /** Its settle is on its way: a refused renewal means only that the ack landed first. */
  settling: boolean
}

/**
 * Keeps the leases of running deliveries alive. One ticker serves them all: every half
 * renewal period it renews each lease not renewed for that long, so the gap between
 * renewals stays under `renewEveryMs` as with a timer per delivery, and a delivery that
 * ends sooner (most do, in milliseconds) costs no renewal at all. A lease is renewed only
 * while held: once its delivery ends, or its settle failed, it is dropped and left to
 * lapse, so a message whose settle could not be written comes back to be claimed again.
 */
export class LeaseRenewer {
  private readonly entries = new Map<string, Entry>()
  private readonly tickMs: number
  private ticker: TimerHandle | null = null

  constructor(private readonly options: LeaseRenewerOptions) {
    this.tickMs = Math.max(25, Math.floor(options.renewEveryMs / 2))
  }

  /** Starts renewing the lease of a message just claimed. */
  hold(held: ClaimedMessage): HeldLease {
    const entry: Entry = { held, renewedAt: this.options.timers.now(), lost: false, settling: false }
    this.entries.set(held.id, entry)
    this.ticker ??= this.options.timers.setTimeout(() => this.tick(), this.tickMs)
    return entry
  }

  /** The delivery is being settled: a refused renewal from now on is not a lost lease. */
  settling(id: string): void {
    const entry = this.entries.get(id)
    if (entry) entry.settling = true
  }

  /** Stops renewing (the delivery ended, was released, or its settle failed). */
  drop(id: string): void {
    this.entries.delete(id)
    if (this.entries.size === 0 && this.ticker !== null) {
      this.options.timers.clearTimeout(this.ticker)
      this.ticker = null
    }
  }

  get size(): number {
    return this.entries.size
  }

  private tick(): void {
    this.ticker = null
    const now = this.options.timers.now()
    for (const entry of this.entries.values()) {
      if (entry.lost || now - entry.renewedAt < this.tickMs) continue
      entry.renewedAt = now
      this.renewOne(entry)
    }
    if (this.entries.size > 0) this.ticker = this.options.timers.setTimeout(() => this.tick(), this.tickMs)
  }

  private renewOne(entry: Entry): void {
    this.options.renew(entry.held).then(
      (ok) => {
        // Dropped meanwhile (settled, released): the answer no longer concerns anyone.
        if (ok || entry.lost || entry.settling || this.entries.get(entry.held.id) !== entry) return
        entry.lost = true
        this.options.onLost(entry.held)
      },
      (e: unknown) => {
        if (this.entries.get(entry.held.id) === entry) this.options.onError(entry.held, e)
      },
    )
  }
}
