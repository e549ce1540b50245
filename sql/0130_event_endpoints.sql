-- messaging 0130: status webhook endpoints (docs/live.md, "Status webhooks").
--
-- Per tenant, an admin registers endpoints; the delivery worker POSTs the tenant's events
-- (messaging_events, 0110) to each, one signed request per event, in the log's order. Each
-- row keeps its place in the log (cursor, `<tx>.<seq>` as the log hands it out), its run of
-- failures and a lease: a dispatcher takes due rows with FOR UPDATE SKIP LOCKED and sets
-- lease_token/leased_until, and every later write of its own is fenced by that token, so
-- two workers never send one endpoint's events at once. Times are the database's
-- (messaging_now(), 0010).
--
-- event_types is not checked against the event type list here: that list grows with later
-- migrations, and the domain refuses an unknown type before any statement runs.
CREATE TABLE messaging_event_endpoints (
  infrastructure_id uuid        NOT NULL,
  id                uuid        NOT NULL,
  url               text        NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
  event_types       text[]      CHECK (event_types IS NULL OR cardinality(event_types) >= 1),
  enabled           boolean     NOT NULL DEFAULT true,
  -- The Standard Webhooks signing secret, sealed by the module (AES-256-GCM, bound to the
  -- tenant and the endpoint): never plaintext at rest.
  secret            text        NOT NULL,
  cursor            text        CHECK (cursor ~ '^[0-9]{1,19}\.[0-9]{1,19}$'),
  attempts          integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at   timestamptz NOT NULL DEFAULT messaging_now(),
  last_error        text        CHECK (length(last_error) <= 2000),
  failing_since     timestamptz,
  lease_token       uuid,
  leased_until      timestamptz,
  created_at        timestamptz NOT NULL DEFAULT messaging_now(),
  updated_at        timestamptz NOT NULL DEFAULT messaging_now(),
  CONSTRAINT messaging_event_endpoints_pkey PRIMARY KEY (infrastructure_id, id)
);
-- What a dispatcher's lease looks for: enabled rows by due time.
CREATE INDEX messaging_event_endpoints_due_idx ON messaging_event_endpoints (next_attempt_at) WHERE enabled;

ALTER TABLE messaging_event_endpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE messaging_event_endpoints FORCE ROW LEVEL SECURITY;
REVOKE ALL ON messaging_event_endpoints FROM PUBLIC;

-- A tenant's admins register, change and remove its endpoints; its services (a worker
-- scoped by a service principal) read and lease them. Nobody else sees a row.
GRANT SELECT, INSERT, UPDATE, DELETE ON messaging_event_endpoints TO messaging_app;
CREATE POLICY messaging_event_endpoints_read ON messaging_event_endpoints
  FOR SELECT TO messaging_app
  USING (tenant_can_access_infrastructure(infrastructure_id)
         AND (SELECT messaging_claims_role_in('infra_admin', 'service')));
CREATE POLICY messaging_event_endpoints_insert ON messaging_event_endpoints
  FOR INSERT TO messaging_app
  WITH CHECK (tenant_can_access_infrastructure(infrastructure_id)
              AND (SELECT messaging_claims_role_in('infra_admin')));
CREATE POLICY messaging_event_endpoints_update ON messaging_event_endpoints
  FOR UPDATE TO messaging_app
  USING (tenant_can_access_infrastructure(infrastructure_id)
         AND (SELECT messaging_claims_role_in('infra_admin', 'service')))
  WITH CHECK (tenant_can_access_infrastructure(infrastructure_id)
              AND (SELECT messaging_claims_role_in('infra_admin', 'service')));
CREATE POLICY messaging_event_endpoints_delete ON messaging_event_endpoints
  FOR DELETE TO messaging_app
  USING (tenant_can_access_infrastructure(infrastructure_id)
         AND (SELECT messaging_claims_role_in('infra_admin')));

-- The fleet worker sends every tenant's events: it reads endpoints and writes only their
-- dispatch state (place, failures, lease; `enabled` to disable one that kept failing). It
-- never creates, re-points or removes one, nor touches its secret.
GRANT SELECT ON messaging_event_endpoints TO messaging_worker;
GRANT UPDATE (cursor, attempts, next_attempt_at, last_error, failing_since, enabled, lease_token, leased_until,
              updated_at)
  ON messaging_event_endpoints TO messaging_worker;
CREATE POLICY messaging_event_endpoints_worker_read ON messaging_event_endpoints
  FOR SELECT TO messaging_worker USING (true);
CREATE POLICY messaging_event_endpoints_worker_update ON messaging_event_endpoints
  FOR UPDATE TO messaging_worker USING (true) WITH CHECK (true);

-- ... and reads the events it sends (0110 let it only write them).
GRANT SELECT ON messaging_events TO messaging_worker;
CREATE POLICY messaging_events_worker_select ON messaging_events
  FOR SELECT TO messaging_worker USING (true);
