/** An opaque handle of a scheduled callback. */
export type TimerHandle = { readonly __timer: unique symbol } | object

/**
 * Where the worker's parts read the time and schedule callbacks. The system's by default;
 * tests hand in a fake one they move by hand, so no test of a part sleeps.
 */
export interface Timers {
  /** Milliseconds since the epoch. */
  now(): number
  setTimeout(callback: () => void, ms: number): TimerHandle
  clearTimeout(handle: TimerHandle): void
}

export const systemTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms) as unknown as TimerHandle,
  clearTimeout: (handle) => clearTimeout(handle as unknown as NodeJS.Timeout),
}

/** A wait that ends after `ms`, or at once when `wake` is called (which also drops the timer). */
export function sleep(timers: Timers, ms: number): { done: Promise<void>; wake: () => void } {
  let wake = () => {}
  const done = new Promise<void>((resolve) => {
    const handle = timers.setTimeout(resolve, ms)
    wake = () => {
      timers.clearTimeout(handle)
      resolve()
    }
  })
  return { done, wake }
}
