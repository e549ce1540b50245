import { KeyedListeners } from './keyed-listeners.js'

/**
 * What changed in whose inbox: ids only, never an entry's content. A listener reads the
 * entry itself through the reader's own scoped read, so a change tells it nothing the
 * store's rules would not show it.
 */
export type InboxChange =
  /** A new entry (it may be a redelivery the store ignored: the read then finds nothing). */
  | {
      readonly kind: 'entry'
      readonly infrastructureId: string
      readonly userId: string
      readonly entryId: string
    }
  /** Entries of the user were marked: the unread count may have moved. */
  | { readonly kind: 'marked'; readonly infrastructureId: string; readonly userId: string }
  /**
   * Changes may have been missed (the feed's connection dropped and is back): every
   * listener looks again from where it stands.
   */
  | { readonly kind: 'resync' }

/**
 * Tells the inbox streams of a process that an inbox changed. In one process it is an
 * in-memory broadcast; the PostgreSQL adapter carries it across processes with
 * LISTEN/NOTIFY (one connection per process), its trigger sending what `publish` would.
 */
export interface InboxFeed {
  /** Called after the writes of `changes` commit. Cheap and non-blocking. */
  publish(changes: readonly InboxChange[]): void
  /**
   * Listens to one user's inbox of one infrastructure (and to every `resync`); returns the
   * unsubscribe function.
   */
  subscribe(infrastructureId: string, userId: string, listener: (change: InboxChange) => void): () => void
  /**
   * Resolves once a change committed from now on reaches the listeners (PostgreSQL: the
   * LISTEN is in place), or once an attempt to listen failed: the reconnect that follows
   * sends a `resync`. Never rejects.
   */
  ready(): Promise<void>
  /** Listeners subscribed now (what an operator, or a test of a closed stream, checks). */
  readonly listeners: number
}

const keyOf = (infrastructureId: string, userId: string) => `${infrastructureId}/${userId}`

/** Listeners by (infrastructure, user): a change reaches its own user's streams alone. */
export class InboxListeners {
  private readonly keyed = new KeyedListeners<InboxChange>()

  get size(): number {
    return this.keyed.size
  }

  add(infrastructureId: string, userId: string, listener: (change: InboxChange) => void): () => void {
    return this.keyed.add(keyOf(infrastructureId, userId), listener)
  }

  fire(change: InboxChange): void {
    this.keyed.fire(change.kind === 'resync' ? null : keyOf(change.infrastructureId, change.userId), change)
  }
}

/** The in-process feed: listeners run on a microtask after publish. */
export function createLocalInboxFeed(): InboxFeed {
  const listeners = new InboxListeners()
  return {
    publish(changes) {
      if (listeners.size === 0 || changes.length === 0) return
      queueMicrotask(() => {
        for (const c of changes) listeners.fire(c)
      })
    },
    subscribe: (infrastructureId, userId, listener) => listeners.add(infrastructureId, userId, listener),
    ready: () => Promise.resolve(),
    get listeners() {
      return listeners.size
    },
  }
}
