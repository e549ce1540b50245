-- messaging 0020: recipients. Profiles (where to reach a user, in which language and time
-- zone), notification categories (which channel serves each channel type), users' own
-- choices and the tenant's defaults.
--
-- The same contract as 0003/0004: every key leads with infrastructure_id, foreign keys are
-- composite (a preference can only name a category of its own infrastructure), RLS is
-- ENABLEd and FORCEd, the app role's rows are decided by the claims through the blueprint's
-- predicates, and the fleet worker reads (it renders and delivers for every tenant).

-- ---------------------------------------------------------------------------------------
-- Profiles. Contact points are personal data: a member reads only its own row; an admin
-- or a worker reads the rows of the businesses its grants reach (business_id null: a user
-- of the whole infrastructure, reached by an infrastructure-wide grant only).
CREATE TABLE messaging_profiles (
  infrastructure_id uuid        NOT NULL,
  user_id           uuid        NOT NULL,
  business_id       uuid,
  email             text        CHECK (email IS NULL OR (length(email) BETWEEN 3 AND 320 AND strpos(email, '@') > 1)),
  phone             text        CHECK (phone IS NULL OR phone ~ '^\+[1-9][0-9]{6,14}$'),
  locale            text        CHECK (locale IS NULL OR (length(locale) BETWEEN 2 AND 35
                                       AND locale ~ '^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$')),
  time_zone         text        CHECK (time_zone IS NULL OR length(time_zone) BETWEEN 1 AND 64),
  -- The domain caps properties at 8 KiB of compact JSON; jsonb's text form spaces it out,
  -- so the table's own bound is twice that.
  properties        jsonb       NOT NULL DEFAULT '{}'::jsonb
                                CHECK (jsonb_typeof(properties) = 'object' AND octet_length(properties::text) <= 16384),
  created_at        timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL,
  updated_by        uuid        NOT NULL,
  CONSTRAINT messaging_profiles_pkey PRIMARY KEY (infrastructure_id, user_id)
);
CREATE INDEX messaging_profiles_business_idx ON messaging_profiles (infrastructure_id, business_id, user_id);

-- ---------------------------------------------------------------------------------------
-- Categories: `channels` maps a channel type to the tenant's channel key that serves it and
-- the category's own default, {"email": {"channelKey": "billing-email", "enabled": true}}.
-- The channel is named by key (keys never change); the module checks it exists with that
-- type when the category is written, and a notify skips a type whose channel is gone or off.
CREATE TABLE messaging_categories (
  infrastructure_id uuid        NOT NULL,
  category_key      text        COLLATE "C" NOT NULL
                                CHECK (category_key ~ '^[a-z0-9]+([._-][a-z0-9]+)*$' AND length(category_key) <= 100),
  name              text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  description       text        CHECK (description IS NULL OR length(description) BETWEEN 1 AND 1000),
  critical          boolean     NOT NULL DEFAULT false,
  channels          jsonb       NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(channels) = 'object'),
  created_by        uuid        NOT NULL,
  created_at        timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL,
  CONSTRAINT messaging_categories_pkey PRIMARY KEY (infrastructure_id, category_key)
);

-- ---------------------------------------------------------------------------------------
-- A user's own choice per (category, channel type). A notify reads the choices of up to
-- 10,000 recipients at once: `user_id = ANY ($users)` is a probe per user into the key.
CREATE TABLE messaging_preferences (
  infrastructure_id uuid        NOT NULL,
  user_id           uuid        NOT NULL,
  category_key      text        COLLATE "C" NOT NULL,
  channel_type      text        NOT NULL CHECK (channel_type ~ '^[a-z][a-z0-9_]*$' AND length(channel_type) <= 40),
  enabled           boolean     NOT NULL,
  updated_by        uuid        NOT NULL,
  updated_at        timestamptz NOT NULL,
  CONSTRAINT messaging_preferences_pkey PRIMARY KEY (infrastructure_id, user_id, category_key, channel_type),
  CONSTRAINT messaging_preferences_category_fkey FOREIGN KEY (infrastructure_id, category_key)
    REFERENCES messaging_categories (infrastructure_id, category_key) ON DELETE CASCADE
);
CREATE INDEX messaging_preferences_category_idx ON messaging_preferences (infrastructure_id, category_key);

-- The tenant's default per (category, channel type): for one business, or (business_id
-- null) for the whole infrastructure. A null business is one value of its own in the key
-- (NULLS NOT DISTINCT), as in the outbox's idempotency key.
CREATE TABLE messaging_tenant_defaults (
  infrastructure_id uuid        NOT NULL,
  business_id       uuid,
  category_key      text        COLLATE "C" NOT NULL,
  channel_type      text        NOT NULL CHECK (channel_type ~ '^[a-z][a-z0-9_]*$' AND length(channel_type) <= 40),
  enabled           boolean     NOT NULL,
  updated_by        uuid        NOT NULL,
  updated_at        timestamptz NOT NULL,
  CONSTRAINT messaging_tenant_defaults_category_fkey FOREIGN KEY (infrastructure_id, category_key)
    REFERENCES messaging_categories (infrastructure_id, category_key) ON DELETE CASCADE
);
CREATE UNIQUE INDEX messaging_tenant_defaults_key
  ON messaging_tenant_defaults (infrastructure_id, business_id, category_key, channel_type) NULLS NOT DISTINCT;
CREATE INDEX messaging_tenant_defaults_category_idx ON messaging_tenant_defaults (infrastructure_id, category_key);

-- ---------------------------------------------------------------------------------------
-- Audit entries now speak of profiles, categories, preferences, notifications and
-- templates too. The domain keeps the closed set; the table checks the shape only, so a
-- new kind of target needs no migration.
ALTER TABLE messaging_audit_log DROP CONSTRAINT messaging_audit_log_target_type_check;
ALTER TABLE messaging_audit_log ADD CONSTRAINT messaging_audit_log_target_type_check
  CHECK (target_type ~ '^[a-z][a-z_]{0,39}$');

-- ---------------------------------------------------------------------------------------
-- Row-level security and privileges.
ALTER TABLE messaging_profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE messaging_profiles FORCE ROW LEVEL SECURITY;
ALTER TABLE messaging_categories ENABLE ROW LEVEL SECURITY;
ALTER TABLE messaging_categories FORCE ROW LEVEL SECURITY;
ALTER TABLE messaging_preferences ENABLE ROW LEVEL SECURITY;
ALTER TABLE messaging_preferences FORCE ROW LEVEL SECURITY;
ALTER TABLE messaging_tenant_defaults ENABLE ROW LEVEL SECURITY;
ALTER TABLE messaging_tenant_defaults FORCE ROW LEVEL SECURITY;

REVOKE ALL ON messaging_profiles, messaging_categories, messaging_preferences, messaging_tenant_defaults
  FROM PUBLIC;

-- Profiles: the tenant and the user never change (no column privilege). An infra_admin
-- creates, changes and removes the profiles of the businesses it reaches; a member changes
-- its own row, and the guard below keeps it to its contact points, locale and time zone
-- (privileges are per database role, not per claims role). A worker only reads.
GRANT SELECT, INSERT, DELETE ON messaging_profiles TO messaging_app;
GRANT UPDATE (business_id, email, phone, locale, time_zone, properties, updated_at, updated_by)
  ON messaging_profiles TO messaging_app;

CREATE POLICY messaging_profiles_select ON messaging_profiles
  FOR SELECT TO messaging_app
  USING (tenant_can_access_infrastructure(infrastructure_id)
         AND (((SELECT messaging_claims_role_in('member')) AND user_id = (SELECT messaging_claims_sub()))
              OR ((SELECT messaging_claims_role_in('infra_admin', 'service'))
                  AND tenant_can_access(infrastructure_id, business_id))));

CREATE POLICY messaging_profiles_insert ON messaging_profiles
  FOR INSERT TO messaging_app
  WITH CHECK (tenant_can_access(infrastructure_id, business_id)
              AND (SELECT messaging_claims_role_in('infra_admin')));

CREATE POLICY messaging_profiles_update ON messaging_profiles
  FOR UPDATE TO messaging_app
  USING (tenant_can_access_infrastructure(infrastructure_id)
         AND (((SELECT messaging_claims_role_in('member')) AND user_id = (SELECT messaging_claims_sub()))
              OR ((SELECT messaging_claims_role_in('infra_admin'))
                  AND tenant_can_access(infrastructure_id, business_id))))
  WITH CHECK (tenant_can_access_infrastructure(infrastructure_id)
              AND (((SELECT messaging_claims_role_in('member')) AND user_id = (SELECT messaging_claims_sub()))
                   OR ((SELECT messaging_claims_role_in('infra_admin'))
                       AND tenant_can_access(infrastructure_id, business_id))));

CREATE POLICY messaging_profiles_delete ON messaging_profiles
  FOR DELETE TO messaging_app
  USING (tenant_can_access(infrastructure_id, business_id) AND (SELECT messaging_claims_role_in('infra_admin')));

-- SQLSTATE 42501, as a privilege refusal: the adapter maps it to ForbiddenRoleError.
CREATE OR REPLACE FUNCTION messaging_profiles_guard() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path FROM CURRENT
AS $fn$
BEGIN
  -- No claims: the owner's maintenance (the app roles see no row without claims).
  IF messaging_claims_role() IS NOT NULL AND messaging_claims_role() <> 'infra_admin'
     AND (NEW.business_id IS DISTINCT FROM OLD.business_id OR NEW.properties IS DISTINCT FROM OLD.properties) THEN
    RAISE EXCEPTION 'only an infra_admin changes the business or the properties of a profile'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END
$fn$;

CREATE TRIGGER messaging_profiles_guard BEFORE UPDATE ON messaging_profiles
  FOR EACH ROW EXECUTE FUNCTION messaging_profiles_guard();
REVOKE ALL ON FUNCTION messaging_profiles_guard() FROM PUBLIC;

-- Categories: readable where the claims reach the infrastructure, written by its
-- infra_admin (the channels' rule). The key and tenant never change.
GRANT SELECT, INSERT ON messaging_categories TO messaging_app;
GRANT UPDATE (name, description, critical, channels, updated_at) ON messaging_categories TO messaging_app;

CREATE POLICY messaging_categories_select ON messaging_categories
  FOR SELECT TO messaging_app
  USING (tenant_can_access_infrastructure(infrastructure_id));

CREATE POLICY messaging_categories_insert ON messaging_categories
  FOR INSERT TO messaging_app
  WITH CHECK (tenant_can_access_infrastructure(infrastructure_id)
              AND (SELECT messaging_claims_role_in('infra_admin')));

CREATE POLICY messaging_categories_update ON messaging_categories
  FOR UPDATE TO messaging_app
  USING (tenant_can_access_infrastructure(infrastructure_id) AND (SELECT messaging_claims_role_in('infra_admin')))
  WITH CHECK (tenant_can_access_infrastructure(infrastructure_id)
              AND (SELECT messaging_claims_role_in('infra_admin')));

-- Preferences: a member's own, or anyone's for an infra_admin (and read by service, which
-- resolves them for a notify). Only the choice changes.
GRANT SELECT, INSERT, DELETE ON messaging_preferences TO messaging_app;
GRANT UPDATE (enabled, updated_by, updated_at) ON messaging_preferences TO messaging_app;

CREATE POLICY messaging_preferences_select ON messaging_preferences
  FOR SELECT TO messaging_app
  USING (tenant_can_access_infrastructure(infrastructure_id)
         AND (((SELECT messaging_claims_role_in('member')) AND user_id = (SELECT messaging_claims_sub()))
              OR (SELECT messaging_claims_role_in('infra_admin', 'service'))));

CREATE POLICY messaging_preferences_write ON messaging_preferences
  FOR ALL TO messaging_app
  USING (tenant_can_access_infrastructure(infrastructure_id)
         AND (((SELECT messaging_claims_role_in('member')) AND user_id = (SELECT messaging_claims_sub()))
              OR (SELECT messaging_claims_role_in('infra_admin'))))
  WITH CHECK (tenant_can_access_infrastructure(infrastructure_id)
              AND (((SELECT messaging_claims_role_in('member')) AND user_id = (SELECT messaging_claims_sub()))
                   OR (SELECT messaging_claims_role_in('infra_admin'))));

-- Tenant defaults are nobody's personal data: everyone of the infrastructure reads them
-- all; an infra_admin writes those of the businesses it reaches (an infrastructure-wide
-- grant: every business's, and the infrastructure's own).
GRANT SELECT, INSERT, DELETE ON messaging_tenant_defaults TO messaging_app;
GRANT UPDATE (enabled, updated_by, updated_at) ON messaging_tenant_defaults TO messaging_app;

CREATE POLICY messaging_tenant_defaults_select ON messaging_tenant_defaults
  FOR SELECT TO messaging_app
  USING (tenant_can_access_infrastructure(infrastructure_id));

CREATE POLICY messaging_tenant_defaults_write ON messaging_tenant_defaults
  FOR ALL TO messaging_app
  USING (tenant_can_access(infrastructure_id, business_id) AND (SELECT messaging_claims_role_in('infra_admin')))
  WITH CHECK (tenant_can_access(infrastructure_id, business_id)
              AND (SELECT messaging_claims_role_in('infra_admin')));

-- The fleet worker reads them all (rendering and in-app delivery need the recipient's
-- profile and choices); it writes none.
GRANT SELECT ON messaging_profiles, messaging_categories, messaging_preferences, messaging_tenant_defaults
  TO messaging_worker;
CREATE POLICY messaging_profiles_worker ON messaging_profiles FOR SELECT TO messaging_worker USING (true);
CREATE POLICY messaging_categories_worker ON messaging_categories FOR SELECT TO messaging_worker USING (true);
CREATE POLICY messaging_preferences_worker ON messaging_preferences FOR SELECT TO messaging_worker USING (true);
CREATE POLICY messaging_tenant_defaults_worker ON messaging_tenant_defaults
  FOR SELECT TO messaging_worker USING (true);
