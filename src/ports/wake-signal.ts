/**
 * Wakes idle workers when messages become due. In one process it is an in-memory
 * broadcast; the PostgreSQL adapter carries it across processes with LISTEN/NOTIFY.
 * Polling remains the fallback, so a lost signal only costs latency, never a message.
 */
export interface WakeSignal {
  /** Called after an enqueue commits. Cheap and non-blocking; may coalesce. */
  notify(infrastructureId: string): void
  /** Returns the unsubscribe function. */
  subscribe(listener: (infrastructureId: string) => void): () => void
}

/** The in-process signal: listeners run on a microtask after notify. */
export function createLocalWakeSignal(): WakeSignal {
  const listeners = new Set<(infrastructureId: string) => void>()
  return {
    notify(infrastructureId) {
      if (listeners.size === 0) return
      queueMicrotask(() => {
        for (const l of listeners) l(infrastructureId)
      })
    },
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
  }
}
