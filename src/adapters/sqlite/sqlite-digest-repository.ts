import { type Kysely, sql } from 'kysely'
import type { CategoryDigest } from '../../domain/category.js'
import type { Digest, DigestGroup } from '../../domain/digest.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { Clock } from '../../ports/clock.js'
import type { DigestHeld, DigestRepository, NewDigestItem } from '../../ports/digest-repository.js'
import { inDigestScope } from '../shared/digest-scope.js'
import { type DigestRowValues, digestFromRow } from '../shared/rows/digest-rows.js'
import { canAccess } from './sqlite-scope.js'
import type { SqliteDatabase } from './sqlite-tables.js'

type Row = Omit<DigestRowValues, 'items'> & { items: string }

const fromRow = (r: Row): Digest => digestFromRow({ ...r, items: JSON.parse(r.items) })

/**
 * Digests in the shared file (v21, v23, v25). Each change is one statement on the digest's row inside
 * the unit's write transaction, which keeps two processes from adding to and closing one
 * digest at once; the time is the store's clock. The open digest of a group is unique (a
 * partial unique index), so two openers never both succeed.
 */
export class SqliteDigestRepository implements DigestRepository {
  constructor(
    private readonly db: Kysely<SqliteDatabase>,
    private readonly clock: Clock,
  ) {}

  async append(scope: TenantScope, group: DigestGroup, item: NewDigestItem): Promise<Digest | null> {
    if (!inDigestScope(scope, group.infrastructureId, group.businessId)) return null
    const now = this.clock.now().getTime()
    const entry = JSON.stringify({ notificationId: item.notificationId, at: now, data: item.data })
    const { rows } = await sql<Row>`
      update messaging_digests
         set items = json_insert(items, '$[#]', json(${entry})), item_count = item_count + 1,
             closed_at = case when item_count + 1 >= max_items then ${now} end
       where ${this.groupIs(group)} and closed_at is null and closes_at > ${now}
         and ${canAccess(scope, sql.ref('infrastructure_id'), sql.ref('business_id'))}
      returning *`.execute(this.db)
    if (rows[0]) return this.indexed(fromRow(rows[0]), item.notificationId)
    // A window that ended frees the group for the next digest; its delivery reads it as it is.
    await sql`
      update messaging_digests set closed_at = ${now}
       where ${this.groupIs(group)} and closed_at is null and closes_at <= ${now}
         and ${canAccess(scope, sql.ref('infrastructure_id'), sql.ref('business_id'))}`.execute(this.db)
    return null
  }

  async open(
    scope: TenantScope,
    group: DigestGroup,
    digest: { readonly id: string; readonly settings: CategoryDigest },
    item: NewDigestItem,
  ): Promise<Digest | null> {
    if (!inDigestScope(scope, group.infrastructureId, group.businessId)) return null
    const now = this.clock.now().getTime()
    const items = JSON.stringify([{ notificationId: item.notificationId, at: now, data: item.data }])
    const { rows } = await sql<Row>`
      insert into messaging_digests (infrastructure_id, id, business_id, user_id, category_key, channel_id,
                                     destination, digest_key, opened_at, closes_at, max_items, item_count, items,
                                     closed_at)
      select ${group.infrastructureId}, ${digest.id}, ${group.businessId}, ${group.userId}, ${group.categoryKey},
             ${group.channelId}, ${group.destination}, ${group.digestKey}, ${now},
             ${now + digest.settings.windowSeconds * 1000}, ${digest.settings.maxItems}, 1, ${items}, null
       where ${canAccess(scope, sql.val(group.infrastructureId), sql.val(group.businessId))}
      ${
        group.destination === null
          ? sql`on conflict (infrastructure_id, user_id, category_key, channel_id, digest_key, coalesce(business_id, ''))
                  where closed_at is null`
          : sql`on conflict (infrastructure_id, channel_id, destination, digest_key, coalesce(business_id, ''))
                  where closed_at is null and destination is not null`
      } do nothing
      returning *`.execute(this.db)
    return rows[0] ? this.indexed(fromRow(rows[0]), item.notificationId) : null
  }

  async close(scope: TenantScope, infrastructureId: string, id: string): Promise<Digest | null> {
    if (!scope.hasRole('infra_admin', 'service')) return null
    const { rows } = await sql<Row>`
      update messaging_digests set closed_at = coalesce(closed_at, ${this.clock.now().getTime()})
       where infrastructure_id = ${infrastructureId} and id = ${id}
         and ${canAccess(scope, sql.ref('infrastructure_id'), sql.ref('business_id'))}
      returning *`.execute(this.db)
    return rows[0] ? fromRow(rows[0]) : null
  }

  async find(scope: TenantScope, infrastructureId: string, id: string): Promise<Digest | null> {
    if (!scope.hasRole('infra_admin', 'service')) return null
    const { rows } = await sql<Row>`
      select * from "messaging_digests"
       where infrastructure_id = ${infrastructureId} and id = ${id}
         and ${canAccess(scope, sql.ref('infrastructure_id'), sql.ref('business_id'))}`.execute(this.db)
    return rows[0] ? fromRow(rows[0]) : null
  }

  async ofNotification(
    scope: TenantScope,
    infrastructureId: string,
    notificationId: string,
  ): Promise<Digest[]> {
    if (!scope.hasRole('infra_admin', 'service')) return []
    const { rows } = await sql<Row>`
      select * from "messaging_digests"
       where infrastructure_id = ${infrastructureId} and ${holds(infrastructureId, notificationId)}
         and ${canAccess(scope, sql.ref('infrastructure_id'), sql.ref('business_id'))}
       order by id`.execute(this.db)
    return rows.map(fromRow)
  }

  async held(scope: TenantScope, filter: { readonly infrastructureId?: string }): Promise<DigestHeld[]> {
    if (!scope.hasRole('infra_admin', 'service')) return []
    const { rows } = await sql<{ infrastructure_id: string; channel_id: string; items: number }>`
      select infrastructure_id, channel_id, sum(item_count) as items from "messaging_digests"
       where closed_at is null
         and ${filter.infrastructureId === undefined ? sql`1` : sql`infrastructure_id = ${filter.infrastructureId}`}
         and ${canAccess(scope, sql.ref('messaging_digests.infrastructure_id'), sql.ref('messaging_digests.business_id'))}
       group by infrastructure_id, channel_id
       order by infrastructure_id, channel_id`.execute(this.db)
    return rows.map((r) => ({
      infrastructureId: r.infrastructure_id,
      channelId: r.channel_id,
      items: Number(r.items),
    }))
  }

  async withdraw(scope: TenantScope, infrastructureId: string, notificationId: string): Promise<Digest[]> {
    if (!scope.hasRole('infra_admin', 'service')) return []
    // One statement: each open digest holding the notification gets its items rewritten in order.
    const { rows } = await sql<Row>`
      update messaging_digests
         set items = (select json_group_array(json(case when json_extract(e.value, '$.notificationId') = ${notificationId}
                                                   then json_set(e.value, '$.cancelled', json('true')) else e.value end))
                        from (select value from json_each(messaging_digests.items) order by key) as e)
       where infrastructure_id = ${infrastructureId} and closed_at is null
         and ${holds(infrastructureId, notificationId)}
         and ${canAccess(scope, sql.ref('infrastructure_id'), sql.ref('business_id'))}
      returning *`.execute(this.db)
    return rows.map(fromRow)
  }

  /** The item's index entry (v25), in the unit's transaction with the item. */
  private async indexed(d: Digest, notificationId: string): Promise<Digest> {
    await sql`
      insert or ignore into messaging_digest_items (infrastructure_id, notification_id, digest_id, business_id)
      values (${d.infrastructureId}, ${notificationId}, ${d.id}, ${d.businessId})`.execute(this.db)
    return d
  }

  private groupIs(g: DigestGroup) {
    const who =
      g.destination === null
        ? sql`user_id = ${g.userId} and category_key = ${g.categoryKey}`
        : sql`destination = ${g.destination}`
    return sql`infrastructure_id = ${g.infrastructureId} and ${who}
      and channel_id = ${g.channelId} and digest_key = ${g.digestKey}
      and coalesce(business_id, '') = ${g.businessId ?? ''}`
  }
}

/** The notification's digests, read from the item index (v25) rather than every digest's items. */
const holds = (infrastructureId: string, notificationId: string) =>
  sql`id in (select digest_id from "messaging_digest_items"
              where infrastructure_id = ${infrastructureId} and notification_id = ${notificationId})`
