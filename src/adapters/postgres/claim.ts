import { type Kysely, sql } from 'kysely'
import type { MessagingDatabase, OutboxRow } from './schema.js'

export interface ClaimQuery {
  /**
   * The infrastructures to claim from (the scope's grants, or the one asked for); `null`
   * for the fleet worker, which finds the tenants with open messages itself.
   */
  readonly infrastructureIds: readonly string[] | null
  /** Tenants to leave out of this claim (the worker's per-tenant cap is reached for them). */
  readonly excludeInfrastructureIds: readonly string[]
  readonly limit: number
  /** At most this many messages of one tenant (at most `limit`). */
  readonly perTenantLimit: number
  /** The lease, from the database's now. */
  readonly leaseMs: number
  /**
   * The fleet's round-robin cursor: the last tenant the previous claim served. The skip scan
   * starts after it and wraps around. null: from the start.
   */
  readonly after?: string | null
}

/**
 * A row claimable now by the database's clock: pending and due, or held under a lapsed
 * lease. Over `o`. messaging_now() is STABLE and inlined, so it bounds the index range.
 */
/**
 * A keyed row's turn (sql/0053): no earlier row of its tenant (infrastructure and business)
 * and key is pending or
 * processing (a lapsed holder's included: it goes first when claimed again), or failed or
 * dead on a channel whose config does not say `orderingOnDead: 'skip'`; and no row of the
 * key is held under a live lease (a redriven earlier row must not overtake a later one in
 * flight). Two probes of the partial indexes messaging_outbox_ordering_idx and
 * messaging_outbox_ordering_held_idx; `o.ordering_key IS NULL` comes first in the OR, which
 * PostgreSQL evaluates left to right, so a row without a key runs neither. In one statement
 * only a key's first unsettled row can pass, so a claim takes at most one message per key.
 */
const ORDERED = sql`
  (o.ordering_key IS NULL OR (
    NOT EXISTS (
      SELECT FROM messaging_outbox AS b
       WHERE b.infrastructure_id = o.infrastructure_id AND b.ordering_key = o.ordering_key
         AND b.ordering_seq < o.ordering_seq AND b.business_id IS NOT DISTINCT FROM o.business_id
         AND b.order_open
         AND (b.queued
              OR NOT EXISTS (
                SELECT FROM messaging_channels AS k
                 WHERE k.infrastructure_id = b.infrastructure_id AND k.id = b.channel_id
                   AND k.config ->> 'orderingOnDead' = 'skip')))
    AND NOT EXISTS (
      SELECT FROM messaging_outbox AS b
       WHERE b.infrastructure_id = o.infrastructure_id AND b.ordering_key = o.ordering_key
         AND b.business_id IS NOT DISTINCT FROM o.business_id
         AND b.order_held AND b.leased_until > messaging_now())))`

const READY = sql`
  o.queued
  AND o.available_at <= messaging_now()
  AND (o.status = 'pending' OR o.leased_until <= messaging_now())
  AND ${ORDERED}`

/**
 * The hot path: leases up to `limit` claimable messages in one statement, fairly between
 * tenants, at a cost that does not grow with the backlog.
 *
 * Fair means what the memory adapter does: a round robin over the tenants with claimable
 * messages, each tenant's highest priority then oldest first (sql/0051), tenants in the order of their head's due time
 * message, at most `perTenantLimit` of one tenant. A backlog of 100,000 in one tenant
 * then takes one slot per round like every other tenant.
 *
 * Steps, all walking `messaging_outbox_ready_idx (infrastructure_id, priority, available_at, id)
 * WHERE queued` (sql/0150: status pending or processing; settled rows, the bulk of a
 * long-lived table, are not in it):
 *
 * 1. candidates: the scope's infrastructures, or for the fleet a skip scan over the
 *    index's leading column (a recursive CTE: one index probe per tenant with open rows,
 *    never a walk over one tenant's rows) that starts after the cursor `after` (the last
 *    tenant the previous claim served) and wraps around to the start;
 * 2. heads: per candidate, its first claimable row (an index range, LIMIT 1); for a scope,
 *    the `limit` tenants with the oldest heads go on (a tenant further down could not get a
 *    slot: round one alone fills the claim); for the fleet, the next `limit` tenants with a
 *    due head after the cursor, and the skip scan stops there. Probing every tenant with
 *    open rows to find the oldest heads cost 11.7x (8.9 -> 104 ms) with 10,000 such tenants;
 *    the rotating cursor is just as round-robin between claims and costs about `limit`
 *    probes whatever the number of tenants;
 * 3. slots: per such tenant, how many it could give (up to `perTenantLimit`, and never more
 *    than `limit - heads + 1`: every other head takes a slot in round one), numbered 1..n
 *    as its rounds; the first `limit` slots in (round, head) order are the round robin, and
 *    counting them per tenant gives each tenant's share. Without the second bound a claim
 *    of 100 over 100 busy tenants counted 100 rows of each (10,000 index entries and heap
 *    checks, about 14 ms) to hand out one each;
 * 4. picked: per tenant, its share of rows in index order, FOR UPDATE SKIP LOCKED: rows
 *    another claimer holds right now are stepped over, so concurrent claimers split a
 *    tenant's queue instead of queueing behind each other. Only rows that are kept get
 *    locked (no over-locking to be thrown away).
 *
 * Steps 2 and 3 read without locks: under contention a share may meet fewer unlocked rows
 * than counted, and the claim returns fewer (never a held one). Cost: one probe per
 * candidate tenant plus at most `limit * perTenantLimit` index entries, whatever the number
 * of pending messages (measured in test/postgres/plan.test.ts).
 *
 * A row that was claimed is `processing` with `available_at <= now`; a lapsed lease
 * (`leased_until <= now`) makes it claimable again, so `available_at <= now` bounds the
 * index range for both kinds. Row-level security adds the caller's scope (and the
 * `service` role, through the UPDATE policy that FOR UPDATE needs as well).
 *
 * The UPDATE finds each picked row by its physical address (a TID lookup): the row is
 * locked by this statement, so its ctid cannot move under it; the key columns are compared
 * as well, so a mismatch could only claim less, never another row. Lease tokens are minted
 * by the database (gen_random_uuid) in the same statement. It changes no value an index
 * reads (sql/0150), so PostgreSQL writes each claimed row's new version on its own page
 * without new index entries wherever the page has room.
 *
 * Rows come back in round-robin order.
 */
export async function claimBatch(db: Kysely<MessagingDatabase>, q: ClaimQuery): Promise<OutboxRow[]> {
  const perTenant = Math.max(1, Math.min(q.perTenantLimit, q.limit))
  const fleet = q.infrastructureIds === null
  const after = q.after ?? null
  /** A skip scan over the open tenants in id order, from `lower` (exclusive), up to `upper`. */
  const skipScan = (name: string, lower: string | null, upper: string | null) => {
    const bounds = (col: ReturnType<typeof sql>) =>
      sql`${lower === null ? sql`` : sql`AND ${col} > ${lower}::uuid`} ${upper === null ? sql`` : sql`AND o.infrastructure_id <= ${upper}::uuid`}`
    return sql`
      ${sql.raw(name)} (infrastructure_id) AS (
        (SELECT o.infrastructure_id FROM messaging_outbox AS o
          WHERE o.queued ${bounds(sql`o.infrastructure_id`)}
          ORDER BY o.infrastructure_id LIMIT 1)
        UNION ALL
        SELECT (SELECT o.infrastructure_id FROM messaging_outbox AS o
                 WHERE o.queued AND o.infrastructure_id > s.infrastructure_id
                       ${upper === null ? sql`` : sql`AND o.infrastructure_id <= ${upper}::uuid`}
                 ORDER BY o.infrastructure_id LIMIT 1)
          FROM ${sql.raw(name)} AS s
         WHERE s.infrastructure_id IS NOT NULL
      ),`
  }
  const candidates = !fleet
    ? sql`
      candidates AS (SELECT t.infrastructure_id FROM unnest(${[...(q.infrastructureIds ?? [])]}::uuid[]) AS t (infrastructure_id)),`
    : after === null
      ? sql`${skipScan('skip', null, null)}
      candidates AS (SELECT s.infrastructure_id FROM skip AS s WHERE s.infrastructure_id IS NOT NULL),`
      : sql`${skipScan('skip', after, null)}${skipScan('wrap', null, after)}
      candidates AS (
        SELECT s.infrastructure_id FROM skip AS s WHERE s.infrastructure_id IS NOT NULL
        UNION ALL
        SELECT w.infrastructure_id FROM wrap AS w WHERE w.infrastructure_id IS NOT NULL),`
  const r = await sql<OutboxRow>`
    WITH RECURSIVE ${candidates}
    heads AS (
      SELECT c.infrastructure_id, h.available_at, h.id
        FROM candidates AS c
        CROSS JOIN LATERAL (
          SELECT o.available_at, o.id FROM messaging_outbox AS o
           WHERE o.infrastructure_id = c.infrastructure_id AND ${READY}
           ORDER BY o.priority, o.available_at, o.id
           LIMIT 1
        ) AS h
       WHERE NOT (c.infrastructure_id = ANY (${[...q.excludeInfrastructureIds]}::uuid[]))
       ${fleet ? sql`` : sql`ORDER BY h.available_at, h.id`}
       LIMIT ${q.limit}
    ),
    slots AS (
      SELECT h.infrastructure_id, h.available_at, h.id, g.round
        FROM heads AS h
        CROSS JOIN LATERAL generate_series(1, (
          SELECT count(*)::int FROM (
            SELECT 1 FROM messaging_outbox AS o
             WHERE o.infrastructure_id = h.infrastructure_id AND ${READY}
             ORDER BY o.priority, o.available_at, o.id
             LIMIT least(${perTenant}, ${q.limit} - (SELECT count(*) FROM heads) + 1)) AS n
        )) AS g (round)
    ),
    shares AS (
      SELECT s.infrastructure_id, count(*) AS share
        FROM (SELECT sl.infrastructure_id FROM slots AS sl
               ORDER BY sl.round, sl.available_at, sl.id
               LIMIT ${q.limit}) AS s
       GROUP BY s.infrastructure_id
    ),
    picked AS (
      SELECT c.row_id, c.infrastructure_id, c.id
        FROM shares AS s
        CROSS JOIN LATERAL (
          SELECT o.ctid AS row_id, o.infrastructure_id, o.id
            FROM messaging_outbox AS o
           WHERE o.infrastructure_id = s.infrastructure_id AND ${READY}
           ORDER BY o.priority, o.available_at, o.id
           LIMIT s.share
             FOR UPDATE SKIP LOCKED
        ) AS c
       -- Never more than limit (the shares add up to it); saying so keeps the estimate small
       -- enough for the update to find its rows by address. With the planner's guess of
       -- 144 rows per tenant it hashed a sequential scan of the whole outbox instead
       -- (about 400 of 610 ms of a claim of 100 with 50,000 ready rows).
       LIMIT ${q.limit}
    )
    UPDATE messaging_outbox AS o
       SET status = 'processing',
           attempts = o.attempts + 1,
           lease_token = gen_random_uuid(),
           leased_until = messaging_now() + ${Math.max(0, Math.round(q.leaseMs))} * interval '1 millisecond'
      FROM picked AS p
     WHERE o.ctid = p.row_id
       AND o.infrastructure_id = p.infrastructure_id
       AND o.id = p.id
    RETURNING o.*`.execute(db)
  return roundRobin(r.rows)
}

/**
 * The fleet workers' round-robin cursors, by worker id (in this process; workers elsewhere
 * keep their own): the last tenant each one's previous claim served. Bounded: a forgotten
 * cursor only restarts that worker's rotation from the start.
 */
const fleetCursors = new Map<string, string>()

export function fleetCursor(workerId: string): string | null {
  return fleetCursors.get(workerId) ?? null
}

/** After a claim: the last tenant it served in the skip scan's order (after the cursor, then wrapped). */
export function advanceFleetCursor(workerId: string, after: string | null, rows: readonly OutboxRow[]): void {
  if (rows.length === 0) return
  const served = rows.map((r) => r.infrastructure_id)
  const wrapped = after === null ? [] : served.filter((id) => id <= after)
  const last = [...(wrapped.length > 0 ? wrapped : served)].sort().at(-1)!
  if (fleetCursors.size >= 1000 && !fleetCursors.has(workerId)) fleetCursors.clear()
  fleetCursors.set(workerId, last)
}

const byAvailable = (a: OutboxRow, b: OutboxRow) =>
  a.available_at.getTime() - b.available_at.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
const byClaimOrder = (a: OutboxRow, b: OutboxRow) => a.priority - b.priority || byAvailable(a, b)

/** Each tenant's rows in claim order, tenants by their heads' due times, interleaved round by round. */
function roundRobin(rows: OutboxRow[]): OutboxRow[] {
  const perTenant = new Map<string, OutboxRow[]>()
  for (const row of [...rows].sort(byClaimOrder)) {
    const list = perTenant.get(row.infrastructure_id)
    if (list) list.push(row)
    else perTenant.set(row.infrastructure_id, [row])
  }
  const queues = [...perTenant.values()].sort((a, b) => byAvailable(a[0]!, b[0]!))
  const out: OutboxRow[] = []
  for (let round = 0; out.length < rows.length; round++)
    for (const q of queues) if (round < q.length) out.push(q[round]!)
  return out
}
