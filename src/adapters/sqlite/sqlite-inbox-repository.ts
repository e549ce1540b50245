import { type Kysely, type SqlBool, sql } from 'kysely'
import { TenantScopeViolationError } from '../../domain/errors.js'
import type { InboxCursor, InboxEntry, InboxMark } from '../../domain/inbox.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { InboxRepository } from '../../ports/inbox-repository.js'
import { toInboxEntry } from './sqlite-rows.js'
import { canAccess } from './sqlite-scope.js'
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
      // INSERT ... SELECT from the entry's own message, read under the scope (the PostgreSQL
      // policy's EXISTS): same tenant, business and channel, and no marks yet. A redelivery
      // of (infrastructure, message, user) adds nothing.
      const o = (c: string) => sql.ref(`messaging_outbox.${c}`)
      const values = [
        ['infrastructure_id', o('infrastructure_id')],
        ['id', sql.val(e.id)],
        ['business_id', o('business_id')],
        ['user_id', sql.val(e.userId)],
        ['channel_id', o('channel_id')],
        ['message_id', o('id')],
        ['payload', sql.val(JSON.stringify(e.payload))],
        ['created_at', sql.val(e.createdAt.getTime())],
      ] as const
      const result =
        await sql`insert into ${sql.table('messaging_inbox')} (${sql.join(values.map(([c]) => sql.ref(c)))}) select ${sql.join(values.map(([, v]) => v))} from ${sql.table('messaging_outbox')} where ${o('infrastructure_id')} = ${e.infrastructureId} and ${o('id')} = ${e.messageId} and ${o('channel_id')} = ${e.channelId} and ${o('business_id')} is ${e.businessId} and ${e.seenAt === null && e.readAt === null && e.archivedAt === null ? sql`1` : sql`0`} and ${canAccess(scope, o('infrastructure_id'), o('business_id'))} on conflict (${sql.ref('infrastructure_id')}, ${sql.ref('message_id')}, ${sql.ref('user_id')}) do nothing`.execute(
          this.db,
        )
      const n = Number(result.numAffectedRows ?? 0n)
      if (n === 0 && !(await this.exists(scope, e))) {
        throw new TenantScopeViolationError(e.infrastructureId, e.businessId)
      }
      added += n
    }
    return added
  }

  /** Whether (infrastructure, message, user) already has its entry: a redelivery, not a refusal. */
  private async exists(scope: TenantScope, e: InboxEntry): Promise<boolean> {
    const row = await this.db
      .selectFrom('messaging_inbox')
      .select('id')
      .where('infrastructure_id', '=', e.infrastructureId)
      .where('message_id', '=', e.messageId)
      .where('user_id', '=', e.userId)
      .where(canAccess(scope, infra, business))
      .executeTakeFirst()
    return row !== undefined
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

  async listAfter(
    scope: TenantScope,
    filter: { infrastructureId: string; after: InboxCursor; limit: number },
  ): Promise<InboxEntry[]> {
    const rows = await this.own(scope, filter.infrastructureId)
      .selectAll()
      .where('archived_at', 'is', null)
      .where(
        sql<SqlBool>`(${sql.ref('messaging_inbox.created_at')}, ${sql.ref('messaging_inbox.id')}) > (${filter.after.createdAt.getTime()}, ${filter.after.id})`,
      )
      .orderBy('created_at', 'asc')
      .orderBy('id', 'asc')
      .limit(Math.max(0, filter.limit))
      .execute()
    return rows.map(toInboxEntry)
  }

  async find(scope: TenantScope, infrastructureId: string, ids: readonly string[]): Promise<InboxEntry[]> {
    if (ids.length === 0) return []
    const rows = await this.own(scope, infrastructureId)
      .selectAll()
      .where(
        sql<SqlBool>`${sql.ref('messaging_inbox.id')} in (select value from json_each(${JSON.stringify(ids.map((id) => id.toLowerCase()))}))`,
      )
      .orderBy('created_at', 'asc')
      .orderBy('id', 'asc')
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
