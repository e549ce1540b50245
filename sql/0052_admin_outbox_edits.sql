-- What an infra_admin may change in an outbox row, edit by edit.
--
-- The redrive (0006), cancel and reschedule (0050) policies are permissive, so PostgreSQL
-- OR-s their USING clauses and, separately, their WITH CHECK clauses: a dead row admitted by
-- the redrive's USING could leave as a pending row with attempts 2 admitted by the
-- reschedule's CHECK, and a row held under a lapsed lease could go back to pending. A policy
-- sees only one side of the edit; this trigger sees both and admits exactly three:
--   redrive      failed | dead -> pending, attempts 0, unleased, unsettled; only those and
--                available_at change
--   reschedule   pending -> pending; only available_at changes
--   cancel       pending | processing -> cancelled, unleased, settled; only those change
-- Anything else an infra_admin's UPDATE tries is refused with 42501, as a policy would.
--
-- The WHEN clause keeps the claim and settle paths (service and worker roles) free of a
-- plpgsql call per row: by the time a row reaches the trigger the statement's policies have
-- refreshed the claims (their USING clauses call messaging_claims_role_in first), and the
-- function checks the role again through that same refresh.
CREATE OR REPLACE FUNCTION messaging_outbox_admin_edit() RETURNS trigger
  LANGUAGE plpgsql
AS $fn$
DECLARE
  expected messaging_outbox%ROWTYPE := OLD;
BEGIN
  IF NOT messaging_claims_role_in('infra_admin') THEN
    RETURN NEW;
  END IF;
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

CREATE TRIGGER messaging_outbox_admin_edit BEFORE UPDATE ON messaging_outbox
  FOR EACH ROW
  WHEN (current_setting('messaging.claims_role', true) = 'infra_admin')
  EXECUTE FUNCTION messaging_outbox_admin_edit();
