import { type Kysely, sql } from 'kysely'
import { TenantScopeViolationError } from '../../domain/errors.js'
import type { InboxCursor, InboxEntry, InboxMark } from '../../domain/inbox.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { InboxRepository } from '../../ports/inbox-repository.js'
import { classify } from './errors.js'
import { inboxRow, type MessagingDatabase, toInboxEntry } from './schema.js'

const MARK_COLUMN = { seen: 'seen_at', read: 'read_at', archived: 'archived_at' } as const

/** Entries per INSERT: a channel with many members is written in a few statements. */
const DELIVER_CHUNK = 500

/**
 * In-app inboxes on PostgreSQL. The policies (sql/0007_inbox.sql) keep every entry its
 * user's: reads and marks see only rows with `user_id` = the claims' sub within the user's
 * grants; only role service (or the fleet worker) writes entries. The statements name the
 * user as well, so they walk the user's index range.
 */
export class PostgresInboxRepository implements InboxRepository {
  constructor(private readonly db: Kysely<MessagingDatabase>) {}

  async deliver(scope: TenantScope, entries: readonly InboxEntry[]): Promise<number> {
    for (const e of entries) {
      if (!scope.hasRole('service') || !scope.canAccess(e.infrastructureId, e.businessId)) {
        throw new TenantScopeViolationError(e.infrastructureId, e.businessId)
      }
    }
    let added = 0
    for (let i = 0; i < entries.length; i += DELIVER_CHUNK) {
      const chunk = entries.slice(i, i + DELIVER_CHUNK)
      const first = chunk[0]!
      // ON CONFLICT DO NOTHING: a redelivered message adds no second entry. Without a
      // conflict target and without RETURNING: naming the arbiter columns, like returning
      // rows, makes PostgreSQL hold the new row to the select policy too, and that one shows
      // a user only their own entries, so the worker's insert would be refused. The entry
      // id is fresh, so the only key that can conflict is (infrastructure, message, user).
      const r = await this.db
        .insertInto('messaging_inbox')
        .values(chunk.map((e) => inboxRow(e)))
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst()
        .catch((e) =>
          Promise.reject(
            classify(e, {
              refused: () => new TenantScopeViolationError(first.infrastructureId, first.businessId),
              missing: { entity: 'channel', id: first.channelId },
            }),
          ),
        )
      added += Number(r.numInsertedOrUpdatedRows ?? 0)
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
    let q = this.db
      .selectFrom('messaging_inbox as e')
      .selectAll('e')
      .where('e.infrastructure_id', '=', filter.infrastructureId)
      .where('e.user_id', '=', scope.userId)
    if (!filter.includeArchived) q = q.where('e.archived_at', 'is', null)
    if (filter.unreadOnly) q = q.where('e.read_at', 'is', null)
    if (filter.before !== undefined) {
      // Keyset, newest first: entries older than the cursor. A cursor that is not the
      // caller's own entry is invisible, the comparison null, the page empty.
      q = q.where(
        sql<boolean>`(e.created_at, e.id) < (
          SELECT c.created_at, c.id FROM messaging_inbox AS c
           WHERE c.infrastructure_id = ${filter.infrastructureId} AND c.id = ${filter.before})`,
      )
    }
    const rows = await q.orderBy('e.created_at', 'desc').orderBy('e.id', 'desc').limit(filter.limit).execute()
    return rows.map(toInboxEntry)
  }

  async listAfter(
    scope: TenantScope,
    filter: { infrastructureId: string; after: InboxCursor; limit: number },
  ): Promise<InboxEntry[]> {
    // The user's index walked forwards from the cursor (a row comparison it can range-scan).
    const rows = await this.db
      .selectFrom('messaging_inbox as e')
      .selectAll('e')
      .where('e.infrastructure_id', '=', filter.infrastructureId)
      .where('e.user_id', '=', scope.userId)
      .where('e.archived_at', 'is', null)
      .where(
        sql<boolean>`(e.created_at, e.id) > (${filter.after.createdAt}::timestamptz, ${filter.after.id}::uuid)`,
      )
      .orderBy('e.created_at', 'asc')
      .orderBy('e.id', 'asc')
      .limit(filter.limit)
      .execute()
    return rows.map(toInboxEntry)
  }

  async find(scope: TenantScope, infrastructureId: string, ids: readonly string[]): Promise<InboxEntry[]> {
    if (ids.length === 0) return []
    const rows = await this.db
      .selectFrom('messaging_inbox as e')
      .selectAll('e')
      .where('e.infrastructure_id', '=', infrastructureId)
      .where('e.user_id', '=', scope.userId)
      .where(
        'e.id',
        'in',
        ids.map((id) => id.toLowerCase()),
      )
      .orderBy('e.created_at', 'asc')
      .orderBy('e.id', 'asc')
      .execute()
    return rows.map(toInboxEntry)
  }

  async countUnread(scope: TenantScope, infrastructureId: string): Promise<number> {
    const row = await this.db
      .selectFrom('messaging_inbox')
      .select(sql<number>`count(*)::int`.as('n'))
      .where('infrastructure_id', '=', infrastructureId)
      .where('user_id', '=', scope.userId)
      .where('read_at', 'is', null)
      .where('archived_at', 'is', null)
      .executeTakeFirst()
    return row?.n ?? 0
  }

  async mark(
    scope: TenantScope,
    cmd: { infrastructureId: string; entryIds: readonly string[] | 'all'; mark: InboxMark; at: Date },
  ): Promise<number> {
    const column = MARK_COLUMN[cmd.mark]
    let q = this.db
      .updateTable('messaging_inbox')
      .set({ [column]: cmd.at })
      .where('infrastructure_id', '=', cmd.infrastructureId)
      .where('user_id', '=', scope.userId)
      .where(column, 'is', null)
    if (cmd.entryIds !== 'all') {
      if (cmd.entryIds.length === 0) return 0
      q = q.where('id', 'in', [...cmd.entryIds])
    }
    const r = await q.executeTakeFirst()
    return Number(r.numUpdatedRows)
  }
}
