/**
 * An AbortSignal that fires on the first SIGINT or SIGTERM; a second one exits at once
 * (the operator means it). `dispose` removes the handlers.
 */
export function shutdownSignal(onSignal?: (name: string) => void): {
  signal: AbortSignal
  dispose: () => void
} {
  const controller = new AbortController()
  const handler = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130)
    onSignal?.(name)
    controller.abort()
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', handler)
      process.off('SIGTERM', handler)
    },
  }
}
