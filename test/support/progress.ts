/**
 * Waits for `cond`, failing only when the run stalls: `progress()` (a delivery count, say)
 * has not moved for `stallMs`. A loaded machine makes a run slower, not wrong, so a test
 * bounds how long nothing happens rather than how long the whole run takes.
 */
export async function untilProgressing(
  cond: () => Promise<boolean> | boolean,
  progress: () => number,
  what: string,
  stallMs = 30_000,
): Promise<void> {
  let last = progress()
  let movedAt = Date.now()
  while (!(await cond())) {
    const now = progress()
    if (now !== last) {
      last = now
      movedAt = Date.now()
    } else if (Date.now() - movedAt > stallMs) {
      throw new Error(`stalled for ${stallMs} ms waiting for ${what} (progress ${now})`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
}
