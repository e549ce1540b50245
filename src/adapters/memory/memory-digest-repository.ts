import type { CategoryDigest } from '../../domain/category.js'
import type { Digest, DigestGroup } from '../../domain/digest.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { Clock } from '../../ports/clock.js'
import type { DigestHeld, DigestRepository, NewDigestItem } from '../../ports/digest-repository.js'
import { digestGroupKey, inDigestScope } from '../shared/digest-scope.js'
import { copy, type Journal, type MemoryState, messageKey } from './memory-state.js'

/** A digest's key is its delivery message's: retention removes both together. */
const keyOf = messageKey

/** Digests in a map; a unit of work runs alone, so an append and a close never interleave. */
export class MemoryDigestRepository implements DigestRepository {
  constructor(
    private readonly state: MemoryState,
    private readonly journal: Journal,
    private readonly clock: Clock,
  ) {}

  async append(scope: TenantScope, group: DigestGroup, item: NewDigestItem): Promise<Digest | null> {
    if (!inDigestScope(scope, group.infrastructureId, group.businessId)) return null
    const g = digestGroupKey(group)
    const k = this.state.openDigests.get(g)
    const d = k === undefined ? undefined : this.state.digests.get(k)
    if (k === undefined || !d) return null
    const now = this.clock.now()
    if (d.closesAt.getTime() <= now.getTime()) {
      this.settle(g, k, { ...d, closedAt: now })
      return null
    }
    const items = [...d.items, { notificationId: item.notificationId, at: now, data: copy(item.data) }]
    const next: Digest = { ...d, items, closedAt: items.length >= d.maxItems ? now : null }
    if (next.closedAt) this.settle(g, k, next)
    else this.journal.setIn(this.state.digests, k, next)
    return copy(next)
  }

  async open(
    scope: TenantScope,
    group: DigestGroup,
    digest: { readonly id: string; readonly settings: CategoryDigest },
    item: NewDigestItem,
  ): Promise<Digest | null> {
    if (!inDigestScope(scope, group.infrastructureId, group.businessId)) return null
    const g = digestGroupKey(group)
    if (this.state.openDigests.has(g)) return null
    const now = this.clock.now()
    const d: Digest = {
      ...group,
      id: digest.id,
      openedAt: now,
      closesAt: new Date(now.getTime() + digest.settings.windowSeconds * 1000),
      maxItems: digest.settings.maxItems,
      items: [{ notificationId: item.notificationId, at: now, data: copy(item.data) }],
      closedAt: null,
    }
    const k = keyOf(group.infrastructureId, digest.id)
    this.journal.setIn(this.state.digests, k, d)
    this.journal.setIn(this.state.openDigests, g, k)
    return copy(d)
  }

  async close(scope: TenantScope, infrastructureId: string, id: string): Promise<Digest | null> {
    const k = keyOf(infrastructureId, id)
    const d = this.state.digests.get(k)
    if (!d || !inDigestScope(scope, d.infrastructureId, d.businessId)) return null
    if (d.closedAt) return copy(d)
    const next = { ...d, closedAt: this.clock.now() }
    this.settle(digestGroupKey(d), k, next)
    return copy(next)
  }

  async find(scope: TenantScope, infrastructureId: string, id: string): Promise<Digest | null> {
    const d = this.state.digests.get(keyOf(infrastructureId, id))
    return d && inDigestScope(scope, d.infrastructureId, d.businessId) ? copy(d) : null
  }

  async ofNotification(
    scope: TenantScope,
    infrastructureId: string,
    notificationId: string,
  ): Promise<Digest[]> {
    return [...this.state.digests.values()]
      .filter(
        (d) =>
          d.infrastructureId === infrastructureId &&
          inDigestScope(scope, d.infrastructureId, d.businessId) &&
          d.items.some((i) => i.notificationId === notificationId),
      )
      .map(copy)
  }

  async held(scope: TenantScope, filter: { readonly infrastructureId?: string }): Promise<DigestHeld[]> {
    const counts = new Map<string, DigestHeld>()
    for (const d of this.state.digests.values()) {
      if (d.closedAt !== null || !inDigestScope(scope, d.infrastructureId, d.businessId)) continue
      if (filter.infrastructureId !== undefined && d.infrastructureId !== filter.infrastructureId) continue
      const k = `${d.infrastructureId}/${d.channelId}`
      const items = (counts.get(k)?.items ?? 0) + d.items.length
      counts.set(k, { infrastructureId: d.infrastructureId, channelId: d.channelId, items })
    }
    return [...counts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v)
  }

  async withdraw(scope: TenantScope, infrastructureId: string, notificationId: string): Promise<Digest[]> {
    const out: Digest[] = []
    for (const [k, d] of this.state.digests) {
      if (d.infrastructureId !== infrastructureId || d.closedAt !== null) continue
      if (!inDigestScope(scope, d.infrastructureId, d.businessId)) continue
      if (!d.items.some((i) => i.notificationId === notificationId && i.cancelled !== true)) continue
      const next: Digest = {
        ...d,
        items: d.items.map((i) => (i.notificationId === notificationId ? { ...i, cancelled: true } : i)),
      }
      this.journal.setIn(this.state.digests, k, next)
      out.push(copy(next))
    }
    return out
  }

  /** Stores a closed digest and frees its group for the next one. */
  private settle(group: string, key: string, closed: Digest): void {
    this.journal.setIn(this.state.digests, key, closed)
    if (this.state.openDigests.get(group) === key) this.journal.deleteIn(this.state.openDigests, group)
  }
}
