import { type Kysely, sql } from 'kysely'
import { QUEUE_HISTORY_KEEP_MS } from '../../domain/queue-history.js'
import type { PruneOptions } from '../../ports/unit-of-work.js'
import type { MessagingDatabase } from './schema.js'

/**
 * Retention, as the owner: removes up to `batchSize` settled messages (processed, failed,
 * dead, cancelled) settled before the cut-off, with their attempts, in one short statement; returns
 * how many messages went. Call it again until it returns 0. A cut-off given as an age is
 * taken back from the database's now, like every other time the store compares.
 *
 * The tenants with settled rows come from a skip scan over messaging_outbox_settled_idx
 * (infrastructure_id, settled_at), and each tenant's oldest settled rows from an index
 * range, so a batch never walks live rows nor what earlier batches removed. Rows are
 * deleted by address. No row lock is taken before the delete: claims never touch settled
 * rows, and a message redriven meanwhile (now pending, at a new address) fails the
 * re-checked conditions and stays. Enqueues and claims never wait for a prune.
 */
export async function pruneBatch(db: Kysely<MessagingDatabase>, options: PruneOptions): Promise<number> {
  const batchSize = options.batchSize ?? 1000
  const cutOff =
    options.olderThan instanceof Date
      ? sql`${options.olderThan}::timestamptz`
      : sql`(messaging_now() - ${Math.max(0, options.olderThan.ageMs)} * interval '1 millisecond')`
  const r = await sql<{ n: number }>`
    WITH RECURSIVE skip (infrastructure_id) AS (
      (SELECT o.infrastructure_id FROM messaging_outbox AS o
        WHERE NOT o.queued
        ORDER BY o.infrastructure_id LIMIT 1)
      UNION ALL
      SELECT (SELECT o.infrastructure_id FROM messaging_outbox AS o
               WHERE NOT o.queued AND o.infrastructure_id > s.infrastructure_id
               ORDER BY o.infrastructure_id LIMIT 1)
        FROM skip AS s
       WHERE s.infrastructure_id IS NOT NULL
    ),
    gone AS (
      DELETE FROM messaging_outbox AS o
       WHERE o.ctid = ANY (ARRAY(
               SELECT d.row_id
                 FROM skip AS s
                 CROSS JOIN LATERAL (
                   SELECT x.ctid AS row_id FROM messaging_outbox AS x
                    WHERE x.infrastructure_id = s.infrastructure_id
                      AND NOT x.queued
                      AND x.settled_at < ${cutOff}
                    ORDER BY x.settled_at
                    LIMIT ${batchSize}) AS d
                WHERE s.infrastructure_id IS NOT NULL
                LIMIT ${batchSize}))
         AND NOT o.queued
         AND o.settled_at < ${cutOff}
      RETURNING o.infrastructure_id, o.id
    ),
    gone_attempts AS (
      DELETE FROM messaging_delivery_attempts AS a
       USING gone AS g
       WHERE a.infrastructure_id = g.infrastructure_id AND a.message_id = g.id
    ),
    -- A digest (sql/0100) goes with its delivery message, which has its id.
    gone_digests AS (
      DELETE FROM messaging_digests AS dg
       USING gone AS g
       WHERE dg.infrastructure_id = g.infrastructure_id AND dg.id = g.id
    ),
    -- The queue's per-minute rollup (sql/0120) older than QUEUE_HISTORY_KEEP_MS.
    gone_minutes AS (
      DELETE FROM messaging_queue_minutes AS q
       WHERE q.minute < date_trunc('minute', messaging_now()) - ${QUEUE_HISTORY_KEEP_MS} * interval '1 millisecond'
    )
    SELECT count(*)::int AS n FROM gone`.execute(db)
  return r.rows[0]?.n ?? 0
}

/**
 * Retention of delivery events (sql/0110), as the owner: removes up to `batchSize` events
 * older than the cut-off, oldest first, in one short statement; returns how many went.
 */
export async function pruneEventsBatch(
  db: Kysely<MessagingDatabase>,
  options: PruneOptions,
): Promise<number> {
  const batchSize = options.batchSize ?? 1000
  const cutOff =
    options.olderThan instanceof Date
      ? sql`${options.olderThan}::timestamptz`
      : sql`(messaging_now() - ${Math.max(0, options.olderThan.ageMs)} * interval '1 millisecond')`
  const r = await sql<{ n: number }>`
    WITH gone AS (
      DELETE FROM messaging_events AS v
       WHERE v.ctid = ANY (ARRAY(
               SELECT x.ctid FROM messaging_events AS x
                WHERE x.occurred_at < ${cutOff}
                ORDER BY x.occurred_at
                LIMIT ${batchSize}))
      RETURNING 1
    )
    SELECT count(*)::int AS n FROM gone`.execute(db)
  return r.rows[0]?.n ?? 0
}
