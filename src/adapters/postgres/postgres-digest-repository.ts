import { type Kysely, sql } from 'kysely'
import type { CategoryDigest } from '../../domain/category.js'
import type { Digest, DigestGroup } from '../../domain/digest.js'
import { TenantScopeViolationError } from '../../domain/errors.js'
import type { TenantScope } from '../../domain/tenant-scope.js'
import type { DigestHeld, DigestRepository, NewDigestItem } from '../../ports/digest-repository.js'
import { inDigestScope } from '../shared/digest-scope.js'
import { type DigestRowValues, digestFromRow } from '../shared/rows/digest-rows.js'
import { classify } from './errors.js'
import type { MessagingDatabase } from './schema.js'

/** The columns a digest is read with: times as epoch ms, like the items' own. */
const columns = sql`infrastructure_id, id, business_id, user_id, category_key, channel_id, destination, digest_key,
  floor(extract(epoch from opened_at) * 1000)::float8 as opened_at,
  floor(extract(epoch from closes_at) * 1000)::float8 as closes_at, max_items, items,
  floor(extract(epoch from closed_at) * 1000)::float8 as closed_at`

/** The database's now in epoch ms, for an item's `at`. */
const nowMs = sql`floor(extract(epoch from messaging_now()) * 1000)::float8`

/**
 * Digests (sql/0100), on the database's clock. An append is one UPDATE of the group's open
 * row, which takes its lock and re-checks openness after any wait: a concurrent close (or
 * the append that filled it) wins, and this append opens the next digest instead. Opening
 * is an INSERT that yields to a concurrent opener on the partial unique index. The policies
 * decide who reaches a row; the scope is the unit of work's.
 */
export class PostgresDigestRepository implements DigestRepository {
  constructor(private readonly db: Kysely<MessagingDatabase>) {}

  async append(scope: TenantScope, group: DigestGroup, item: NewDigestItem): Promise<Digest | null> {
    if (!inDigestScope(scope, group.infrastructureId, group.businessId)) return null
    const entry = sql`jsonb_build_object('notificationId', ${item.notificationId}::text, 'at', ${nowMs},
      'data', ${JSON.stringify(item.data)}::jsonb)`
    const { rows } = await sql<DigestRowValues>`
      with d as (
        update messaging_digests
           set items = items || jsonb_build_array(${entry}), item_count = item_count + 1,
               closed_at = case when item_count + 1 >= max_items then messaging_now() end
         where ${groupIs(group)} and closed_at is null and closes_at > messaging_now()
        returning ${columns}),
      ${indexed(item.notificationId)}
      select * from d`
      .execute(this.db)
      .catch((e) => Promise.reject(classify(e, refused(group.infrastructureId))))
    if (rows[0]) return digestFromRow(rows[0])
    // A window that ended frees the group for the next digest; its delivery reads it as it is.
    await sql`
      update messaging_digests set closed_at = messaging_now()
       where ${groupIs(group)} and closed_at is null and closes_at <= messaging_now()`
      .execute(this.db)
      .catch((e) => Promise.reject(classify(e, refused(group.infrastructureId))))
    return null
  }

  async open(
    scope: TenantScope,
    group: DigestGroup,
    digest: { readonly id: string; readonly settings: CategoryDigest },
    item: NewDigestItem,
  ): Promise<Digest | null> {
    if (!inDigestScope(scope, group.infrastructureId, group.businessId)) return null
    const { rows } = await sql<DigestRowValues>`
      with d as (
      insert into messaging_digests (infrastructure_id, id, business_id, user_id, category_key, channel_id,
                                     destination, digest_key, opened_at, closes_at, max_items, item_count, items)
      values (${group.infrastructureId}::uuid, ${digest.id}::uuid, ${group.businessId}::uuid,
              ${group.userId}::uuid, ${group.categoryKey}, ${group.channelId}::uuid, ${group.destination},
              ${group.digestKey},
              messaging_now(), messaging_now() + make_interval(secs => ${digest.settings.windowSeconds}::int),
              ${digest.settings.maxItems}::int, 1,
              jsonb_build_array(jsonb_build_object('notificationId', ${item.notificationId}::text,
                'at', ${nowMs}, 'data', ${JSON.stringify(item.data)}::jsonb)))
      ${openConflict(group)} do nothing
      returning ${columns}),
      ${indexed(item.notificationId)}
      select * from d`
      .execute(this.db)
      .catch((e) => Promise.reject(classify(e, refused(group.infrastructureId))))
    return rows[0] ? digestFromRow(rows[0]) : null
  }

  async close(_scope: TenantScope, infrastructureId: string, id: string): Promise<Digest | null> {
    const { rows } = await sql<DigestRowValues>`
      update messaging_digests set closed_at = coalesce(closed_at, messaging_now())
       where infrastructure_id = ${infrastructureId}::uuid and id = ${id}::uuid
      returning ${columns}`
      .execute(this.db)
      .catch((e) => Promise.reject(classify(e, refused(infrastructureId))))
    return rows[0] ? digestFromRow(rows[0]) : null
  }

  async find(_scope: TenantScope, infrastructureId: string, id: string): Promise<Digest | null> {
    const { rows } = await sql<DigestRowValues>`
      select ${columns} from messaging_digests
       where infrastructure_id = ${infrastructureId}::uuid and id = ${id}::uuid`
      .execute(this.db)
      .catch((e) => Promise.reject(classify(e, refused(infrastructureId))))
    return rows[0] ? digestFromRow(rows[0]) : null
  }

  async ofNotification(
    _scope: TenantScope,
    infrastructureId: string,
    notificationId: string,
  ): Promise<Digest[]> {
    if (!UUID.test(notificationId)) return []
    const { rows } = await sql<DigestRowValues>`
      select ${columns} from messaging_digests
       where infrastructure_id = ${infrastructureId}::uuid and ${holds(infrastructureId, notificationId)}
       order by id`
      .execute(this.db)
      .catch((e) => Promise.reject(classify(e, refused(infrastructureId))))
    return rows.map(digestFromRow)
  }

  async held(scope: TenantScope, filter: { readonly infrastructureId?: string }): Promise<DigestHeld[]> {
    if (!scope.hasRole('infra_admin', 'service')) return []
    // The policies keep the scope's tenants; an open digest is a few rows per recipient at most.
    const { rows } = await sql<{ infrastructure_id: string; channel_id: string; items: number }>`
      select infrastructure_id, channel_id, sum(item_count)::int as items from messaging_digests
       where closed_at is null
         and ${filter.infrastructureId === undefined ? sql`true` : sql`infrastructure_id = ${filter.infrastructureId}::uuid`}
       group by infrastructure_id, channel_id
       order by infrastructure_id, channel_id`
      .execute(this.db)
      .catch((e) => Promise.reject(classify(e)))
    return rows.map((r) => ({
      infrastructureId: r.infrastructure_id,
      channelId: r.channel_id,
      items: r.items,
    }))
  }

  async withdraw(_scope: TenantScope, infrastructureId: string, notificationId: string): Promise<Digest[]> {
    if (!UUID.test(notificationId)) return []
    const { rows } = await sql<DigestRowValues>`
      update messaging_digests as d
         set items = (select jsonb_agg(case when e ->> 'notificationId' = ${notificationId}::text
                                            then e || '{"cancelled": true}'::jsonb else e end order by n)
                        from jsonb_array_elements(d.items) with ordinality as x(e, n))
       where infrastructure_id = ${infrastructureId}::uuid and closed_at is null
         and ${holds(infrastructureId, notificationId)}
      returning ${columns}`
      .execute(this.db)
      .catch((e) => Promise.reject(classify(e, refused(infrastructureId))))
    return rows.map(digestFromRow)
  }
}

/** Ids are uuids: anything else names no item (and would not cast). */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/**
 * The digest holds an item of the notification: its digests read from the item index
 * (sql/0103, the notification's few entries), not by testing every digest row's items.
 */
const holds = (infrastructureId: string, notificationId: string) =>
  sql`id in (select i.digest_id from messaging_digest_items as i
              where i.infrastructure_id = ${infrastructureId}::uuid and i.notification_id = ${notificationId}::uuid)`

/** The item's index entry (sql/0103), written in the statement that adds the item to digest `d`. */
const indexed = (notificationId: string) =>
  sql`i as (insert into messaging_digest_items (infrastructure_id, notification_id, digest_id, business_id)
            select d.infrastructure_id, ${notificationId}::uuid, d.id, d.business_id from d
            on conflict do nothing)`

/** The group's rows, on the columns of its open-digest index (sql/0100, sql/0102). */
const groupIs = (g: DigestGroup) => sql`infrastructure_id = ${g.infrastructureId}::uuid
  and ${
    g.destination === null
      ? sql`user_id = ${g.userId}::uuid and category_key = ${g.categoryKey}`
      : sql`md5(destination) = md5(${g.destination}::text) and destination = ${g.destination}::text`
  }
  and channel_id = ${g.channelId}::uuid and digest_key = ${g.digestKey}
  and coalesce(business_id, infrastructure_id) = coalesce(${g.businessId}::uuid, ${g.infrastructureId}::uuid)`

/** The open-digest index an opener yields on: a category's (sql/0100) or a channel's (sql/0102). */
const openConflict = (g: DigestGroup) =>
  g.destination === null
    ? sql`on conflict (infrastructure_id, user_id, category_key, channel_id, digest_key,
                       coalesce(business_id, infrastructure_id)) where closed_at is null`
    : sql`on conflict (infrastructure_id, channel_id, md5(destination), digest_key,
                       coalesce(business_id, infrastructure_id)) where closed_at is null and destination is not null`

/** A policy refusal (42501): the tenant is not the scope's (or its role does not notify). */
const refused = (infrastructureId: string) => ({
  refused: () => new TenantScopeViolationError(infrastructureId),
})
