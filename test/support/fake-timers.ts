import type { TimerHandle, Timers } from '../../src/worker/timers.js'

interface Scheduled {
  readonly at: number
  readonly seq: number
  readonly callback: () => void
  cancelled: boolean
}

/** Lets every pending promise reaction run (the parts under test do no I/O of their own). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

/**
 * A clock the test moves by hand: `advance(ms)` runs each callback that falls due on the
 * way, in time order, letting promises settle after each. No test that uses it sleeps.
 */
export class FakeTimers implements Timers {
  private t: number
  private seq = 0
  private queue: Scheduled[] = []

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.t = start
  }

  now = (): number => this.t

  setTimeout = (callback: () => void, ms: number): TimerHandle => {
    const s: Scheduled = { at: this.t + Math.max(0, ms), seq: this.seq++, callback, cancelled: false }
    this.queue.push(s)
    return s
  }

  clearTimeout = (handle: TimerHandle): void => {
    ;(handle as Scheduled).cancelled = true
  }

  /** Callbacks still scheduled. */
  get pending(): number {
    return this.queue.filter((s) => !s.cancelled).length
  }

  async advance(ms: number): Promise<void> {
    const end = this.t + ms
    await settle()
    for (;;) {
      this.queue = this.queue.filter((s) => !s.cancelled)
      const next = this.queue.filter((s) => s.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0]
      if (!next) break
      this.queue.splice(this.queue.indexOf(next), 1)
      this.t = Math.max(this.t, next.at)
      next.callback()
      await settle()
    }
    this.t = end
    await settle()
  }
}
