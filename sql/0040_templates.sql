-- messaging 0040: notification templates and their versions.
--
-- A template is named by (infrastructure, category key, channel type, locale); every save
-- appends a row with the next version number, so the rows are the template's history and
-- none is ever changed or removed. The newest version is current. An outbox message
-- records the id of the version current when it was enqueued and renders that one.
--
-- category_key is a plain key (no foreign key): templates may be written before the
-- category they serve. locale is a canonical BCP 47 tag (the module canonicalises it).
-- Times are written by the module, like every other table's.
CREATE TABLE messaging_templates (
  infrastructure_id uuid        NOT NULL,
  id                uuid        NOT NULL,
  category_key      text        COLLATE "C" NOT NULL
                                CHECK (category_key ~ '^[a-z0-9]+([._-][a-z0-9]+)*$' AND length(category_key) <= 100),
  channel_type      text        COLLATE "C" NOT NULL CHECK (channel_type IN ('email', 'sms', 'in_app', 'webhook')),
  locale            text        COLLATE "C" NOT NULL
                                CHECK (locale ~ '^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$' AND length(locale) BETWEEN 2 AND 35),
  version           integer     NOT NULL CHECK (version >= 1),
  content           jsonb       NOT NULL CHECK (jsonb_typeof(content) = 'object'),
  created_by        uuid        NOT NULL,
  created_at        timestamptz NOT NULL,
  CONSTRAINT messaging_templates_pkey PRIMARY KEY (infrastructure_id, id),
  -- One row per version of a key: two saves that race for the next version cannot both
  -- land (the second gets 23505, the domain's ConflictError). The index also serves
  -- "current version of a key" (a backward scan) and the history, newest first.
  CONSTRAINT messaging_templates_version_unique
    UNIQUE (infrastructure_id, category_key, channel_type, locale, version)
);

-- The tenant's default locale: the last fallback of every template lookup.
CREATE TABLE messaging_template_settings (
  infrastructure_id uuid        NOT NULL,
  default_locale    text        COLLATE "C" NOT NULL
                                CHECK (default_locale ~ '^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$'
                                       AND length(default_locale) BETWEEN 2 AND 35),
  updated_by        uuid        NOT NULL,
  updated_at        timestamptz NOT NULL,
  CONSTRAINT messaging_template_settings_pkey PRIMARY KEY (infrastructure_id)
);

-- A version is history: TRUNCATE (which ignores RLS) is refused for the owner too.
CREATE TRIGGER messaging_templates_no_truncate BEFORE TRUNCATE ON messaging_templates
  FOR EACH STATEMENT EXECUTE FUNCTION messaging_refuse_truncate();

ALTER TABLE messaging_templates ENABLE ROW LEVEL SECURITY;
ALTER TABLE messaging_templates FORCE ROW LEVEL SECURITY;
ALTER TABLE messaging_template_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE messaging_template_settings FORCE ROW LEVEL SECURITY;
REVOKE ALL ON messaging_templates, messaging_template_settings FROM PUBLIC;

-- Readable where the claims reach the infrastructure (a notify call looks the current
-- version up with its caller's claims); appended by an infra_admin of it, naming itself as
-- the author. No UPDATE or DELETE privilege: a version never changes.
GRANT SELECT, INSERT ON messaging_templates TO messaging_app;

CREATE POLICY messaging_templates_select ON messaging_templates
  FOR SELECT TO messaging_app
  USING (tenant_can_access_infrastructure(infrastructure_id));

CREATE POLICY messaging_templates_insert ON messaging_templates
  FOR INSERT TO messaging_app
  WITH CHECK (tenant_can_access_infrastructure(infrastructure_id)
              AND (SELECT messaging_claims_role_in('infra_admin'))
              AND created_by = (SELECT messaging_claims_sub()));

-- Settings: read like templates; inserted and changed by an infra_admin (an upsert needs
-- both policies), who is recorded as the one who changed them. The tenant never changes.
GRANT SELECT, INSERT ON messaging_template_settings TO messaging_app;
GRANT UPDATE (default_locale, updated_by, updated_at) ON messaging_template_settings TO messaging_app;

CREATE POLICY messaging_template_settings_select ON messaging_template_settings
  FOR SELECT TO messaging_app
  USING (tenant_can_access_infrastructure(infrastructure_id));

CREATE POLICY messaging_template_settings_insert ON messaging_template_settings
  FOR INSERT TO messaging_app
  WITH CHECK (tenant_can_access_infrastructure(infrastructure_id)
              AND (SELECT messaging_claims_role_in('infra_admin'))
              AND updated_by = (SELECT messaging_claims_sub()));

CREATE POLICY messaging_template_settings_update ON messaging_template_settings
  FOR UPDATE TO messaging_app
  USING (tenant_can_access_infrastructure(infrastructure_id) AND (SELECT messaging_claims_role_in('infra_admin')))
  WITH CHECK (tenant_can_access_infrastructure(infrastructure_id)
              AND (SELECT messaging_claims_role_in('infra_admin'))
              AND updated_by = (SELECT messaging_claims_sub()));

-- The fleet worker renders every tenant's messages: it reads templates and settings, and
-- writes neither.
GRANT SELECT ON messaging_templates, messaging_template_settings TO messaging_worker;

CREATE POLICY messaging_templates_worker ON messaging_templates
  FOR SELECT TO messaging_worker USING (true);
CREATE POLICY messaging_template_settings_worker ON messaging_template_settings
  FOR SELECT TO messaging_worker USING (true);
