-- messaging 0083: an infrastructure's default quiet hours, for recipients who set none of
-- their own (read in each recipient's time zone). One row per infrastructure: everyone of it
-- reads the row, its infra_admin with an infrastructure-wide grant writes it.
CREATE TABLE messaging_quiet_hours_defaults (
  infrastructure_id uuid        NOT NULL,
  quiet_hours       jsonb       NOT NULL CHECK (
                      jsonb_typeof(quiet_hours) = 'object'
                      AND quiet_hours ->> 'start' ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'
                      AND quiet_hours ->> 'end' ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'
                      AND quiet_hours ->> 'start' <> quiet_hours ->> 'end'),
  updated_by        uuid        NOT NULL,
  updated_at        timestamptz NOT NULL,
  CONSTRAINT messaging_quiet_hours_defaults_pkey PRIMARY KEY (infrastructure_id)
);

ALTER TABLE messaging_quiet_hours_defaults ENABLE ROW LEVEL SECURITY;
ALTER TABLE messaging_quiet_hours_defaults FORCE ROW LEVEL SECURITY;
REVOKE ALL ON messaging_quiet_hours_defaults FROM PUBLIC;

GRANT SELECT, INSERT, DELETE ON messaging_quiet_hours_defaults TO messaging_app;
GRANT UPDATE (quiet_hours, updated_by, updated_at) ON messaging_quiet_hours_defaults TO messaging_app;

CREATE POLICY messaging_quiet_hours_defaults_select ON messaging_quiet_hours_defaults
  FOR SELECT TO messaging_app
  USING (tenant_can_access_infrastructure(infrastructure_id));

CREATE POLICY messaging_quiet_hours_defaults_write ON messaging_quiet_hours_defaults
  FOR ALL TO messaging_app
  USING (tenant_can_access(infrastructure_id, NULL) AND (SELECT messaging_claims_role_in('infra_admin')))
  WITH CHECK (tenant_can_access(infrastructure_id, NULL) AND (SELECT messaging_claims_role_in('infra_admin')));

GRANT SELECT ON messaging_quiet_hours_defaults TO messaging_worker;
CREATE POLICY messaging_quiet_hours_defaults_worker ON messaging_quiet_hours_defaults
  FOR SELECT TO messaging_worker USING (true);
