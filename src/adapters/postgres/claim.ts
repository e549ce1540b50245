import { type Kysely, sql } from 'kysely'
import type { MessagingDatabase, OutboxRow } from './schema.js'

export interface ClaimQuery {
  /** The infrastructures to claim from (the scope's, or the one asked for). */
  readonly infrastructureIds: readonly string[]
  readonly limit: number
  readonly now: Date
  readonly leasedUntil: Date
}

/**
 * The hot path: leases up to `limit` claimable messages in one statement.
 *
 * Per infrastructure, the inner query walks `messaging_outbox_ready_idx`
 * (infrastructure_id, available_at, id) in index order and stops after `limit` rows it
 * could lock: FOR UPDATE SKIP LOCKED steps over rows another claimer holds right now, so
 * concurrent claimers split the queue instead of queueing behind each other, and the cost
 * depends on the batch, not on the backlog. The outer query keeps the oldest `limit` over
 * all the infrastructures (rows locked but not kept are released at commit).
 *
 * A row that was claimed is `processing` with `available_at <= now`; a lapsed lease
 * (`leased_until <= now`) makes it claimable again, so `available_at <= $now` bounds the
 * index range for both kinds. Row-level security adds the caller's scope (and the
 * `service` role, through the UPDATE policy that FOR UPDATE needs as well).
 *
 * The UPDATE finds each picked row by its physical address (a TID lookup, whatever the
 * planner estimates): the row is locked by this statement, so its ctid cannot move under
 * it; the key columns are compared as well, so a mismatch could only claim less, never
 * another row.
 *
 * Lease tokens are minted by the database (gen_random_uuid) in the same statement.
 */
export function claimBatch(db: Kysely<MessagingDatabase>, q: ClaimQuery): Promise<OutboxRow[]> {
  return sql<OutboxRow>`
    WITH picked AS (
      SELECT c.row_id, c.infrastructure_id, c.id
        FROM unnest(${[...q.infrastructureIds]}::uuid[]) AS t (infrastructure_id)
        CROSS JOIN LATERAL (
          SELECT o.ctid AS row_id, o.infrastructure_id, o.id, o.available_at
            FROM messaging_outbox AS o
           WHERE o.infrastructure_id = t.infrastructure_id
             AND o.status IN ('pending', 'processing')
             AND o.available_at <= ${q.now}
             AND (o.status = 'pending' OR o.leased_until <= ${q.now})
           ORDER BY o.available_at, o.id
           LIMIT ${q.limit}
             FOR UPDATE SKIP LOCKED
        ) AS c
       ORDER BY c.available_at, c.id
       LIMIT ${q.limit}
    )
    UPDATE messaging_outbox AS o
       SET status = 'processing',
           attempts = o.attempts + 1,
           lease_token = gen_random_uuid(),
           leased_until = ${q.leasedUntil}
      FROM picked AS p
     WHERE o.ctid = p.row_id
       AND o.infrastructure_id = p.infrastructure_id
       AND o.id = p.id
    RETURNING o.*`
    .execute(db)
    .then((r) =>
      r.rows.sort(
        (a, b) =>
          a.available_at.getTime() - b.available_at.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
      ),
    )
}
