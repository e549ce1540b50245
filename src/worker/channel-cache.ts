import type { ChannelLookup } from '../application/channel-opener.js'
import type { Timers } from './timers.js'

export interface ChannelCacheOptions {
  /** Looks a channel up and opens it (the delivery port's `openChannel`). */
  open(infrastructureId: string, channelId: string): Promise<ChannelLookup>
  /** How long a ready channel is reused. */
  readonly ttlMs: number
  readonly timers: Timers
  /** Past this many channels the cache starts over (a fleet worker meets many). */
  readonly maxEntries?: number
}

/**
 * Channel lookups by (infrastructure, channel): a batch of one channel's messages costs one
 * lookup and one opening of its secrets, concurrent lookups share one promise. Only a
 * `ready` channel is kept: a missing, disabled, unopenable or invalid one is looked up again
 * for the next message, so re-enabling a channel or fixing a key takes effect at once, and
 * any change to a ready channel reaches the worker within `ttlMs`.
 */
export class ChannelCache {
  private readonly entries = new Map<string, { at: number; lookup: Promise<ChannelLookup> }>()

  constructor(private readonly options: ChannelCacheOptions) {}

  lookup(infrastructureId: string, channelId: string): Promise<ChannelLookup> {
    const key = `${infrastructureId}/${channelId}`
    const now = this.options.timers.now()
    const hit = this.entries.get(key)
    if (hit && now - hit.at < this.options.ttlMs) return hit.lookup
    if (this.entries.size >= (this.options.maxEntries ?? 10_000)) this.entries.clear()
    const entry = { at: now, lookup: this.options.open(infrastructureId, channelId) }
    this.entries.set(key, entry)
    const forget = () => {
      if (this.entries.get(key) === entry) this.entries.delete(key)
    }
    entry.lookup.then((r) => {
      if (r.status !== 'ready') forget()
    }, forget)
    return entry.lookup
  }
}
