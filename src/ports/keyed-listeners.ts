/**
 * Listeners by key, for the feeds that tell streams something changed: a change reaches
 * the listeners of its own key alone, and a `resync` (the feed may have missed changes)
 * reaches every listener. Keys are compared in lower case, as the ids in them are.
 */
export class KeyedListeners<C extends { readonly kind: string }> {
  private readonly byKey = new Map<string, Set<(change: C) => void>>()
  private count = 0

  get size(): number {
    return this.count
  }

  add(key: string, listener: (change: C) => void): () => void {
    const k = key.toLowerCase()
    let set = this.byKey.get(k)
    if (!set) {
      set = new Set()
      this.byKey.set(k, set)
    }
    set.add(listener)
    this.count++
    let removed = false
    return () => {
      if (removed) return
      removed = true
      set.delete(listener)
      this.count--
      if (set.size === 0 && this.byKey.get(k) === set) this.byKey.delete(k)
    }
  }

  /** Sends `change` to the listeners of `key`, or to every listener when `key` is null. */
  fire(key: string | null, change: C): void {
    const sets = key === null ? [...this.byKey.values()] : [this.byKey.get(key.toLowerCase())]
    for (const set of sets) if (set) for (const l of [...set]) l(change)
  }
}
