-- messaging 0041: per-channel rate limits that hold across workers.
--
-- Until now each worker process kept its own token bucket per channel, so N workers sent N
-- times a channel's `rateLimit`. One row per (infrastructure, channel) now holds the bucket
-- for every worker: `tokens` counted at `refilled_at`. A take is one INSERT ... ON CONFLICT
-- DO UPDATE whose update applies only when a token is due, the refill computed from the
-- database's clock (messaging_now(), 0010: every time in the module is the database's, and
-- a test database can set it), so two workers never take the same token and a worker's own
-- clock plays no part. `refilled_at` only moves forward (a take whose transaction started
-- a moment before the last one's refills nothing), so no token is counted twice. A
-- provider's Retry-After sets `held_until`: no worker takes a token before it.
--
-- Throwaway state, no foreign key: a row of a channel that is gone is never read again.
CREATE TABLE messaging_rate_buckets (
  infrastructure_id uuid             NOT NULL,
  channel_id        uuid             NOT NULL,
  tokens            double precision NOT NULL CHECK (tokens >= 0),
  refilled_at       timestamptz      NOT NULL,
  held_until        timestamptz,
  CONSTRAINT messaging_rate_buckets_pkey PRIMARY KEY (infrastructure_id, channel_id)
);

ALTER TABLE messaging_rate_buckets ENABLE ROW LEVEL SECURITY;
ALTER TABLE messaging_rate_buckets FORCE ROW LEVEL SECURITY;
REVOKE ALL ON messaging_rate_buckets FROM PUBLIC;

-- Only delivery workers touch a bucket, and nobody deletes one through the app roles: the
-- fleet worker (messaging_worker) for every tenant, as for the outbox (0004); a worker
-- scoped by a service principal runs as messaging_app, within its grants.
GRANT SELECT, INSERT, UPDATE ON messaging_rate_buckets TO messaging_worker;
CREATE POLICY messaging_rate_buckets_worker ON messaging_rate_buckets
  FOR ALL TO messaging_worker USING (true) WITH CHECK (true);

GRANT SELECT, INSERT, UPDATE ON messaging_rate_buckets TO messaging_app;
CREATE POLICY messaging_rate_buckets_service ON messaging_rate_buckets
  FOR ALL TO messaging_app
  USING (tenant_can_access_infrastructure(infrastructure_id) AND (SELECT messaging_claims_role_in('service')))
  WITH CHECK (tenant_can_access_infrastructure(infrastructure_id) AND (SELECT messaging_claims_role_in('service')));
