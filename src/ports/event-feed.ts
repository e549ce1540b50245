import { KeyedListeners } from './keyed-listeners.js'

/**
 * That a tenant's event log grew: its id only, never an event. A listener reads the events
 * through its own scoped read (`listEvents`), so a signal shows it nothing it may not list.
 * `resync`: signals may have been missed (the feed's connection dropped and is back).
 */
export type EventFeedChange =
  | { readonly kind: 'events'; readonly infrastructureId: string }
  | { readonly kind: 'resync' }

/**
 * Tells the event streams of a process that a tenant's events grew: in one process an
 * in-memory broadcast; the PostgreSQL adapter carries it across processes with
 * LISTEN/NOTIFY (one connection per process), its trigger sending what `publish` would.
 */
export interface EventFeed {
  /** Called after the writes of events of these tenants commit. Cheap and non-blocking. */
  publish(infrastructureIds: readonly string[]): void
  /** Listens to one tenant's events (and to every `resync`); returns the unsubscribe function. */
  subscribe(infrastructureId: string, listener: (change: EventFeedChange) => void): () => void
  /** Resolves once a change committed from now on reaches the listeners. Never rejects. */
  ready(): Promise<void>
  /** Listeners subscribed now. */
  readonly listeners: number
}

/** Listeners by tenant: a change reaches its own tenant's streams alone. */
export class EventListeners {
  private readonly keyed = new KeyedListeners<EventFeedChange>()

  get size(): number {
    return this.keyed.size
  }

  add(infrastructureId: string, listener: (change: EventFeedChange) => void): () => void {
    return this.keyed.add(infrastructureId, listener)
  }

  fire(change: EventFeedChange): void {
    this.keyed.fire(change.kind === 'resync' ? null : change.infrastructureId, change)
  }
}

/** The in-process feed: listeners run on a microtask after publish. */
export function createLocalEventFeed(): EventFeed {
  const listeners = new EventListeners()
  return {
    publish(infrastructureIds) {
      if (listeners.size === 0 || infrastructureIds.length === 0) return
      const tenants = [...new Set(infrastructureIds)]
      queueMicrotask(() => {
        for (const infrastructureId of tenants) listeners.fire({ kind: 'events', infrastructureId })
      })
    },
    subscribe: (infrastructureId, listener) => listeners.add(infrastructureId, listener),
    ready: () => Promise.resolve(),
    get listeners() {
      return listeners.size
    },
  }
}
