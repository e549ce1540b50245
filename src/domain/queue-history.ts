/**
 * The queue over time: per tenant and minute (the store's clock), what entered, what was
 * delivered, the failed attempts, what went dead, and the backlog at the minute's end.
 *
 * A store keeps counters only (`MinuteCounts`), added to by the statements that already
 * run (an enqueue's batch, a settle's batch, a cancel, a redrive), never one per message
 * on PostgreSQL. The backlog is not sampled: it is the open messages now (pending or in
 * flight, one count at read time) taken back minute by minute through what opened
 * (enqueued, redriven) and closed (settled for good, cancelled) since, so a minute in
 * which nothing happened costs nothing and still has its figure.
 */
export interface QueueMinute {
  /** The minute's start (UTC, whole minute). */
  readonly minute: Date
  /** Messages created in the minute (an idempotent repeat creates none). */
  readonly enqueued: number
  /** Messages settled `processed` in the minute. */
  readonly delivered: number
  /** Attempts recorded in the minute that did not deliver (retried, failed or dead after it). */
  readonly failedAttempts: number
  /** Messages that went `dead` in the minute. */
  readonly dead: number
  /** Messages pending or in flight at the minute's end (for the current minute: now). */
  readonly backlog: number
}

/** One minute's counters as a store keeps them (summed over whatever rows hold the minute). */
export interface MinuteCounts {
  /** The minute's start, ms since the epoch (a multiple of MINUTE_MS). */
  readonly minute: number
  readonly enqueued: number
  readonly delivered: number
  readonly failedAttempts: number
  readonly dead: number
  /** Messages that left the backlog: settled `processed`, `failed` or `dead`, or cancelled. */
  readonly closed: number
  /** Messages that came back to it: redriven. */
  readonly reopened: number
}

export const MINUTE_MS = 60_000
/**
 * How long a store keeps a minute's counters: three hours, so a 120-minute read (the
 * longest a caller may ask for) always finds every minute it covers, with an hour to spare
 * for a retention job that runs late. Retention (`storage.prune`) removes older minutes.
 */
export const QUEUE_HISTORY_KEEP_MS = 3 * 60 * MINUTE_MS
/** The longest read, in minutes. */
export const QUEUE_HISTORY_MAX_MINUTES = 120

/** The start of the minute `at` falls in. */
export const minuteOf = (at: Date | number): number => {
  const ms = typeof at === 'number' ? at : at.getTime()
  return ms - (((ms % MINUTE_MS) + MINUTE_MS) % MINUTE_MS)
}

/** A minute's counters, all zero. */
export const emptyMinute = (minute: number): MinuteCounts => ({
  minute,
  enqueued: 0,
  delivered: 0,
  failedAttempts: 0,
  dead: 0,
  closed: 0,
  reopened: 0,
})

/** The per-minute additions one change of a message brings, or null when it counts for nothing. */
export type MinuteDelta = Omit<MinuteCounts, 'minute'>

const OPEN = new Set(['pending', 'processing'])

/**
 * What a message moving from `before` (null: it is new) to `after` adds to its minute. A
 * retry (processing to pending), a claim, a release, a renew or a reschedule adds nothing;
 * the failed attempts are counted where attempts are recorded, not here.
 */
export function transitionDelta(before: string | null, after: string): MinuteDelta | null {
  if (before === after) return null
  const wasOpen = before !== null && OPEN.has(before)
  const isOpen = OPEN.has(after)
  const d = {
    enqueued: before === null ? 1 : 0,
    delivered: after === 'processed' ? 1 : 0,
    failedAttempts: 0,
    dead: after === 'dead' ? 1 : 0,
    closed: wasOpen && !isOpen ? 1 : 0,
    reopened: before !== null && !wasOpen && isOpen ? 1 : 0,
  }
  return d.enqueued + d.delivered + d.dead + d.closed + d.reopened === 0 ? null : d
}

/** `a` plus `b`, field by field. */
export const addCounts = (a: MinuteCounts, b: MinuteDelta): MinuteCounts => ({
  minute: a.minute,
  enqueued: a.enqueued + b.enqueued,
  delivered: a.delivered + b.delivered,
  failedAttempts: a.failedAttempts + b.failedAttempts,
  dead: a.dead + b.dead,
  closed: a.closed + b.closed,
  reopened: a.reopened + b.reopened,
})

/**
 * The last `minutes` minutes up to and including `nowMinute`, oldest first, one entry per
 * minute: the counters where a store has them (zeros elsewhere), the backlog taken back
 * from `openNow` through each later minute's opened minus closed. A backlog is never shown
 * below zero (a message that opened before the counters began and closed since).
 */
export function queueHistory(
  counts: readonly MinuteCounts[],
  openNow: number,
  nowMinute: number,
  minutes: number,
): QueueMinute[] {
  const byMinute = new Map<number, MinuteCounts>()
  for (const c of counts)
    byMinute.set(c.minute, addCounts(byMinute.get(c.minute) ?? emptyMinute(c.minute), c))
  const out: QueueMinute[] = new Array(minutes)
  let backlog = openNow
  for (let i = minutes - 1; i >= 0; i--) {
    const minute = nowMinute - (minutes - 1 - i) * MINUTE_MS
    const c = byMinute.get(minute) ?? emptyMinute(minute)
    out[i] = {
      minute: new Date(minute),
      enqueued: c.enqueued,
      delivered: c.delivered,
      failedAttempts: c.failedAttempts,
      dead: c.dead,
      backlog: Math.max(0, backlog),
    }
    // The end of the minute before this one: undo what this minute opened and closed.
    backlog -= c.enqueued + c.reopened - c.closed
  }
  return out
}
