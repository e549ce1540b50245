import type { InboxCursor, InboxEntry, InboxMark } from '../domain/inbox.js'
import type { TenantScope } from '../domain/tenant-scope.js'

/**
 * Per-user in-app inboxes. Written by delivery workers (`service`, within their scope);
 * read and marked by the user alone, within the user's grants.
 */
export interface InboxRepository {
  /**
   * Adds entries; one whose (infrastructureId, messageId, userId) exists is left as it is.
   * Returns how many were new. `service` only; TenantScopeViolationError outside the scope.
   */
  deliver(scope: TenantScope, entries: readonly InboxEntry[]): Promise<number>
  /** The scope's own user's entries, newest first; keyset pagination by `before` (an entry id). */
  list(
    scope: TenantScope,
    filter: {
      readonly infrastructureId: string
      readonly unreadOnly?: boolean
      readonly includeArchived?: boolean
      readonly before?: string
      readonly limit: number
    },
  ): Promise<InboxEntry[]>
  /**
   * The scope's own user's unarchived entries after `after`, oldest first in (createdAt, id)
   * order: what a live stream that resumes has missed.
   */
  listAfter(
    scope: TenantScope,
    filter: { readonly infrastructureId: string; readonly after: InboxCursor; readonly limit: number },
  ): Promise<InboxEntry[]>
  /** The scope's own user's entries among `ids`, oldest first; other ids are left out. */
  find(scope: TenantScope, infrastructureId: string, ids: readonly string[]): Promise<InboxEntry[]>
  /** Unread, unarchived entries of the scope's own user. */
  countUnread(scope: TenantScope, infrastructureId: string): Promise<number>
  /** Stamps `<mark>At = at` where still null on the scope's own user's entries; returns how many changed. */
  mark(
    scope: TenantScope,
    command: {
      readonly infrastructureId: string
      readonly entryIds: readonly string[] | 'all'
      readonly mark: InboxMark
      readonly at: Date
    },
  ): Promise<number>
}
