/** The PostgreSQL systems measured side by side (`--systems`). */
export const SYSTEM_NAMES = ['module', 'pg-boss', 'graphile-worker', 'raw'] as const
export type SystemName = (typeof SYSTEM_NAMES)[number]

/**
 * Every system carries the same message: a tenant, a sequence number and 64 characters of
 * text (about 100 bytes of JSON), so rows are the same size everywhere.
 */
export interface BenchPayload {
  readonly t: number
  readonly s: number
  readonly text: string
}

const TEXT = 'disk usage above threshold on volume /var/lib/data: 91 percent used'.slice(0, 64)

export const payloadOf = (t: number, s: number): BenchPayload => ({ t, s, text: TEXT })

/** Called by a system's consumer for each message it delivers. */
export type OnDelivered = (t: number, s: number) => void

/** How a drain slice ends: at its deadline, after `max` messages, or when nothing is left. */
export interface DrainOptions {
  /** Messages per claim (1: one per claim, one ack per transaction). */
  readonly batch: number
  /** Claim loops (or the runner's concurrency). */
  readonly concurrency: number
  /** `performance.now()` at which the slice stops claiming. */
  readonly deadline: number
  readonly max?: number
}

/** One system, set up on its own fresh database, with the operations the figures need. */
export interface Subject {
  readonly name: string
  /** The databases its statements run in (pg_stat_statements is read for these). */
  readonly databases: readonly string[]
  /** One message in its own transaction. */
  enqueue(t: number, s: number): Promise<void>
  /** Many messages in one call (one transaction). */
  enqueueBatch(t: number, seqs: readonly number[]): Promise<void>
  /** `count` ready messages, as fast as the system can take them (not measured). */
  prefill(count: number, tenantOf: (i: number) => number): Promise<void>
  /** `count` messages already settled (delivered, not yet pruned), for G9. */
  prefillSettled?(count: number, tenantOf: (i: number) => number): Promise<void>
  /**
   * Claims in batches of `batch` with `concurrency` loops until the deadline, `max`
   * messages, or nothing is left; every message claimed is acked before it returns.
   */
  drain?(opts: DrainOptions): Promise<{ settled: number; empty: boolean }>
  /** A running consumer that calls `onDelivered` per message; resolves once it is ready. */
  startConsumer?(onDelivered: OnDelivered): Promise<{ stop(): Promise<void> }>
  /** Time of one claim of `batch` messages, in ms (G9); the messages are settled afterwards. */
  timeClaim?(batch: number): Promise<number>
  /** Removes every message still queued (between latency slices), not measured. */
  purge?(): Promise<void>
  close(): Promise<void>
}

/** Options all subjects are opened with. */
export interface SubjectOptions {
  readonly tenants: number
  /** Connections of the system's pool. */
  readonly poolSize: number
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]!
}

export const sortNumbers = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** Runs `fn` with at most `limit` calls in flight. */
export async function pooled<T>(items: readonly T[], limit: number, fn: (x: T) => Promise<void>) {
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++
        await fn(items[i]!)
      }
    }),
  )
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN
  const s = sortNumbers(xs)
  const m = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}
