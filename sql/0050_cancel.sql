-- messaging 0050: cancel and reschedule.
--
--   status 'cancelled'           a final state: pending (due or scheduled) -> cancelled, and
--                                processing -> cancelled once the holder's lease lapsed
--   retention                    prunes cancelled rows like the other settled ones
--   infra_admin cancel           pending or lapsed rows of its tenant -> cancelled, lease cleared
--   infra_admin reschedule       a pending row's available_at, nothing else
--
-- A message held under a live lease is never cancelled: the worker's settlement decides,
-- so a message is never both sent and cancelled. A holder whose lease lapsed and whose
-- message was cancelled meanwhile is refused by its fence (the lease token is gone).

-- The new state. NOT VALID then VALIDATE: every existing row already satisfies the wider
-- check, and validating takes no lock that blocks enqueues or claims.
ALTER TABLE messaging_outbox DROP CONSTRAINT messaging_outbox_status_check;
ALTER TABLE messaging_outbox ADD CONSTRAINT messaging_outbox_status_check
  CHECK (status IN ('pending', 'processing', 'processed', 'failed', 'dead', 'cancelled')) NOT VALID;
ALTER TABLE messaging_outbox VALIDATE CONSTRAINT messaging_outbox_status_check;

-- The state machine of 0005, with the cancel edges.
CREATE OR REPLACE FUNCTION messaging_outbox_guard_transition() RETURNS trigger
  LANGUAGE plpgsql
AS $fn$
BEGIN
  IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
       (OLD.status = 'pending' AND NEW.status IN ('processing', 'cancelled'))
    OR (OLD.status = 'processing' AND NEW.status IN ('processed', 'failed', 'pending', 'dead', 'cancelled'))
    OR (OLD.status IN ('failed', 'dead') AND NEW.status = 'pending')
  ) THEN
    RAISE EXCEPTION 'illegal transition % -> %', OLD.status, NEW.status USING ERRCODE = 'MSG01';
  END IF;
  RETURN NEW;
END
$fn$;
REVOKE ALL ON FUNCTION messaging_outbox_guard_transition() FROM PUBLIC;

-- Retention: cancelled rows are settled rows (settled_at is when they were cancelled).
DROP INDEX messaging_outbox_settled_idx;
CREATE INDEX messaging_outbox_settled_idx ON messaging_outbox (infrastructure_id, settled_at)
  WHERE status IN ('processed', 'failed', 'dead', 'cancelled');
ALTER POLICY messaging_outbox_owner_prune ON messaging_outbox
  USING (status IN ('processed', 'failed', 'dead', 'cancelled'));
ALTER POLICY messaging_outbox_owner_prune_select ON messaging_outbox
  USING (status IN ('processed', 'failed', 'dead', 'cancelled'));

-- Cancel by an infra_admin (role service keeps its wider policy from 0004): it sees the
-- rows nobody holds (pending, or processing under a lapsed lease by the database's clock)
-- and may only leave them cancelled and unleased. Permissive policies are OR-ed, so the
-- reschedule policy below admits the same rows and lets them stay pending; neither admits
-- a row held under a live lease.
CREATE POLICY messaging_outbox_cancel ON messaging_outbox
  FOR UPDATE TO messaging_app
  USING (tenant_can_access(infrastructure_id, business_id)
         AND (SELECT messaging_claims_role_in('infra_admin'))
         AND (status = 'pending' OR (status = 'processing' AND leased_until <= messaging_now())))
  WITH CHECK (tenant_can_access(infrastructure_id, business_id)
              AND (SELECT messaging_claims_role_in('infra_admin'))
              AND status = 'cancelled' AND lease_token IS NULL AND settled_at IS NOT NULL);

CREATE POLICY messaging_outbox_reschedule ON messaging_outbox
  FOR UPDATE TO messaging_app
  USING (tenant_can_access(infrastructure_id, business_id)
         AND (SELECT messaging_claims_role_in('infra_admin'))
         AND status = 'pending')
  WITH CHECK (tenant_can_access(infrastructure_id, business_id)
              AND (SELECT messaging_claims_role_in('infra_admin'))
              AND status = 'pending' AND lease_token IS NULL AND settled_at IS NULL);
