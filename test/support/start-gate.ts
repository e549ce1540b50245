/**
 * The start gate of a test's child process: the child prints its ready line once built, then
 * waits here until the parent writes `go`, so process start-up (seconds on a loaded 2-core
 * machine) stays out of the test's clock.
 */
export function waitForGo(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    let text = ''
    const done = () => {
      process.stdin.off('data', onData)
      // Closed, not paused: an open stdin pipe would keep the child alive after its work.
      process.stdin.destroy()
      resolve()
    }
    const onData = (chunk: Buffer) => {
      text += chunk.toString()
      if (text.split('\n').includes('go')) done()
    }
    process.stdin.on('data', onData)
    signal.addEventListener('abort', done, { once: true })
  })
}
