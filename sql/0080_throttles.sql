-- messaging 0080: per-recipient throttles of a category.
--
--   messaging_categories.throttle    {"limit": n, "windowSeconds": s, "onExceed": "skip"} or null
--   messaging_throttle_counters      one row per (infrastructure, user, category): how many of
--                                    the category's notifications reached the user in the
--                                    window that starts at window_start
--   skip reason 'throttled'          a recipient beyond the limit, recorded like the others
--
-- A notify takes one slot per recipient in one INSERT ... ON CONFLICT DO UPDATE whose update
-- applies only while the window has room (or starts the next window), so two notifies racing
-- for one user never let more than `limit` through: the second waits on the row lock and
-- re-checks the count the first committed. The window is the database's clock
-- (messaging_now(), 0010). A row holds its current window only, so the table never grows
-- beyond one row per user and throttled category.

ALTER TABLE messaging_categories
  ADD COLUMN throttle jsonb CHECK (
    throttle IS NULL OR (
      jsonb_typeof(throttle) = 'object'
      AND jsonb_typeof(throttle -> 'limit') = 'number'
      AND (throttle ->> 'limit')::numeric BETWEEN 1 AND 10000
      AND jsonb_typeof(throttle -> 'windowSeconds') = 'number'
      AND (throttle ->> 'windowSeconds')::numeric BETWEEN 1 AND 604800
      AND throttle ->> 'onExceed' = 'skip'));
GRANT UPDATE (throttle) ON messaging_categories TO messaging_app;

-- The wider reason check. NOT VALID then VALIDATE: every row already satisfies it, and
-- validating blocks no notify.
ALTER TABLE messaging_notification_skips DROP CONSTRAINT messaging_notification_skips_reason_check;
ALTER TABLE messaging_notification_skips ADD CONSTRAINT messaging_notification_skips_reason_check
  CHECK (reason IN ('opted_out', 'no_address', 'no_channel', 'unknown_recipient', 'throttled')) NOT VALID;
ALTER TABLE messaging_notification_skips VALIDATE CONSTRAINT messaging_notification_skips_reason_check;

-- No foreign key to the category: the row is throwaway state (a counter of a category that
-- is gone is never read again), and a probe per recipient would cost a 10,000-user notify.
CREATE TABLE messaging_throttle_counters (
  infrastructure_id uuid        NOT NULL,
  user_id           uuid        NOT NULL,
  category_key      text        COLLATE "C" NOT NULL,
  window_start      timestamptz NOT NULL,
  taken             integer     NOT NULL CHECK (taken BETWEEN 0 AND 10000),
  CONSTRAINT messaging_throttle_counters_pkey PRIMARY KEY (infrastructure_id, user_id, category_key)
);

ALTER TABLE messaging_throttle_counters ENABLE ROW LEVEL SECURITY;
ALTER TABLE messaging_throttle_counters FORCE ROW LEVEL SECURITY;
REVOKE ALL ON messaging_throttle_counters FROM PUBLIC;

-- Those who notify (infra_admin, service) take and give back slots of the infrastructures
-- they reach; nobody deletes a counter through the app roles, and members see none.
GRANT SELECT, INSERT, UPDATE (window_start, taken) ON messaging_throttle_counters TO messaging_app;
CREATE POLICY messaging_throttle_counters_notify ON messaging_throttle_counters
  FOR ALL TO messaging_app
  USING (tenant_can_access_infrastructure(infrastructure_id)
         AND (SELECT messaging_claims_role_in('infra_admin', 'service')))
  WITH CHECK (tenant_can_access_infrastructure(infrastructure_id)
              AND (SELECT messaging_claims_role_in('infra_admin', 'service')));

-- The fleet worker reads them (operators' views); it never counts.
GRANT SELECT ON messaging_throttle_counters TO messaging_worker;
CREATE POLICY messaging_throttle_counters_worker ON messaging_throttle_counters
  FOR SELECT TO messaging_worker USING (true);
