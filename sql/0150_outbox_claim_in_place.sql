-- messaging 0150: a claim rewrites its row in place.
--
--   messaging_outbox.queued      status IN ('pending', 'processing'): the ready and settled
--                                indexes' predicate
--   messaging_outbox.order_open  a keyed row that holds its key's order (pending, processing,
--                                failed, dead): the ordering index's predicate
--   messaging_outbox.order_held  a keyed row in flight: the held index's predicate
--   fillfactor 85                room on each page for the claimed version of its rows
--
-- Why: PostgreSQL can update a row in place, on its own page and without a new entry in
-- any index (a heap-only tuple, HOT), only when no column an index reads changes, the
-- columns of partial indexes' predicates included. The claim moves `status` from pending
-- to processing, and every partial index of the outbox named `status` in its predicate, so
-- each claimed row entered all of the table's indexes again (primary key, created,
-- channel, ready: on a million-row backlog of 10,000 tenants, about 250 pages dirtied by a
-- claim of 100 against 3 on a small table; BENCHMARKS.md, "G9: where a claim on the large
-- table spends its time"). The predicates now read generated columns whose values a claim
-- does not change: pending and processing are both queued, both hold their key's order,
-- and an unkeyed row is never held. PostgreSQL compares values, not assignments, so a
-- claim of an unkeyed row changes no indexed value; a keyed row's claim enters the held
-- index, as it must. A settle (queued turns false) still enters every index, once.
--
-- The status column, its states and their meaning are unchanged: status still moves to
-- processing at the claim.
--
-- A stored generated column is written by the database from the row's own values; no role
-- can set it, and the check constraint on status keeps the three equivalent to the
-- predicates they replace (test/postgres/plan.test.ts holds the claim, the ordering checks
-- and retention to these indexes).

ALTER TABLE messaging_outbox
  ADD COLUMN queued boolean NOT NULL GENERATED ALWAYS AS (status IN ('pending', 'processing')) STORED,
  ADD COLUMN order_open boolean NOT NULL
    GENERATED ALWAYS AS (ordering_key IS NOT NULL AND status IN ('pending', 'processing', 'failed', 'dead')) STORED,
  ADD COLUMN order_held boolean NOT NULL
    GENERATED ALWAYS AS (ordering_key IS NOT NULL AND status = 'processing') STORED;

-- Pages written from now on keep 15% free: a claimed row's new version fits beside the old
-- one, which is what an in-place update needs. Existing pages are left as they are.
ALTER TABLE messaging_outbox SET (fillfactor = 85);

DROP INDEX messaging_outbox_ready_idx;
CREATE INDEX messaging_outbox_ready_idx ON messaging_outbox (infrastructure_id, priority, available_at, id)
  WHERE queued;

DROP INDEX messaging_outbox_settled_idx;
CREATE INDEX messaging_outbox_settled_idx ON messaging_outbox (infrastructure_id, settled_at)
  WHERE NOT queued;

DROP INDEX messaging_outbox_ordering_idx;
CREATE INDEX messaging_outbox_ordering_idx ON messaging_outbox (infrastructure_id, ordering_key, ordering_seq)
  WHERE order_open;

DROP INDEX messaging_outbox_ordering_held_idx;
CREATE INDEX messaging_outbox_ordering_held_idx ON messaging_outbox (infrastructure_id, ordering_key)
  WHERE order_held;

-- The admin edit guard of 0052 compares the whole row with what the edit may set. In a
-- BEFORE trigger a generated column is not computed yet (the database computes it after),
-- so the three new columns are taken from NEW as they are: nobody can set them.
CREATE OR REPLACE FUNCTION messaging_outbox_admin_edit() RETURNS trigger
  LANGUAGE plpgsql
AS $fn$
DECLARE
  expected messaging_outbox%ROWTYPE := OLD;
BEGIN
  IF NOT messaging_claims_role_in('infra_admin') THEN
    RETURN NEW;
  END IF;
  expected.queued := NEW.queued;
  expected.order_open := NEW.order_open;
  expected.order_held := NEW.order_held;
  expected.available_at := NEW.available_at;
  IF OLD.status IN ('failed', 'dead') AND NEW.status = 'pending' THEN
    expected.status := 'pending';
    expected.attempts := 0;
    expected.settled_at := NULL;
  ELSIF OLD.status = 'pending' AND NEW.status = 'pending' THEN
    NULL; -- a reschedule: available_at only
  ELSIF OLD.status IN ('pending', 'processing') AND NEW.status = 'cancelled' THEN
    expected.available_at := OLD.available_at;
    expected.status := 'cancelled';
    expected.lease_token := NULL;
    expected.leased_until := NULL;
    expected.settled_at := NEW.settled_at;
  ELSE
    RAISE EXCEPTION 'an infra_admin may redrive, reschedule or cancel a message, not % -> %',
      OLD.status, NEW.status USING ERRCODE = '42501';
  END IF;
  IF expected IS DISTINCT FROM NEW OR (NEW.status = 'cancelled' AND NEW.settled_at IS NULL) THEN
    RAISE EXCEPTION 'an infra_admin''s edit of a message changes only what its redrive, reschedule or cancel sets'
      USING ERRCODE = '42501';
  END IF;
  RETURN NEW;
END
$fn$;
REVOKE ALL ON FUNCTION messaging_outbox_admin_edit() FROM PUBLIC;
