import { TenantScopeViolationError } from '../../domain/errors.js'
import type { InboxCursor, InboxEntry, InboxMark } from '../../domain/inbox.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { InboxRepository } from '../../ports/inbox-repository.js'
import { copy, type Journal, type MemoryState } from './memory-state.js'

export const inboxKey = (infrastructureId: string, messageId: string, userId: string) =>
  `${infrastructureId}/${messageId}/${userId}`

/** Newest first: (createdAt desc, id desc). */
const newestFirst = (a: InboxEntry, b: InboxEntry) =>
  b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)

const MARK_FIELD = { seen: 'seenAt', read: 'readAt', archived: 'archivedAt' } as const

export class MemoryInboxRepository implements InboxRepository {
  constructor(
    private readonly state: MemoryState,
    private readonly journal: Journal,
  ) {}

  /** The scope's own entries of one infrastructure, within its grants. */
  private own(scope: TenantScope, infrastructureId: string): InboxEntry[] {
    return [...this.state.inbox.values()].filter(
      (e) =>
        e.infrastructureId === infrastructureId &&
        e.userId === scope.userId &&
        scope.canAccess(e.infrastructureId, e.businessId),
    )
  }

  async deliver(scope: TenantScope, entries: readonly InboxEntry[]): Promise<number> {
    let added = 0
    for (const e of entries) {
      if (!scope.hasRole('service') || !scope.canAccess(e.infrastructureId, e.businessId)) {
        throw new TenantScopeViolationError(e.infrastructureId, e.businessId)
      }
      const key = inboxKey(e.infrastructureId, e.messageId, e.userId)
      if (this.state.inbox.has(key)) continue
      this.journal.setIn(this.state.inbox, key, copy(e))
      added++
    }
    return added
  }

  async list(
    scope: TenantScope,
    filter: {
      infrastructureId: string
      unreadOnly?: boolean
      includeArchived?: boolean
      before?: string
      limit: number
    },
  ): Promise<InboxEntry[]> {
    const mine = this.own(scope, filter.infrastructureId).sort(newestFirst)
    let start = 0
    if (filter.before !== undefined) {
      const at = mine.findIndex((e) => e.id === filter.before)
      if (at < 0) return []
      start = at + 1
    }
    return mine
      .slice(start)
      .filter(
        (e) => (filter.includeArchived || e.archivedAt === null) && (!filter.unreadOnly || e.readAt === null),
      )
      .slice(0, filter.limit)
      .map(copy)
  }

  async listAfter(
    scope: TenantScope,
    filter: { infrastructureId: string; after: InboxCursor; limit: number },
  ): Promise<InboxEntry[]> {
    const at = filter.after.createdAt.getTime()
    return this.own(scope, filter.infrastructureId)
      .filter(
        (e) =>
          e.archivedAt === null &&
          (e.createdAt.getTime() > at || (e.createdAt.getTime() === at && e.id > filter.after.id)),
      )
      .sort((a, b) => newestFirst(b, a))
      .slice(0, filter.limit)
      .map(copy)
  }

  async find(scope: TenantScope, infrastructureId: string, ids: readonly string[]): Promise<InboxEntry[]> {
    const wanted = new Set(ids.map((id) => id.toLowerCase()))
    return this.own(scope, infrastructureId)
      .filter((e) => wanted.has(e.id))
      .sort((a, b) => newestFirst(b, a))
      .map(copy)
  }

  async countUnread(scope: TenantScope, infrastructureId: string): Promise<number> {
    return this.own(scope, infrastructureId).filter((e) => e.readAt === null && e.archivedAt === null).length
  }

  async mark(
    scope: TenantScope,
    cmd: { infrastructureId: string; entryIds: readonly string[] | 'all'; mark: InboxMark; at: Date },
  ): Promise<number> {
    const field = MARK_FIELD[cmd.mark]
    const ids = cmd.entryIds === 'all' ? null : new Set(cmd.entryIds)
    let changed = 0
    for (const e of this.own(scope, cmd.infrastructureId)) {
      if (ids && !ids.has(e.id)) continue
      if (e[field] !== null) continue
      this.journal.setIn(this.state.inbox, inboxKey(e.infrastructureId, e.messageId, e.userId), {
        ...e,
        [field]: cmd.at,
      })
      changed++
    }
    return changed
  }
}
