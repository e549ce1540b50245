-- messaging 0004: privileges and row-level security.
--
-- Neither app role owns a table. RLS is ENABLEd and FORCEd on every table, so even the
-- owner is held to the policies (a superuser or BYPASSRLS role is not: the adapter refuses
-- to run as one, see docs/sql.md). Privileges say which statements and columns a role may
-- touch at all; policies say which rows.
--
-- Role and user are read as (SELECT messaging_claims_role_in('service')) and the like: an
-- uncorrelated sub-select, evaluated once per statement rather than once per row.

ALTER TABLE messaging_channels ENABLE ROW LEVEL SECURITY;
ALTER TABLE messaging_channels FORCE ROW LEVEL SECURITY;
ALTER TABLE messaging_channel_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE messaging_channel_members FORCE ROW LEVEL SECURITY;
ALTER TABLE messaging_outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE messaging_outbox FORCE ROW LEVEL SECURITY;
ALTER TABLE messaging_audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE messaging_audit_log FORCE ROW LEVEL SECURITY;
ALTER TABLE messaging_wakeup ENABLE ROW LEVEL SECURITY;
ALTER TABLE messaging_wakeup FORCE ROW LEVEL SECURITY;

REVOKE ALL ON messaging_channels, messaging_channel_members, messaging_outbox, messaging_audit_log,
  messaging_wakeup, messaging_channel_memberships FROM PUBLIC;

-- ---------------------------------------------------------------------------------------
-- Channels: readable where the claims reach the infrastructure; created and changed by an
-- infra_admin of it. The key, type and tenant of a channel never change (no column
-- privilege); channels are not deleted through the app roles.
GRANT SELECT, INSERT ON messaging_channels TO messaging_app;
GRANT UPDATE (name, config, enabled, max_attempts, updated_at) ON messaging_channels TO messaging_app;

CREATE POLICY messaging_channels_select ON messaging_channels
  FOR SELECT TO messaging_app
  USING (tenant_can_access_infrastructure(infrastructure_id));

CREATE POLICY messaging_channels_insert ON messaging_channels
  FOR INSERT TO messaging_app
  WITH CHECK (tenant_can_access_infrastructure(infrastructure_id)
              AND (SELECT messaging_claims_role_in('infra_admin')));

CREATE POLICY messaging_channels_update ON messaging_channels
  FOR UPDATE TO messaging_app
  USING (tenant_can_access_infrastructure(infrastructure_id) AND (SELECT messaging_claims_role_in('infra_admin')))
  WITH CHECK (tenant_can_access_infrastructure(infrastructure_id)
              AND (SELECT messaging_claims_role_in('infra_admin')));

-- ---------------------------------------------------------------------------------------
-- Members: readable where the claims reach the infrastructure; added and removed by an
-- infra_admin; the opt-in flag changed by the member itself or an infra_admin.
GRANT SELECT, INSERT, DELETE ON messaging_channel_members TO messaging_app;
GRANT UPDATE (opted_in, updated_at) ON messaging_channel_members TO messaging_app;

CREATE POLICY messaging_channel_members_select ON messaging_channel_members
  FOR SELECT TO messaging_app
  USING (tenant_can_access_infrastructure(infrastructure_id));

CREATE POLICY messaging_channel_members_insert ON messaging_channel_members
  FOR INSERT TO messaging_app
  WITH CHECK (tenant_can_access_infrastructure(infrastructure_id)
              AND (SELECT messaging_claims_role_in('infra_admin')));

CREATE POLICY messaging_channel_members_update ON messaging_channel_members
  FOR UPDATE TO messaging_app
  USING (tenant_can_access_infrastructure(infrastructure_id)
         AND ((SELECT messaging_claims_role_in('infra_admin')) OR user_id = (SELECT messaging_claims_sub())))
  WITH CHECK (tenant_can_access_infrastructure(infrastructure_id)
              AND ((SELECT messaging_claims_role_in('infra_admin')) OR user_id = (SELECT messaging_claims_sub())));

CREATE POLICY messaging_channel_members_delete ON messaging_channel_members
  FOR DELETE TO messaging_app
  USING (tenant_can_access_infrastructure(infrastructure_id) AND (SELECT messaging_claims_role_in('infra_admin')));

-- ---------------------------------------------------------------------------------------
-- Outbox: appended and read where the claims reach (infrastructure, business); a new row
-- starts undelivered (nobody forges a delivered message). Delivery state is changed by
-- role service only, and only the delivery-state columns (column privileges): payload,
-- recipients, tenant and the rest are immutable for everyone but the owner. No DELETE or
-- TRUNCATE privilege; TRUNCATE ignores RLS, so 0005 refuses it with a trigger as well.
--
-- SELECT ... FOR UPDATE (the claim) needs the UPDATE policy as well as the SELECT one:
-- without it the claim would silently find nothing.
GRANT SELECT, INSERT ON messaging_outbox TO messaging_app;
GRANT UPDATE (status, attempts, available_at, lease_token, leased_until, last_error, settled_at)
  ON messaging_outbox TO messaging_app;

CREATE POLICY messaging_outbox_select ON messaging_outbox
  FOR SELECT TO messaging_app
  USING (tenant_can_access(infrastructure_id, business_id));

CREATE POLICY messaging_outbox_insert ON messaging_outbox
  FOR INSERT TO messaging_app
  WITH CHECK (tenant_can_access(infrastructure_id, business_id)
              AND status = 'pending' AND attempts = 0 AND lease_token IS NULL AND settled_at IS NULL);

CREATE POLICY messaging_outbox_update ON messaging_outbox
  FOR UPDATE TO messaging_app
  USING (tenant_can_access(infrastructure_id, business_id) AND (SELECT messaging_claims_role_in('service')))
  WITH CHECK (tenant_can_access(infrastructure_id, business_id)
              AND (SELECT messaging_claims_role_in('service')));

-- Retention (the delivery worker's prune) runs as the owner: it may remove settled
-- messages, and nothing else. The owner is the role applying this file.
CREATE POLICY messaging_outbox_owner_prune ON messaging_outbox
  FOR DELETE TO CURRENT_USER
  USING (status IN ('processed', 'failed', 'dead'));

-- ---------------------------------------------------------------------------------------
-- Audit log: any principal appends records naming itself, for any infrastructure (a
-- refusal outside its scope is recorded too); reading needs infra_admin or service and a
-- grant for the infrastructure. Nobody updates or deletes a record.
GRANT SELECT, INSERT ON messaging_audit_log TO messaging_app;

CREATE POLICY messaging_audit_log_insert ON messaging_audit_log
  FOR INSERT TO messaging_app
  WITH CHECK (actor_id = (SELECT messaging_claims_sub()) AND actor_role = (SELECT messaging_claims_role()));

CREATE POLICY messaging_audit_log_select ON messaging_audit_log
  FOR SELECT TO messaging_app
  USING (tenant_can_access_infrastructure(infrastructure_id)
         AND (SELECT messaging_claims_role_in('infra_admin', 'service')));

-- ---------------------------------------------------------------------------------------
-- The view: the caller's own policies on both tables decide (security_invoker).
GRANT SELECT ON messaging_channel_memberships TO messaging_app, messaging_worker;

-- ---------------------------------------------------------------------------------------
-- The fleet worker: every tenant's channels, members and outbox rows; the outbox's
-- delivery-state columns only. It appends audit records naming itself like anyone else.
GRANT SELECT ON messaging_channels, messaging_channel_members, messaging_outbox TO messaging_worker;
GRANT UPDATE (status, attempts, available_at, lease_token, leased_until, last_error, settled_at)
  ON messaging_outbox TO messaging_worker;
GRANT INSERT ON messaging_audit_log TO messaging_worker;

CREATE POLICY messaging_channels_worker ON messaging_channels
  FOR SELECT TO messaging_worker USING (true);
CREATE POLICY messaging_channel_members_worker ON messaging_channel_members
  FOR SELECT TO messaging_worker USING (true);
CREATE POLICY messaging_outbox_worker_select ON messaging_outbox
  FOR SELECT TO messaging_worker USING (true);
CREATE POLICY messaging_outbox_worker_update ON messaging_outbox
  FOR UPDATE TO messaging_worker USING (true) WITH CHECK (true);
CREATE POLICY messaging_audit_log_worker_insert ON messaging_audit_log
  FOR INSERT TO messaging_worker
  WITH CHECK (actor_id = (SELECT messaging_claims_sub()) AND actor_role = 'service');

-- ---------------------------------------------------------------------------------------
-- The wake-up throttle row (no tenant data): every enqueue's trigger reads and may bump it.
GRANT SELECT, UPDATE (notified_at) ON messaging_wakeup TO messaging_app, messaging_worker;
CREATE POLICY messaging_wakeup_all ON messaging_wakeup
  FOR ALL TO messaging_app, messaging_worker USING (true) WITH CHECK (true);
