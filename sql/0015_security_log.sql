-- messaging 0015: nobody writes into a tenant it has no grant on.
--
-- Until now any principal could append a `refused` audit record to any infrastructure (a
-- refusal outside its scope was recorded in the target's trail), so an outsider could fill
-- another tenant's append-only audit log without limit, one request per row. Two changes:
--
-- 1. The audit log takes records only in an infrastructure the caller's claims reach.
-- 2. A refusal outside the caller's scope goes to the module-level security log instead:
--    operators read it (the tables' owner), no tenant does. It aggregates, one row per
--    (caller, role, action, error code, hour) with a count, so however many requests a
--    caller sends, it adds at most one row per action and code an hour.

DROP POLICY messaging_audit_log_insert ON messaging_audit_log;
CREATE POLICY messaging_audit_log_insert ON messaging_audit_log
  FOR INSERT TO messaging_app
  WITH CHECK (actor_id = (SELECT messaging_claims_sub())
              AND actor_role = (SELECT messaging_claims_role())
              AND tenant_can_access_infrastructure(infrastructure_id));

-- Not tenant data: the key leads with the caller, not with an infrastructure (the target of
-- a refusal is by definition one the caller has no grant on, so it cannot be the scope).
CREATE TABLE messaging_security_log (
  actor_id               uuid        NOT NULL,
  actor_role             text        NOT NULL CHECK (actor_role IN ('member', 'infra_admin', 'service')),
  window_start           timestamptz NOT NULL,
  action                 text        NOT NULL CHECK (length(action) BETWEEN 1 AND 100),
  error_code             text        NOT NULL CHECK (length(error_code) BETWEEN 1 AND 100),
  refusals               bigint      NOT NULL CHECK (refusals >= 1),
  first_at               timestamptz NOT NULL,
  last_at                timestamptz NOT NULL,
  last_infrastructure_id uuid        NOT NULL,
  last_business_id       uuid,
  CONSTRAINT messaging_security_log_pkey PRIMARY KEY (actor_id, actor_role, window_start, action, error_code)
);
CREATE INDEX messaging_security_log_last_at_idx ON messaging_security_log (last_at DESC);

-- No app role reads or writes the table; the owner (operators, and the function below) does.
ALTER TABLE messaging_security_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE messaging_security_log FORCE ROW LEVEL SECURITY;
REVOKE ALL ON messaging_security_log FROM PUBLIC;
CREATE POLICY messaging_security_log_owner ON messaging_security_log
  FOR ALL TO CURRENT_USER USING (true) WITH CHECK (true);

-- Counts one refusal of the calling principal (taken from the transaction's claims, never
-- from an argument: nobody records refusals in another's name). The hour and the instants
-- are the database's. SECURITY DEFINER: the app roles may call it, not touch the table.
CREATE OR REPLACE FUNCTION messaging_record_refusal(
  p_action text, p_error_code text, p_infrastructure_id uuid, p_business_id uuid)
  RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path FROM CURRENT
AS $fn$
DECLARE
  sub uuid := messaging_claims_sub();
  role text := messaging_claims_role();
BEGIN
  IF sub IS NULL OR role IS NULL THEN
    RAISE EXCEPTION 'a refusal is recorded for a caller with valid claims' USING ERRCODE = '42501';
  END IF;
  INSERT INTO messaging_security_log AS s (actor_id, actor_role, window_start, action, error_code, refusals,
                                           first_at, last_at, last_infrastructure_id, last_business_id)
  VALUES (sub, role, date_trunc('hour', now()), p_action, p_error_code, 1, now(), now(),
          p_infrastructure_id, p_business_id)
  ON CONFLICT ON CONSTRAINT messaging_security_log_pkey DO UPDATE
    SET refusals = s.refusals + 1,
        last_at = excluded.last_at,
        last_infrastructure_id = excluded.last_infrastructure_id,
        last_business_id = excluded.last_business_id;
END
$fn$;

REVOKE ALL ON FUNCTION messaging_record_refusal(text, text, uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION messaging_record_refusal(text, text, uuid, uuid) TO messaging_app, messaging_worker;
