import { type Kysely, type SqlBool, sql } from 'kysely'
import { TenantScopeViolationError } from '../../domain/errors.js'
import type { InboxEntry, InboxMark } from '../../domain/inbox.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { InboxRepository } from '../../ports/inbox-repository.js'
import { inboxRow, toInboxEntry } from './sqlite-rows.js'
import { canAccess, insertChecked } from './sqlite-scope.js'
import type { SqliteDatabase } from './sqlite-tables.js'

const infra = sql.ref('messaging_inbox.infrastructure_id')
const business = sql.ref('messaging_inbox.business_id')
const MARK_COLUMN = { seen: 'seen_at', read: 'read_at', archived: 'archived_at' } as const

/**
 * In-app inboxes: written by `service` within its scope, read and marked by their own user
 * within the user's grants. Every statement carries the tenant predicate on the entry's
 * (infrastructure, business), and reads and marks `user_id = <the scope's user>` as well.
 */
export class SqliteInboxRepository implements InboxRepository {
  constructor(private readonly db: Kysely<SqliteDatabase>) {}

  /** The scope's own entries of one infrastructure. */
  private own(scope: TenantScope, infrastructureId: string) {
    return this.db
      .selectFrom('messaging_inbox')
      .where('infrastructure_id', '=', infrastructureId)
      .where('user_id', '=', scope.userId)
      .where(canAccess(scope, infra, business))
  }

  async deliver(scope: TenantScope, entries: readonly InboxEntry[]): Promise<number> {
    let added = 0
    for (const e of entries) {
      if (!scope.hasRole('service') || !scope.canAccess(e.infrastructureId, e.businessId)) {
        throw new TenantScopeViolationError(e.infrastructureId, e.businessId)
      }
      // A redelivery of (infrastructure, message, user) adds nothing.
      added += await insertChecked(
        this.db,
        'messaging_inbox',
        inboxRow(e),
        canAccess(scope, sql.val(e.infrastructureId), sql.val(e.businessId)),
        sql` on conflict (${sql.ref('infrastructure_id')}, ${sql.ref('message_id')}, ${sql.ref('user_id')}) do nothing`,
      )
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
    let q = this.own(scope, filter.infrastructureId).selectAll()
    if (filter.before !== undefined) {
      // Keyset over the user's own entries; an unknown or foreign `before` matches nothing.
      const before = this.own(scope, filter.infrastructureId)
        .select(['created_at', 'id'])
        .where('id', '=', filter.before)
      q = q.where(
        sql<SqlBool>`(${sql.ref('messaging_inbox.created_at')}, ${sql.ref('messaging_inbox.id')}) < (${before})`,
      )
    }
    if (!filter.includeArchived) q = q.where('archived_at', 'is', null)
    if (filter.unreadOnly) q = q.where('read_at', 'is', null)
    const rows = await q
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(Math.max(0, filter.limit))
      .execute()
    return rows.map(toInboxEntry)
  }

  async countUnread(scope: TenantScope, infrastructureId: string): Promise<number> {
    const row = await this.own(scope, infrastructureId)
      .select(sql<number>`count(*)`.as('n'))
      .where('read_at', 'is', null)
      .where('archived_at', 'is', null)
      .executeTakeFirstOrThrow()
    return row.n
  }

  async mark(
    scope: TenantScope,
    cmd: { infrastructureId: string; entryIds: readonly string[] | 'all'; mark: InboxMark; at: Date },
  ): Promise<number> {
    const column = MARK_COLUMN[cmd.mark]
    let q = this.db
      .updateTable('messaging_inbox')
      .set({ [column]: cmd.at.getTime() })
      .where('infrastructure_id', '=', cmd.infrastructureId)
      .where('user_id', '=', scope.userId)
      .where(column, 'is', null)
      .where(canAccess(scope, infra, business))
    if (cmd.entryIds !== 'all') {
      q = q.where(
        sql<SqlBool>`${sql.ref('id')} in (select value as id from json_each(${JSON.stringify(cmd.entryIds)}))`,
      )
    }
    const result = await q.executeTakeFirst()
    return Number(result.numUpdatedRows)
  }
}
