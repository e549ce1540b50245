import { z } from 'zod'

/*
 * A circuit breaker per channel (one webhook endpoint, one set of email or SMS providers):
 * the same rules in every store, on the store's clock. Times are epoch ms of that clock.
 *
 * closed --(failures within the window)--> open --(cool-down over: one probe let through)-->
 * half_open --(the probe delivered)--> closed, or --(it failed)--> open again.
 */

/** A channel's breaker setting: the `breaker` field every channel config may carry. */
export const breakerPolicySchema = z.strictObject({
  /** Failed attempts in a row, within `windowMs` of the first, that open the breaker. */
  failures: z.number().int().min(1).max(1000).default(5),
  /** The run of failures counts only within this long of its first failure. */
  windowMs: z.number().int().min(1000).max(86_400_000).default(60_000),
  /** How long an open breaker keeps the channel's messages waiting before one probe goes. */
  coolDownMs: z.number().int().min(1000).max(86_400_000).default(30_000),
})
export type BreakerPolicy = z.output<typeof breakerPolicySchema>

/**
 * Defaults: 5 failures within a minute open it, for 30 s. Five, because a webhook receiver
 * that restarts answers a couple of attempts with 502s and should not stop the channel; a
 * minute, so failures an hour apart never add up to an outage.
 */
export const DEFAULT_BREAKER_POLICY: BreakerPolicy = breakerPolicySchema.parse({})

/** Where the channel's breaker stands: `closed` sends, `open` holds, `half_open` has a probe out. */
export type BreakerStatus = 'closed' | 'open' | 'half_open'

/** A breaker's stored state. */
export interface BreakerState {
  readonly status: BreakerStatus
  /** Failed attempts in the current run (closed), or of the run that opened it. */
  readonly failures: number
  /** When the current run of failures began; null when there is none. */
  readonly windowStartedAt: number | null
  /** When it last opened; null when it never did. */
  readonly openedAt: number | null
  /**
   * open: when the cool-down ends and a probe may go; half_open: when the probe's hold ends
   * (a probe whose worker died frees the way for the next one then). Null when closed.
   */
  readonly retryAt: number | null
}

export const CLOSED_BREAKER: BreakerState = {
  status: 'closed',
  failures: 0,
  windowStartedAt: null,
  openedAt: null,
  retryAt: null,
}

/** What a delivery may do now: go, go as the half-open probe, or wait `waitMs`. */
export type BreakerAdmission =
  | { readonly decision: 'go' }
  | { readonly decision: 'probe'; readonly next: BreakerState }
  | { readonly decision: 'wait'; readonly waitMs: number }

/**
 * While a probe is out, the others look again at least this often (1 s): a probe settles in
 * one attempt's time, and the channel's messages should follow it soon after it closes the
 * breaker, not a whole cool-down later.
 */
export const PROBE_WAIT_MS = 1000

/**
 * Whether a delivery on the channel may go at `now`. Only the first caller after the
 * cool-down becomes the probe (the store writes `next` under a lock): the others wait
 * until the probe's hold (another cool-down) runs out, looking again every PROBE_WAIT_MS.
 */
export function admit(state: BreakerState | null, now: number, policy: BreakerPolicy): BreakerAdmission {
  if (!state || state.status === 'closed') return { decision: 'go' }
  const retryAt = state.retryAt ?? now
  if (now < retryAt) {
    const waitMs = retryAt - now
    return {
      decision: 'wait',
      waitMs: state.status === 'half_open' ? Math.min(waitMs, PROBE_WAIT_MS) : waitMs,
    }
  }
  return { decision: 'probe', next: { ...state, status: 'half_open', retryAt: now + policy.coolDownMs } }
}

/** How an attempt went, as far as the breaker cares. */
export type BreakerResult = 'success' | 'failure'

/** A change a breaker went through, reported once (an event, an audit entry). */
export type BreakerTransition = 'opened' | 'reopened' | 'closed'

/**
 * The breaker after an attempt's result at `now`, and the transition it went through; `next`
 * is null when nothing changes (nothing to write). A success closes it from any state; a
 * failure counts in the run (restarting it past the window) and opens it at the threshold;
 * a failure while half open re-opens it for another cool-down; a failure while open (an
 * attempt that went before it opened) changes nothing.
 */
export function recordResult(
  state: BreakerState | null,
  result: BreakerResult,
  now: number,
  policy: BreakerPolicy,
): { readonly next: BreakerState | null; readonly transition: BreakerTransition | null } {
  const s = state ?? CLOSED_BREAKER
  if (result === 'success') {
    if (s.status === 'closed' && s.failures === 0) return { next: null, transition: null }
    const next = { ...CLOSED_BREAKER, openedAt: s.openedAt }
    return { next, transition: s.status === 'closed' ? null : 'closed' }
  }
  if (s.status === 'open') return { next: null, transition: null }
  if (s.status === 'half_open') {
    return { next: { ...s, status: 'open', retryAt: now + policy.coolDownMs }, transition: 'reopened' }
  }
  const fresh = s.windowStartedAt === null || now - s.windowStartedAt > policy.windowMs
  const failures = fresh ? 1 : s.failures + 1
  const windowStartedAt = fresh ? now : s.windowStartedAt
  if (failures < policy.failures) return { next: { ...s, failures, windowStartedAt }, transition: null }
  return {
    next: { status: 'open', failures, windowStartedAt, openedAt: now, retryAt: now + policy.coolDownMs },
    transition: 'opened',
  }
}

/** The channel a breaker belongs to. */
export interface BreakerKey {
  readonly infrastructureId: string
  readonly channelId: string
}

/** A breaker that is not closed, as operators see it (the console's health view). */
export interface BreakerView extends BreakerKey {
  readonly status: 'open' | 'half_open'
  readonly failures: number
  readonly openedAt: Date | null
  /** When the next probe may go (open) or the probe out now is given up on (half open). */
  readonly retryAt: Date | null
}
