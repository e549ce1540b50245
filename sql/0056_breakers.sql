-- messaging 0056: circuit breakers per channel, shared by every worker.
--
-- Repeated failures of one webhook endpoint (or one channel's email or SMS providers) open
-- the channel's breaker: its messages then go back uncounted until a cool-down ends, one
-- probe delivery is let through, and its outcome closes the breaker or opens it again. One
-- row per (infrastructure, channel) holds the breaker for every worker; it is written only
-- when its state changes (a failure, a transition), never on a plain delivery. Times are
-- the database's (messaging_now(), 0010), read and written by the worker as epoch ms of it,
-- so workers with skewed clocks see the same cool-down. A transition is decided under
-- SELECT ... FOR UPDATE on the row, so two workers never both become the probe.
--
-- Throwaway state, no foreign key: a row of a channel that is gone is never read again.
CREATE TABLE messaging_breakers (
  infrastructure_id uuid        NOT NULL,
  channel_id        uuid        NOT NULL,
  status            text        NOT NULL CHECK (status IN ('closed', 'open', 'half_open')),
  failures          integer     NOT NULL CHECK (failures >= 0),
  window_started_at timestamptz,
  opened_at         timestamptz,
  retry_at          timestamptz,
  updated_at        timestamptz NOT NULL,
  CONSTRAINT messaging_breakers_pkey PRIMARY KEY (infrastructure_id, channel_id),
  CONSTRAINT messaging_breakers_retry CHECK ((status = 'closed') = (retry_at IS NULL))
);

ALTER TABLE messaging_breakers ENABLE ROW LEVEL SECURITY;
ALTER TABLE messaging_breakers FORCE ROW LEVEL SECURITY;
REVOKE ALL ON messaging_breakers FROM PUBLIC;

-- Delivery workers decide and write breakers: the fleet worker (messaging_worker) for every
-- tenant, as for the rate buckets (0041); a worker scoped by a service principal runs as
-- messaging_app, within its grants. Nobody deletes one through the app roles.
GRANT SELECT, INSERT, UPDATE ON messaging_breakers TO messaging_worker;
CREATE POLICY messaging_breakers_worker ON messaging_breakers
  FOR ALL TO messaging_worker USING (true) WITH CHECK (true);

GRANT SELECT, INSERT, UPDATE ON messaging_breakers TO messaging_app;
CREATE POLICY messaging_breakers_service ON messaging_breakers
  FOR ALL TO messaging_app
  USING (tenant_can_access_infrastructure(infrastructure_id) AND (SELECT messaging_claims_role_in('service')))
  WITH CHECK (tenant_can_access_infrastructure(infrastructure_id) AND (SELECT messaging_claims_role_in('service')));

-- The console's health view shows a tenant's open breakers to anyone with a grant for it
-- (what queue stats show): permissive, so it widens only reading.
CREATE POLICY messaging_breakers_read ON messaging_breakers
  FOR SELECT TO messaging_app
  USING (tenant_can_access_infrastructure(infrastructure_id));
