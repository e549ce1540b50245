/**
 * The SQLite schema, one entry per version, applied in order by the migrator and recorded
 * in `messaging_migrations`. It says what the PostgreSQL schema in `sql/` says
 * (same tables, keys, composite foreign keys, idempotency index and append-only rules);
 * what SQLite cannot express (roles, RLS) the adapter enforces in each query it writes.
 * Applied migrations are never edited: a change is a new version.
 */
export interface SqliteMigration {
  readonly version: number
  readonly name: string
  readonly sql: string
}

const v1 = /* sql */ `
CREATE TABLE messaging_channels (
  infrastructure_id TEXT NOT NULL,
  id                TEXT NOT NULL,
  -- ^[a-z0-9]+([-_][a-z0-9]+)*$ and at most 64 characters, in GLOBs (SQLite has no regex).
  channel_key       TEXT NOT NULL CHECK (
                      length(channel_key) <= 64 AND channel_key GLOB '[a-z0-9]*' AND channel_key GLOB '*[a-z0-9]'
                      AND channel_key NOT GLOB '*[^a-z0-9_-]*' AND channel_key NOT GLOB '*[_-][_-]*'),
  -- ^[a-z][a-z0-9_]*$ and at most 40 characters.
  type              TEXT NOT NULL CHECK (
                      length(type) <= 40 AND type GLOB '[a-z]*' AND type NOT GLOB '*[^a-z0-9_]*'),
  name              TEXT NOT NULL,
  config            TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(config) AND json_type(config) = 'object'),
  enabled           INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  max_attempts      INTEGER CHECK (max_attempts IS NULL OR max_attempts >= 1),
  created_by        TEXT NOT NULL,
  created_at        INTEGER NOT NULL,
  updated_at        INTEGER NOT NULL,
  PRIMARY KEY (infrastructure_id, id),
  UNIQUE (infrastructure_id, channel_key)
) STRICT;

CREATE TABLE messaging_channel_members (
  infrastructure_id TEXT NOT NULL,
  channel_id        TEXT NOT NULL,
  user_id           TEXT NOT NULL,
  business_id       TEXT,
  opted_in          INTEGER NOT NULL DEFAULT 0 CHECK (opted_in IN (0, 1)),
  added_by          TEXT NOT NULL,
  created_at        INTEGER NOT NULL,
  updated_at        INTEGER NOT NULL,
  PRIMARY KEY (infrastructure_id, channel_id, user_id),
  -- Composite: a member can only point at a channel of its own infrastructure.
  FOREIGN KEY (infrastructure_id, channel_id)
    REFERENCES messaging_channels (infrastructure_id, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX messaging_channel_members_user_idx
  ON messaging_channel_members (infrastructure_id, user_id);

CREATE TABLE messaging_outbox (
  infrastructure_id TEXT NOT NULL,
  id                TEXT NOT NULL,
  business_id       TEXT,
  channel_id        TEXT NOT NULL,
  payload           TEXT NOT NULL CHECK (json_valid(payload)),
  recipients        TEXT CHECK (recipients IS NULL OR (json_valid(recipients) AND json_type(recipients) = 'array')),
  idempotency_key   TEXT CHECK (idempotency_key IS NULL OR length(idempotency_key) BETWEEN 1 AND 255),
  max_attempts      INTEGER NOT NULL CHECK (max_attempts >= 1),
  created_by        TEXT NOT NULL,
  created_at        INTEGER NOT NULL,
  status            TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'processing', 'processed', 'failed', 'dead')),
  attempts          INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  available_at      INTEGER NOT NULL,
  lease_token       TEXT,
  leased_until      INTEGER,
  last_error        TEXT,
  settled_at        INTEGER,
  PRIMARY KEY (infrastructure_id, id),
  FOREIGN KEY (infrastructure_id, channel_id) REFERENCES messaging_channels (infrastructure_id, id),
  -- A processing row, and only one, holds a lease.
  CHECK ((status = 'processing') = (lease_token IS NOT NULL) AND (lease_token IS NULL) = (leased_until IS NULL))
) STRICT;

-- One message per (infrastructure, business, key); a null business is its own namespace.
CREATE UNIQUE INDEX messaging_outbox_idempotency_key
  ON messaging_outbox (infrastructure_id, coalesce(business_id, ''), idempotency_key)
  WHERE idempotency_key IS NOT NULL;

-- Listing pages in (created_at, id) order.
CREATE INDEX messaging_outbox_created_idx
  ON messaging_outbox (infrastructure_id, created_at, id);
-- The claim path: only open rows, in claim order; settled messages cost a claim nothing.
CREATE INDEX messaging_outbox_ready_idx
  ON messaging_outbox (infrastructure_id, available_at, id)
  WHERE status IN ('pending', 'processing');
-- The foreign key's index, and listing by channel.
CREATE INDEX messaging_outbox_channel_idx
  ON messaging_outbox (infrastructure_id, channel_id, created_at, id);

-- Append-only: rows stay, and only the delivery-state columns ever change.
CREATE TRIGGER messaging_outbox_no_delete BEFORE DELETE ON messaging_outbox
BEGIN
  SELECT RAISE(ABORT, 'messaging_outbox is append-only');
END;

-- The delivery state machine, kept for every writer: pending -> processing; processing ->
-- processed | failed | pending | dead (| processing: a lapsed lease claimed again, no
-- status change); failed | dead -> pending (redrive). processed is final.
CREATE TRIGGER messaging_outbox_guard_transition
BEFORE UPDATE OF status ON messaging_outbox
WHEN NEW.status IS NOT OLD.status AND NOT (
     (OLD.status = 'pending' AND NEW.status = 'processing')
  OR (OLD.status = 'processing' AND NEW.status IN ('processed', 'failed', 'pending', 'dead'))
  OR (OLD.status IN ('failed', 'dead') AND NEW.status = 'pending'))
BEGIN
  SELECT RAISE(ABORT, 'messaging_outbox: illegal status transition');
END;

CREATE TRIGGER messaging_outbox_immutable
BEFORE UPDATE OF infrastructure_id, id, business_id, channel_id, payload, recipients,
  idempotency_key, max_attempts, created_by, created_at ON messaging_outbox
BEGIN
  SELECT RAISE(ABORT, 'messaging_outbox: only the delivery state of a message may change');
END;

-- Any principal appends records naming itself (refusals outside its scope included); the
-- primary key includes actor_id, so an append can only collide with the appender's own
-- records. The implicit rowid breaks ties between records of one instant in append order
-- (PostgreSQL's seq): it only grows, as rows are never deleted.
CREATE TABLE messaging_audit_log (
  infrastructure_id TEXT NOT NULL,
  actor_id          TEXT NOT NULL,
  id                TEXT NOT NULL,
  business_id       TEXT,
  actor_role        TEXT NOT NULL CHECK (actor_role IN ('member', 'infra_admin', 'service')),
  action            TEXT NOT NULL CHECK (length(action) BETWEEN 1 AND 100),
  target_type       TEXT NOT NULL CHECK (target_type IN ('channel', 'membership', 'message')),
  target_id         TEXT,
  outcome           TEXT NOT NULL CHECK (outcome IN ('ok', 'refused')),
  error_code        TEXT,
  details           TEXT CHECK (details IS NULL OR (json_valid(details) AND json_type(details) = 'object')),
  at                INTEGER NOT NULL,
  PRIMARY KEY (infrastructure_id, actor_id, id)
) STRICT;

-- Index entries end with the rowid: (at DESC, rowid DESC) is a backward scan of either.
CREATE INDEX messaging_audit_log_at_idx ON messaging_audit_log (infrastructure_id, at);
CREATE INDEX messaging_audit_log_action_idx ON messaging_audit_log (infrastructure_id, action, at);

CREATE TRIGGER messaging_audit_log_no_delete BEFORE DELETE ON messaging_audit_log
BEGIN
  SELECT RAISE(ABORT, 'messaging_audit_log is append-only');
END;

CREATE TRIGGER messaging_audit_log_no_update BEFORE UPDATE ON messaging_audit_log
BEGIN
  SELECT RAISE(ABORT, 'messaging_audit_log is append-only');
END;

-- Membership plus channel metadata in one read. SQLite has no security_invoker: the
-- adapter scopes every read of the view by infrastructure_id like any table.
CREATE VIEW messaging_channel_memberships AS
SELECT
  m.infrastructure_id,
  m.channel_id,
  m.user_id,
  m.business_id,
  m.opted_in,
  m.added_by,
  m.created_at,
  m.updated_at,
  c.channel_key,
  c.type AS channel_type,
  c.name AS channel_name,
  c.enabled AS channel_enabled
FROM messaging_channel_members m
JOIN messaging_channels c ON c.infrastructure_id = m.infrastructure_id AND c.id = m.channel_id;
`

const v2 = /* sql */ `
-- One row per delivery attempt, written with the settlement it led to. business_id is the
-- message's (immutable) business, copied so the rows are scoped like the message.
CREATE TABLE messaging_delivery_attempts (
  infrastructure_id   TEXT NOT NULL,
  message_id          TEXT NOT NULL,
  id                  TEXT NOT NULL,
  business_id         TEXT,
  attempt             INTEGER NOT NULL CHECK (attempt >= 1),
  worker_id           TEXT NOT NULL,
  started_at          INTEGER NOT NULL,
  finished_at         INTEGER NOT NULL,
  duration_ms         INTEGER NOT NULL CHECK (duration_ms >= 0),
  outcome             TEXT NOT NULL CHECK (outcome IN ('delivered', 'retryable', 'permanent')),
  error_code          TEXT CHECK (error_code IS NULL OR length(error_code) <= 100),
  error               TEXT CHECK (error IS NULL OR length(error) <= 4000),
  provider_message_id TEXT CHECK (provider_message_id IS NULL OR length(provider_message_id) <= 500),
  PRIMARY KEY (infrastructure_id, message_id, id),
  FOREIGN KEY (infrastructure_id, message_id) REFERENCES messaging_outbox (infrastructure_id, id)
) STRICT;

-- Retention is the one way rows leave the outbox: the prune transaction inserts this row,
-- deletes settled messages (attempts first), and deletes the row again before it commits,
-- so no other connection ever sees the gate open. No tenant data.
CREATE TABLE messaging_retention_gate (
  id INTEGER PRIMARY KEY CHECK (id = 1)
) STRICT;

DROP TRIGGER messaging_outbox_no_delete;
CREATE TRIGGER messaging_outbox_no_delete BEFORE DELETE ON messaging_outbox
WHEN NOT (OLD.status IN ('processed', 'failed', 'dead') AND EXISTS (SELECT 1 FROM messaging_retention_gate))
BEGIN
  SELECT RAISE(ABORT, 'messaging_outbox is append-only: only retention removes settled messages');
END;

CREATE TRIGGER messaging_delivery_attempts_no_delete BEFORE DELETE ON messaging_delivery_attempts
WHEN NOT EXISTS (SELECT 1 FROM messaging_retention_gate)
BEGIN
  SELECT RAISE(ABORT, 'messaging_delivery_attempts is append-only');
END;

CREATE TRIGGER messaging_delivery_attempts_no_update BEFORE UPDATE ON messaging_delivery_attempts
BEGIN
  SELECT RAISE(ABORT, 'messaging_delivery_attempts is append-only');
END;
`

const v3 = /* sql */ `
-- Per-user in-app inboxes, written by the in-app transport. (infrastructure, message, user)
-- is unique, so a redelivery adds nothing. Entries outlive their message (retention of the
-- outbox leaves inboxes alone), so they reference the channel, not the message.
CREATE TABLE messaging_inbox (
  infrastructure_id TEXT NOT NULL,
  id                TEXT NOT NULL,
  business_id       TEXT,
  user_id           TEXT NOT NULL,
  channel_id        TEXT NOT NULL,
  message_id        TEXT NOT NULL,
  payload           TEXT NOT NULL CHECK (json_valid(payload)),
  created_at        INTEGER NOT NULL,
  seen_at           INTEGER,
  read_at           INTEGER,
  archived_at       INTEGER,
  PRIMARY KEY (infrastructure_id, id),
  UNIQUE (infrastructure_id, message_id, user_id),
  FOREIGN KEY (infrastructure_id, channel_id) REFERENCES messaging_channels (infrastructure_id, id)
) STRICT;

-- A user's inbox, newest first.
CREATE INDEX messaging_inbox_user_idx ON messaging_inbox (infrastructure_id, user_id, created_at, id);
`

const v4 = /* sql */ `
-- Recipients: profiles, categories, users' choices and the tenant's defaults (the
-- PostgreSQL schema's sql/0020). Roles and row-level security are the adapter's statements'.
CREATE TABLE messaging_profiles (
  infrastructure_id TEXT NOT NULL,
  user_id           TEXT NOT NULL,
  business_id       TEXT,
  email             TEXT CHECK (email IS NULL OR (length(email) BETWEEN 3 AND 320 AND instr(email, '@') > 1)),
  -- E.164: a plus, a non-zero digit, 7 to 15 digits in all.
  phone             TEXT CHECK (phone IS NULL OR (length(phone) BETWEEN 8 AND 16 AND phone GLOB '+[1-9]*'
                                                  AND substr(phone, 2) NOT GLOB '*[^0-9]*')),
  locale            TEXT CHECK (locale IS NULL OR length(locale) BETWEEN 2 AND 35),
  time_zone         TEXT CHECK (time_zone IS NULL OR length(time_zone) BETWEEN 1 AND 64),
  properties        TEXT NOT NULL DEFAULT '{}'
                    CHECK (json_valid(properties) AND json_type(properties) = 'object' AND length(properties) <= 16384),
  created_at        INTEGER NOT NULL,
  updated_at        INTEGER NOT NULL,
  updated_by        TEXT NOT NULL,
  PRIMARY KEY (infrastructure_id, user_id)
) STRICT;
CREATE INDEX messaging_profiles_business_idx ON messaging_profiles (infrastructure_id, business_id, user_id);

-- The key and the tenant of a profile never change.
CREATE TRIGGER messaging_profiles_immutable
BEFORE UPDATE OF infrastructure_id, user_id, created_at ON messaging_profiles
BEGIN
  SELECT RAISE(ABORT, 'messaging_profiles: the tenant and the user of a profile never change');
END;

CREATE TABLE messaging_categories (
  infrastructure_id TEXT NOT NULL,
  -- ^[a-z0-9]+([._-][a-z0-9]+)*$ and at most 100 characters, in GLOBs.
  category_key      TEXT NOT NULL CHECK (
                      length(category_key) <= 100 AND category_key GLOB '[a-z0-9]*' AND category_key GLOB '*[a-z0-9]'
                      AND category_key NOT GLOB '*[^a-z0-9._-]*' AND category_key NOT GLOB '*[._-][._-]*'),
  name              TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  description       TEXT CHECK (description IS NULL OR length(description) BETWEEN 1 AND 1000),
  critical          INTEGER NOT NULL DEFAULT 0 CHECK (critical IN (0, 1)),
  channels          TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(channels) AND json_type(channels) = 'object'),
  created_by        TEXT NOT NULL,
  created_at        INTEGER NOT NULL,
  updated_at        INTEGER NOT NULL,
  PRIMARY KEY (infrastructure_id, category_key)
) STRICT;

CREATE TRIGGER messaging_categories_immutable
BEFORE UPDATE OF infrastructure_id, category_key, created_by, created_at ON messaging_categories
BEGIN
  SELECT RAISE(ABORT, 'messaging_categories: the key and the tenant of a category never change');
END;

CREATE TABLE messaging_preferences (
  infrastructure_id TEXT NOT NULL,
  user_id           TEXT NOT NULL,
  category_key      TEXT NOT NULL,
  channel_type      TEXT NOT NULL CHECK (
                      length(channel_type) <= 40 AND channel_type GLOB '[a-z]*' AND channel_type NOT GLOB '*[^a-z0-9_]*'),
  enabled           INTEGER NOT NULL CHECK (enabled IN (0, 1)),
  updated_by        TEXT NOT NULL,
  updated_at        INTEGER NOT NULL,
  PRIMARY KEY (infrastructure_id, user_id, category_key, channel_type),
  FOREIGN KEY (infrastructure_id, category_key)
    REFERENCES messaging_categories (infrastructure_id, category_key) ON DELETE CASCADE
) STRICT;
CREATE INDEX messaging_preferences_category_idx ON messaging_preferences (infrastructure_id, category_key);

-- A null business (the infrastructure's own default) is one value of its own in the key.
CREATE TABLE messaging_tenant_defaults (
  infrastructure_id TEXT NOT NULL,
  business_id       TEXT,
  category_key      TEXT NOT NULL,
  channel_type      TEXT NOT NULL CHECK (
                      length(channel_type) <= 40 AND channel_type GLOB '[a-z]*' AND channel_type NOT GLOB '*[^a-z0-9_]*'),
  enabled           INTEGER NOT NULL CHECK (enabled IN (0, 1)),
  updated_by        TEXT NOT NULL,
  updated_at        INTEGER NOT NULL,
  FOREIGN KEY (infrastructure_id, category_key)
    REFERENCES messaging_categories (infrastructure_id, category_key) ON DELETE CASCADE
) STRICT;
CREATE UNIQUE INDEX messaging_tenant_defaults_key
  ON messaging_tenant_defaults (infrastructure_id, coalesce(business_id, ''), category_key, channel_type);
CREATE INDEX messaging_tenant_defaults_category_idx ON messaging_tenant_defaults (infrastructure_id, category_key);

-- Audit entries speak of profiles, categories, preferences, notifications and templates
-- too: the table checks the shape of target_type only (the domain keeps the closed set).
-- SQLite cannot change a CHECK in place, so the table is rebuilt, rowids kept (they order
-- the entries of one instant).
DROP TRIGGER messaging_audit_log_no_delete;
DROP TRIGGER messaging_audit_log_no_update;
CREATE TABLE messaging_audit_log_v4 (
  infrastructure_id TEXT NOT NULL,
  actor_id          TEXT NOT NULL,
  id                TEXT NOT NULL,
  business_id       TEXT,
  actor_role        TEXT NOT NULL CHECK (actor_role IN ('member', 'infra_admin', 'service')),
  action            TEXT NOT NULL CHECK (length(action) BETWEEN 1 AND 100),
  target_type       TEXT NOT NULL CHECK (
                      length(target_type) BETWEEN 1 AND 40 AND target_type GLOB '[a-z]*'
                      AND target_type NOT GLOB '*[^a-z_]*'),
  target_id         TEXT,
  outcome           TEXT NOT NULL CHECK (outcome IN ('ok', 'refused')),
  error_code        TEXT,
  details           TEXT CHECK (details IS NULL OR (json_valid(details) AND json_type(details) = 'object')),
  at                INTEGER NOT NULL,
  PRIMARY KEY (infrastructure_id, actor_id, id)
) STRICT;
INSERT INTO messaging_audit_log_v4 (rowid, infrastructure_id, actor_id, id, business_id, actor_role, action,
  target_type, target_id, outcome, error_code, details, at)
SELECT rowid, infrastructure_id, actor_id, id, business_id, actor_role, action,
  target_type, target_id, outcome, error_code, details, at FROM messaging_audit_log;
DROP TABLE messaging_audit_log;
ALTER TABLE messaging_audit_log_v4 RENAME TO messaging_audit_log;
CREATE INDEX messaging_audit_log_at_idx ON messaging_audit_log (infrastructure_id, at);
CREATE INDEX messaging_audit_log_action_idx ON messaging_audit_log (infrastructure_id, action, at);
CREATE TRIGGER messaging_audit_log_no_delete BEFORE DELETE ON messaging_audit_log
BEGIN
  SELECT RAISE(ABORT, 'messaging_audit_log is append-only');
END;
CREATE TRIGGER messaging_audit_log_no_update BEFORE UPDATE ON messaging_audit_log
BEGIN
  SELECT RAISE(ABORT, 'messaging_audit_log is append-only');
END;
`

const v5 = /* sql */ `
-- Notification templates: one row per version of (infrastructure, category key, channel
-- type, locale); a save appends the next version, nothing changes or removes a row. The
-- newest version is current; an outbox message records the id of the one it renders.
CREATE TABLE messaging_templates (
  infrastructure_id TEXT NOT NULL,
  id                TEXT NOT NULL,
  -- ^[a-z0-9]+([._-][a-z0-9]+)*$ and at most 100 characters, in GLOBs (SQLite has no regex).
  category_key      TEXT NOT NULL CHECK (
                      length(category_key) <= 100 AND category_key GLOB '[a-z0-9]*' AND category_key GLOB '*[a-z0-9]'
                      AND category_key NOT GLOB '*[^a-z0-9._-]*' AND category_key NOT GLOB '*[._-][._-]*'),
  channel_type      TEXT NOT NULL CHECK (channel_type IN ('email', 'sms', 'in_app', 'webhook')),
  locale            TEXT NOT NULL CHECK (
                      length(locale) BETWEEN 2 AND 35 AND locale NOT GLOB '*[^A-Za-z0-9-]*'
                      AND locale NOT GLOB '-*' AND locale NOT GLOB '*-' AND locale NOT GLOB '*--*'),
  version           INTEGER NOT NULL CHECK (version >= 1),
  content           TEXT NOT NULL CHECK (json_valid(content) AND json_type(content) = 'object'),
  created_by        TEXT NOT NULL,
  created_at        INTEGER NOT NULL,
  PRIMARY KEY (infrastructure_id, id),
  -- Two saves racing for the next version cannot both land; also the current-version and
  -- history lookups (a backward scan).
  UNIQUE (infrastructure_id, category_key, channel_type, locale, version)
) STRICT;

CREATE TRIGGER messaging_templates_no_update BEFORE UPDATE ON messaging_templates
BEGIN
  SELECT RAISE(ABORT, 'messaging_templates is append-only: an edit is a new version');
END;

CREATE TRIGGER messaging_templates_no_delete BEFORE DELETE ON messaging_templates
BEGIN
  SELECT RAISE(ABORT, 'messaging_templates is append-only: an edit is a new version');
END;

-- The tenant's default locale, the last fallback of every template lookup.
CREATE TABLE messaging_template_settings (
  infrastructure_id TEXT NOT NULL,
  default_locale    TEXT NOT NULL CHECK (
                      length(default_locale) BETWEEN 2 AND 35 AND default_locale NOT GLOB '*[^A-Za-z0-9-]*'),
  updated_by        TEXT NOT NULL,
  updated_at        INTEGER NOT NULL,
  PRIMARY KEY (infrastructure_id)
) STRICT;
`

// Refusals outside the caller's scope, counted per caller and hour (sql/0015): never in a
// tenant's audit trail. Not tenant data, so the key leads with the caller.
const v6 = /* sql */ `
CREATE TABLE messaging_security_log (
  actor_id               TEXT    NOT NULL,
  actor_role             TEXT    NOT NULL CHECK (actor_role IN ('member', 'infra_admin', 'service')),
  window_start           INTEGER NOT NULL,
  action                 TEXT    NOT NULL CHECK (length(action) BETWEEN 1 AND 100),
  error_code             TEXT    NOT NULL CHECK (length(error_code) BETWEEN 1 AND 100),
  refusals               INTEGER NOT NULL CHECK (refusals >= 1),
  first_at               INTEGER NOT NULL,
  last_at                INTEGER NOT NULL,
  last_infrastructure_id TEXT    NOT NULL,
  last_business_id       TEXT,
  PRIMARY KEY (actor_id, actor_role, window_start, action, error_code)
) STRICT;
CREATE INDEX messaging_security_log_last_at_idx ON messaging_security_log (last_at);
`

// The host a delivery worker ran on, with each attempt (PostgreSQL's 0030_attempt_host.sql).
const v7 = /* sql */ `
ALTER TABLE messaging_delivery_attempts
  ADD COLUMN worker_host TEXT CHECK (worker_host IS NULL OR length(worker_host) <= 253);
`

const v8 = /* sql */ `
-- Notifications (the PostgreSQL schema's sql/0021): one row per notify call, one skip row
-- per recipient and channel type it left out, and the outbox's columns that say whose
-- message it is and of which notification.
CREATE TABLE messaging_notifications (
  infrastructure_id TEXT NOT NULL,
  id                TEXT NOT NULL,
  business_id       TEXT,
  category_key      TEXT NOT NULL,
  target            TEXT NOT NULL CHECK (json_valid(target) AND json_type(target) = 'object'),
  data              TEXT NOT NULL CHECK (json_valid(data) AND json_type(data) = 'object'),
  idempotency_key   TEXT CHECK (idempotency_key IS NULL OR length(idempotency_key) BETWEEN 1 AND 255),
  created_by        TEXT NOT NULL,
  created_at        INTEGER NOT NULL,
  available_at      INTEGER,
  recipient_count   INTEGER NOT NULL CHECK (recipient_count >= 0),
  message_count     INTEGER NOT NULL CHECK (message_count >= 0),
  skipped_count     INTEGER NOT NULL CHECK (skipped_count >= 0),
  PRIMARY KEY (infrastructure_id, id),
  FOREIGN KEY (infrastructure_id, category_key) REFERENCES messaging_categories (infrastructure_id, category_key)
) STRICT;
CREATE UNIQUE INDEX messaging_notifications_idempotency_key
  ON messaging_notifications (infrastructure_id, coalesce(business_id, ''), idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX messaging_notifications_created_idx ON messaging_notifications (infrastructure_id, created_at, id);
CREATE INDEX messaging_notifications_category_idx
  ON messaging_notifications (infrastructure_id, category_key, created_at, id);

CREATE TRIGGER messaging_notifications_no_update BEFORE UPDATE ON messaging_notifications
BEGIN
  SELECT RAISE(ABORT, 'messaging_notifications is append-only');
END;
CREATE TRIGGER messaging_notifications_no_delete BEFORE DELETE ON messaging_notifications
BEGIN
  SELECT RAISE(ABORT, 'messaging_notifications is append-only');
END;

CREATE TABLE messaging_notification_skips (
  infrastructure_id TEXT NOT NULL,
  notification_id   TEXT NOT NULL,
  user_id           TEXT NOT NULL,
  channel_type      TEXT NOT NULL CHECK (channel_type = '*' OR (
                      length(channel_type) <= 40 AND channel_type GLOB '[a-z]*' AND channel_type NOT GLOB '*[^a-z0-9_]*')),
  business_id       TEXT,
  reason            TEXT NOT NULL CHECK (reason IN ('opted_out', 'no_address', 'no_channel', 'unknown_recipient')),
  created_at        INTEGER NOT NULL,
  PRIMARY KEY (infrastructure_id, notification_id, user_id, channel_type),
  FOREIGN KEY (infrastructure_id, notification_id) REFERENCES messaging_notifications (infrastructure_id, id)
) STRICT;
CREATE INDEX messaging_notification_skips_user_idx
  ON messaging_notification_skips (infrastructure_id, user_id, created_at);

CREATE TRIGGER messaging_notification_skips_no_update BEFORE UPDATE ON messaging_notification_skips
BEGIN
  SELECT RAISE(ABORT, 'messaging_notification_skips is append-only');
END;
CREATE TRIGGER messaging_notification_skips_no_delete BEFORE DELETE ON messaging_notification_skips
BEGIN
  SELECT RAISE(ABORT, 'messaging_notification_skips is append-only');
END;

ALTER TABLE messaging_outbox ADD COLUMN notification_id TEXT;
ALTER TABLE messaging_outbox ADD COLUMN recipient_user_id TEXT;
ALTER TABLE messaging_outbox ADD COLUMN category_key TEXT;
ALTER TABLE messaging_outbox ADD COLUMN template_id TEXT;

-- The CHECK of the PostgreSQL schema (SQLite adds no table constraint to an existing table).
CREATE TRIGGER messaging_outbox_notification_check BEFORE INSERT ON messaging_outbox
WHEN NOT ((NEW.notification_id IS NULL) = (NEW.recipient_user_id IS NULL)
      AND (NEW.notification_id IS NULL) = (NEW.category_key IS NULL)
      AND (NEW.template_id IS NULL OR NEW.notification_id IS NOT NULL))
BEGIN
  SELECT RAISE(ABORT, 'messaging_outbox: a notification message names its notification, recipient and category');
END;

CREATE TRIGGER messaging_outbox_notification_immutable
BEFORE UPDATE OF notification_id, recipient_user_id, category_key, template_id ON messaging_outbox
BEGIN
  SELECT RAISE(ABORT, 'messaging_outbox: only the delivery state of a message may change');
END;

CREATE INDEX messaging_outbox_notification_idx
  ON messaging_outbox (infrastructure_id, notification_id, recipient_user_id)
  WHERE notification_id IS NOT NULL;
CREATE INDEX messaging_outbox_recipient_idx
  ON messaging_outbox (infrastructure_id, recipient_user_id, created_at)
  WHERE notification_id IS NOT NULL;
`

// Per-channel rate buckets shared by every worker on the file (sql/0041): a take is one
// upsert, so two processes never take the same token.
const v9 = /* sql */ `
CREATE TABLE messaging_rate_buckets (
  infrastructure_id TEXT    NOT NULL,
  channel_id        TEXT    NOT NULL,
  tokens            REAL    NOT NULL CHECK (tokens >= 0),
  refilled_at       INTEGER NOT NULL,
  held_until        INTEGER,
  PRIMARY KEY (infrastructure_id, channel_id)
) STRICT;
`

// Cancel (sql/0050): 'cancelled' joins the status check, the state machine and retention.
// SQLite cannot change a column's CHECK in place, so the outbox is rebuilt: its rows wait
// in a temporary copy while the table is created again under the wider check, with every
// index and trigger it had (v1, v2, v8). Foreign keys are deferred to the commit, where
// every delivery attempt finds its message again.
const v10 = /* sql */ `
PRAGMA defer_foreign_keys = ON;

CREATE TEMP TABLE messaging_outbox_v10 AS SELECT * FROM messaging_outbox;
DROP TABLE messaging_outbox;

CREATE TABLE messaging_outbox (
  infrastructure_id TEXT NOT NULL,
  id                TEXT NOT NULL,
  business_id       TEXT,
  channel_id        TEXT NOT NULL,
  payload           TEXT NOT NULL CHECK (json_valid(payload)),
  recipients        TEXT CHECK (recipients IS NULL OR (json_valid(recipients) AND json_type(recipients) = 'array')),
  idempotency_key   TEXT CHECK (idempotency_key IS NULL OR length(idempotency_key) BETWEEN 1 AND 255),
  max_attempts      INTEGER NOT NULL CHECK (max_attempts >= 1),
  created_by        TEXT NOT NULL,
  created_at        INTEGER NOT NULL,
  status            TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'processing', 'processed', 'failed', 'dead', 'cancelled')),
  attempts          INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  available_at      INTEGER NOT NULL,
  lease_token       TEXT,
  leased_until      INTEGER,
  last_error        TEXT,
  settled_at        INTEGER,
  notification_id   TEXT,
  recipient_user_id TEXT,
  category_key      TEXT,
  template_id       TEXT,
  PRIMARY KEY (infrastructure_id, id),
  FOREIGN KEY (infrastructure_id, channel_id) REFERENCES messaging_channels (infrastructure_id, id),
  -- A processing row, and only one, holds a lease.
  CHECK ((status = 'processing') = (lease_token IS NOT NULL) AND (lease_token IS NULL) = (leased_until IS NULL))
) STRICT;

INSERT INTO messaging_outbox (infrastructure_id, id, business_id, channel_id, payload, recipients,
  idempotency_key, max_attempts, created_by, created_at, status, attempts, available_at, lease_token,
  leased_until, last_error, settled_at, notification_id, recipient_user_id, category_key, template_id)
SELECT infrastructure_id, id, business_id, channel_id, payload, recipients,
  idempotency_key, max_attempts, created_by, created_at, status, attempts, available_at, lease_token,
  leased_until, last_error, settled_at, notification_id, recipient_user_id, category_key, template_id
  FROM temp.messaging_outbox_v10;
DROP TABLE temp.messaging_outbox_v10;

CREATE UNIQUE INDEX messaging_outbox_idempotency_key
  ON messaging_outbox (infrastructure_id, coalesce(business_id, ''), idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX messaging_outbox_created_idx
  ON messaging_outbox (infrastructure_id, created_at, id);
CREATE INDEX messaging_outbox_ready_idx
  ON messaging_outbox (infrastructure_id, available_at, id)
  WHERE status IN ('pending', 'processing');
CREATE INDEX messaging_outbox_channel_idx
  ON messaging_outbox (infrastructure_id, channel_id, created_at, id);
CREATE INDEX messaging_outbox_notification_idx
  ON messaging_outbox (infrastructure_id, notification_id, recipient_user_id)
  WHERE notification_id IS NOT NULL;
CREATE INDEX messaging_outbox_recipient_idx
  ON messaging_outbox (infrastructure_id, recipient_user_id, created_at)
  WHERE notification_id IS NOT NULL;

-- The state machine, with the cancel edges: pending -> cancelled, and processing ->
-- cancelled (the adapter takes it only once the lease lapsed). cancelled is final.
CREATE TRIGGER messaging_outbox_guard_transition
BEFORE UPDATE OF status ON messaging_outbox
WHEN NEW.status IS NOT OLD.status AND NOT (
     (OLD.status = 'pending' AND NEW.status IN ('processing', 'cancelled'))
  OR (OLD.status = 'processing' AND NEW.status IN ('processed', 'failed', 'pending', 'dead', 'cancelled'))
  OR (OLD.status IN ('failed', 'dead') AND NEW.status = 'pending'))
BEGIN
  SELECT RAISE(ABORT, 'messaging_outbox: illegal status transition');
END;

CREATE TRIGGER messaging_outbox_immutable
BEFORE UPDATE OF infrastructure_id, id, business_id, channel_id, payload, recipients,
  idempotency_key, max_attempts, created_by, created_at ON messaging_outbox
BEGIN
  SELECT RAISE(ABORT, 'messaging_outbox: only the delivery state of a message may change');
END;

CREATE TRIGGER messaging_outbox_no_delete BEFORE DELETE ON messaging_outbox
WHEN NOT (OLD.status IN ('processed', 'failed', 'dead', 'cancelled') AND EXISTS (SELECT 1 FROM messaging_retention_gate))
BEGIN
  SELECT RAISE(ABORT, 'messaging_outbox is append-only: only retention removes settled messages');
END;

CREATE TRIGGER messaging_outbox_notification_check BEFORE INSERT ON messaging_outbox
WHEN NOT ((NEW.notification_id IS NULL) = (NEW.recipient_user_id IS NULL)
      AND (NEW.notification_id IS NULL) = (NEW.category_key IS NULL)
      AND (NEW.template_id IS NULL OR NEW.notification_id IS NOT NULL))
BEGIN
  SELECT RAISE(ABORT, 'messaging_outbox: a notification message names its notification, recipient and category');
END;

CREATE TRIGGER messaging_outbox_notification_immutable
BEFORE UPDATE OF notification_id, recipient_user_id, category_key, template_id ON messaging_outbox
BEGIN
  SELECT RAISE(ABORT, 'messaging_outbox: only the delivery state of a message may change');
END;
`

// The W3C trace context of the enqueue, stored with its message (sql/0060): null when no
// span was recording. The CHECKs of the PostgreSQL schema, as triggers (SQLite adds no table
// constraint to an existing table), and immutable like the rest of the message.
const v11 = /* sql */ `
ALTER TABLE messaging_outbox ADD COLUMN traceparent TEXT;
ALTER TABLE messaging_outbox ADD COLUMN tracestate TEXT;

CREATE TRIGGER messaging_outbox_trace_check BEFORE INSERT ON messaging_outbox
WHEN NOT ((NEW.traceparent IS NULL
           OR (length(NEW.traceparent) <= 128
               AND NEW.traceparent GLOB '[0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f]*'))
      AND (NEW.tracestate IS NULL OR length(NEW.tracestate) <= 512)
      AND (NEW.tracestate IS NULL OR NEW.traceparent IS NOT NULL))
BEGIN
  SELECT RAISE(ABORT, 'messaging_outbox: traceparent and tracestate follow the W3C trace context');
END;

CREATE TRIGGER messaging_outbox_trace_immutable
BEFORE UPDATE OF traceparent, tracestate ON messaging_outbox
BEGIN
  SELECT RAISE(ABORT, 'messaging_outbox: only the delivery state of a message may change');
END;
`

// Priorities (sql/0051): a rank per message (0 high, 1 normal, 2 low), and the claim's index
// in the claim's order within a tenant: rank, then due time.
const v12 = /* sql */ `
ALTER TABLE messaging_outbox ADD COLUMN priority INTEGER NOT NULL DEFAULT 1 CHECK (priority IN (0, 1, 2));

DROP INDEX messaging_outbox_ready_idx;
CREATE INDEX messaging_outbox_ready_idx
  ON messaging_outbox (infrastructure_id, priority, available_at, id)
  WHERE status IN ('pending', 'processing');

DROP TRIGGER messaging_outbox_immutable;
CREATE TRIGGER messaging_outbox_immutable
BEFORE UPDATE OF infrastructure_id, id, business_id, channel_id, payload, recipients,
  idempotency_key, max_attempts, created_by, created_at, priority ON messaging_outbox
BEGIN
  SELECT RAISE(ABORT, 'messaging_outbox: only the delivery state of a message may change');
END;
`

// Circuit breakers per channel, shared by every worker on the file (sql/0056): one row per
// (infrastructure, channel), written only when a breaker's state changes.
const v13 = /* sql */ `
CREATE TABLE messaging_breakers (
  infrastructure_id TEXT    NOT NULL,
  channel_id        TEXT    NOT NULL,
  status            TEXT    NOT NULL CHECK (status IN ('closed', 'open', 'half_open')),
  failures          INTEGER NOT NULL CHECK (failures >= 0),
  window_started_at INTEGER,
  opened_at         INTEGER,
  retry_at          INTEGER,
  updated_at        INTEGER NOT NULL,
  PRIMARY KEY (infrastructure_id, channel_id),
  CHECK ((status = 'closed') = (retry_at IS NULL))
) STRICT;
`

// Ordering keys (sql/0053): a message's key and its place in the key's order, both null or
// both set, written once. The place is max + 1 over the key's rows, taken in the enqueue's
// write transaction (SQLite has one writer, so no two messages draw the same one); the
// index serves that and the claim's "is an earlier message of this key unsettled".
const v14 = /* sql */ `
ALTER TABLE messaging_outbox ADD COLUMN ordering_key TEXT;
ALTER TABLE messaging_outbox ADD COLUMN ordering_seq INTEGER;

CREATE INDEX messaging_outbox_ordering_idx
  ON messaging_outbox (infrastructure_id, ordering_key, ordering_seq)
  WHERE ordering_key IS NOT NULL;

CREATE TRIGGER messaging_outbox_ordering_check BEFORE INSERT ON messaging_outbox
WHEN NOT ((NEW.ordering_key IS NULL) = (NEW.ordering_seq IS NULL)
      AND (NEW.ordering_key IS NULL
           OR (length(NEW.ordering_key) BETWEEN 1 AND 200 AND NOT NEW.ordering_key GLOB '*[^!-~]*')))
BEGIN
  SELECT RAISE(ABORT, 'messaging_outbox: an ordering key is 1 to 200 printable ASCII characters, with its place');
END;

CREATE TRIGGER messaging_outbox_ordering_immutable
BEFORE UPDATE OF ordering_key, ordering_seq ON messaging_outbox
BEGIN
  SELECT RAISE(ABORT, 'messaging_outbox: only the delivery state of a message may change');
END;
`

// Which of a channel's providers an attempt went out through (sql/0057): email relays and SMS
// providers may list fallbacks. Null for single-endpoint types and older attempts.
const v15 = /* sql */ `
ALTER TABLE messaging_delivery_attempts
  ADD COLUMN provider TEXT CHECK (provider IS NULL OR length(provider) <= 300);
`

// Throttles (sql/0080): the category's throttle, the counters a notify takes its slots from,
// and 'throttled' among the skip reasons. SQLite cannot widen a column's CHECK in place, so
// the skips table is rebuilt (nothing references it) with its index and triggers (v8).
const v16 = /* sql */ `
ALTER TABLE messaging_categories ADD COLUMN throttle TEXT CHECK (
  throttle IS NULL OR (
    json_valid(throttle) AND json_type(throttle) = 'object'
    AND json_type(throttle, '$.limit') = 'integer' AND json_extract(throttle, '$.limit') BETWEEN 1 AND 10000
    AND json_type(throttle, '$.windowSeconds') = 'integer'
    AND json_extract(throttle, '$.windowSeconds') BETWEEN 1 AND 604800
    AND json_extract(throttle, '$.onExceed') = 'skip'));

CREATE TEMP TABLE messaging_notification_skips_v16 AS SELECT * FROM messaging_notification_skips;
DROP TABLE messaging_notification_skips;
CREATE TABLE messaging_notification_skips (
  infrastructure_id TEXT NOT NULL,
  notification_id   TEXT NOT NULL,
  user_id           TEXT NOT NULL,
  channel_type      TEXT NOT NULL CHECK (channel_type = '*' OR (
                      length(channel_type) <= 40 AND channel_type GLOB '[a-z]*' AND channel_type NOT GLOB '*[^a-z0-9_]*')),
  business_id       TEXT,
  reason            TEXT NOT NULL CHECK (
                      reason IN ('opted_out', 'no_address', 'no_channel', 'unknown_recipient', 'throttled')),
  created_at        INTEGER NOT NULL,
  PRIMARY KEY (infrastructure_id, notification_id, user_id, channel_type),
  FOREIGN KEY (infrastructure_id, notification_id) REFERENCES messaging_notifications (infrastructure_id, id)
) STRICT;
INSERT INTO messaging_notification_skips SELECT * FROM messaging_notification_skips_v16;
DROP TABLE messaging_notification_skips_v16;
CREATE INDEX messaging_notification_skips_user_idx
  ON messaging_notification_skips (infrastructure_id, user_id, created_at);
CREATE TRIGGER messaging_notification_skips_no_update BEFORE UPDATE ON messaging_notification_skips
BEGIN
  SELECT RAISE(ABORT, 'messaging_notification_skips is append-only');
END;
CREATE TRIGGER messaging_notification_skips_no_delete BEFORE DELETE ON messaging_notification_skips
BEGIN
  SELECT RAISE(ABORT, 'messaging_notification_skips is append-only');
END;

CREATE TABLE messaging_throttle_counters (
  infrastructure_id TEXT    NOT NULL,
  user_id           TEXT    NOT NULL,
  category_key      TEXT    NOT NULL,
  window_start      INTEGER NOT NULL,
  taken             INTEGER NOT NULL CHECK (taken BETWEEN 0 AND 10000),
  PRIMARY KEY (infrastructure_id, user_id, category_key)
) STRICT;
`

// Quiet hours (sql/0081): a recipient's own, on their profile beside their time zone.
const v17 = /* sql */ `
ALTER TABLE messaging_profiles ADD COLUMN quiet_hours TEXT CHECK (
  quiet_hours IS NULL OR (
    json_valid(quiet_hours) AND json_type(quiet_hours) = 'object'
    AND json_extract(quiet_hours, '$.start') GLOB '[0-2][0-9]:[0-5][0-9]'
    AND json_extract(quiet_hours, '$.start') <= '23:59'
    AND json_extract(quiet_hours, '$.end') GLOB '[0-2][0-9]:[0-5][0-9]'
    AND json_extract(quiet_hours, '$.end') <= '23:59'
    AND json_extract(quiet_hours, '$.start') <> json_extract(quiet_hours, '$.end')));
`

// The health view's count of throttled skips by time (sql/0082): only 'throttled' rows enter it.
const v18 = /* sql */ `
CREATE INDEX messaging_notification_skips_throttled_idx
  ON messaging_notification_skips (infrastructure_id, created_at)
  WHERE reason = 'throttled';
`

// An infrastructure's default quiet hours (sql/0083).
const v19 = /* sql */ `
CREATE TABLE messaging_quiet_hours_defaults (
  infrastructure_id TEXT    NOT NULL PRIMARY KEY,
  quiet_hours       TEXT    NOT NULL CHECK (
                      json_valid(quiet_hours) AND json_type(quiet_hours) = 'object'
                      AND json_extract(quiet_hours, '$.start') GLOB '[0-2][0-9]:[0-5][0-9]'
                      AND json_extract(quiet_hours, '$.start') <= '23:59'
                      AND json_extract(quiet_hours, '$.end') GLOB '[0-2][0-9]:[0-5][0-9]'
                      AND json_extract(quiet_hours, '$.end') <= '23:59'
                      AND json_extract(quiet_hours, '$.start') <> json_extract(quiet_hours, '$.end')),
  updated_by        TEXT    NOT NULL,
  updated_at        INTEGER NOT NULL
) STRICT;
`

// Delivery events to the host (sql/0110): each tenant's log in commit order. One writer at
// a time holds the file, so the autoincrement seq is commit order: a reader paging on from
// the last seq it saw misses nothing (PostgreSQL needs its snapshot horizon for that).
const v20 = /* sql */ `
CREATE TABLE messaging_events (
  seq               INTEGER PRIMARY KEY AUTOINCREMENT,
  infrastructure_id TEXT    NOT NULL,
  id                TEXT    NOT NULL,
  business_id       TEXT,
  type              TEXT    NOT NULL CHECK (type IN ('message.delivered', 'message.failed', 'message.dead',
                      'message.cancelled', 'notification.completed', 'recipient.skipped')),
  message_id        TEXT,
  notification_id   TEXT,
  channel_id        TEXT,
  data              TEXT    NOT NULL CHECK (json_valid(data) AND json_type(data) = 'object'),
  occurred_at       INTEGER NOT NULL,
  UNIQUE (infrastructure_id, id)
) STRICT;
CREATE INDEX messaging_events_cursor_idx ON messaging_events (infrastructure_id, seq);
CREATE INDEX messaging_events_occurred_idx ON messaging_events (occurred_at);
`

// Digests (sql/0100): the category's digest, 'digest' among the throttle's actions, and the
// digests themselves. SQLite cannot widen a column's CHECK in place: the throttle moves to a
// new column with the wider check (copied, the old one dropped, the new one renamed).
const v21 = /* sql */ `
ALTER TABLE messaging_categories ADD COLUMN digest TEXT CHECK (
  digest IS NULL OR (
    json_valid(digest) AND json_type(digest) = 'object'
    AND json_type(digest, '$.windowSeconds') = 'integer'
    AND json_extract(digest, '$.windowSeconds') BETWEEN 1 AND 604800
    AND json_type(digest, '$.maxItems') = 'integer' AND json_extract(digest, '$.maxItems') BETWEEN 2 AND 1000
    AND json_type(digest, '$.key') IN ('null', 'text')));
ALTER TABLE messaging_categories ADD COLUMN throttle_v21 TEXT CHECK (
  throttle_v21 IS NULL OR (
    json_valid(throttle_v21) AND json_type(throttle_v21) = 'object'
    AND json_type(throttle_v21, '$.limit') = 'integer'
    AND json_extract(throttle_v21, '$.limit') BETWEEN 1 AND 10000
    AND json_type(throttle_v21, '$.windowSeconds') = 'integer'
    AND json_extract(throttle_v21, '$.windowSeconds') BETWEEN 1 AND 604800
    AND json_extract(throttle_v21, '$.onExceed') IN ('skip', 'digest')));
UPDATE messaging_categories SET throttle_v21 = throttle WHERE throttle IS NOT NULL;
ALTER TABLE messaging_categories DROP COLUMN throttle;
ALTER TABLE messaging_categories RENAME COLUMN throttle_v21 TO throttle;

CREATE TABLE messaging_digests (
  infrastructure_id TEXT    NOT NULL,
  id                TEXT    NOT NULL,
  business_id       TEXT,
  user_id           TEXT    NOT NULL,
  category_key      TEXT    NOT NULL,
  channel_id        TEXT    NOT NULL,
  digest_key        TEXT    NOT NULL CHECK (length(digest_key) <= 200),
  opened_at         INTEGER NOT NULL,
  closes_at         INTEGER NOT NULL,
  max_items         INTEGER NOT NULL CHECK (max_items BETWEEN 2 AND 1000),
  item_count        INTEGER NOT NULL CHECK (item_count BETWEEN 1 AND max_items),
  items             TEXT    NOT NULL CHECK (json_valid(items) AND json_type(items) = 'array'),
  closed_at         INTEGER,
  PRIMARY KEY (infrastructure_id, id)
) STRICT;
CREATE UNIQUE INDEX messaging_digests_open_idx
  ON messaging_digests (infrastructure_id, user_id, category_key, channel_id, digest_key, coalesce(business_id, ''))
  WHERE closed_at IS NULL;
`

// The queue's per-minute rollup (sql/0120): counters per tenant and minute of the store's
// clock, added to once per write batch; retention removes minutes older than three hours.
const v22 = /* sql */ `
CREATE TABLE messaging_queue_minutes (
  infrastructure_id TEXT    NOT NULL,
  minute            INTEGER NOT NULL CHECK (minute % 60000 = 0),
  enqueued          INTEGER NOT NULL DEFAULT 0 CHECK (enqueued >= 0),
  delivered         INTEGER NOT NULL DEFAULT 0 CHECK (delivered >= 0),
  failed_attempts   INTEGER NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
  dead              INTEGER NOT NULL DEFAULT 0 CHECK (dead >= 0),
  closed            INTEGER NOT NULL DEFAULT 0 CHECK (closed >= 0),
  reopened          INTEGER NOT NULL DEFAULT 0 CHECK (reopened >= 0),
  PRIMARY KEY (infrastructure_id, minute)
) STRICT;
`

// Digests of a channel, for plain enqueues (sql/0102): a digest is a category's (user_id and
// category_key) or a channel's (destination: the recipient list as one JSON text). SQLite
// cannot drop a NOT NULL, so the table is built again with the same rows; a second partial
// unique index keeps one open digest per channel group.
const v23 = /* sql */ `
CREATE TABLE messaging_digests_v23 (
  infrastructure_id TEXT    NOT NULL,
  id                TEXT    NOT NULL,
  business_id       TEXT,
  user_id           TEXT,
  category_key      TEXT,
  channel_id        TEXT    NOT NULL,
  destination       TEXT,
  digest_key        TEXT    NOT NULL CHECK (length(digest_key) <= 200),
  opened_at         INTEGER NOT NULL,
  closes_at         INTEGER NOT NULL,
  max_items         INTEGER NOT NULL CHECK (max_items BETWEEN 2 AND 1000),
  item_count        INTEGER NOT NULL CHECK (item_count BETWEEN 1 AND max_items),
  items             TEXT    NOT NULL CHECK (json_valid(items) AND json_type(items) = 'array'),
  closed_at         INTEGER,
  PRIMARY KEY (infrastructure_id, id),
  CHECK ((user_id IS NOT NULL AND category_key IS NOT NULL AND destination IS NULL)
         OR (user_id IS NULL AND category_key IS NULL AND destination IS NOT NULL))
) STRICT;
INSERT INTO messaging_digests_v23 (infrastructure_id, id, business_id, user_id, category_key, channel_id,
                                   destination, digest_key, opened_at, closes_at, max_items, item_count, items,
                                   closed_at)
  SELECT infrastructure_id, id, business_id, user_id, category_key, channel_id, NULL, digest_key, opened_at,
         closes_at, max_items, item_count, items, closed_at
    FROM messaging_digests;
DROP TABLE messaging_digests;
ALTER TABLE messaging_digests_v23 RENAME TO messaging_digests;
CREATE UNIQUE INDEX messaging_digests_open_idx
  ON messaging_digests (infrastructure_id, user_id, category_key, channel_id, digest_key, coalesce(business_id, ''))
  WHERE closed_at IS NULL;
CREATE UNIQUE INDEX messaging_digests_open_destination_idx
  ON messaging_digests (infrastructure_id, channel_id, destination, digest_key, coalesce(business_id, ''))
  WHERE closed_at IS NULL AND destination IS NOT NULL;
`

// Status webhook endpoints (sql/0130): each with its place in its tenant's event log, its
// failure run and a lease, so one dispatcher at a time sends an endpoint's events.
const v24 = /* sql */ `
CREATE TABLE messaging_event_endpoints (
  infrastructure_id TEXT    NOT NULL,
  id                TEXT    NOT NULL,
  url               TEXT    NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
  event_types       TEXT    CHECK (event_types IS NULL OR (json_valid(event_types) AND json_type(event_types) = 'array')),
  enabled           INTEGER NOT NULL CHECK (enabled IN (0, 1)),
  secret            TEXT    NOT NULL,
  cursor            TEXT,
  attempts          INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at   INTEGER NOT NULL,
  last_error        TEXT,
  failing_since     INTEGER,
  lease_token       TEXT,
  leased_until      INTEGER,
  created_at        INTEGER NOT NULL,
  updated_at        INTEGER NOT NULL,
  PRIMARY KEY (infrastructure_id, id)
) STRICT;
CREATE INDEX messaging_event_endpoints_due_idx ON messaging_event_endpoints (next_attempt_at) WHERE enabled = 1;
`

// A notification's digests found by an index (sql/0103): one row per item of a digest,
// (infrastructure_id, notification_id) -> digest_id, written with the item, removed with its
// digest by the cascade.
const v25 = /* sql */ `
CREATE TABLE messaging_digest_items (
  infrastructure_id TEXT NOT NULL,
  notification_id   TEXT NOT NULL,
  digest_id         TEXT NOT NULL,
  business_id       TEXT,
  PRIMARY KEY (infrastructure_id, notification_id, digest_id),
  FOREIGN KEY (infrastructure_id, digest_id) REFERENCES messaging_digests (infrastructure_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX messaging_digest_items_digest_idx ON messaging_digest_items (infrastructure_id, digest_id);
INSERT OR IGNORE INTO messaging_digest_items (infrastructure_id, notification_id, digest_id, business_id)
  SELECT d.infrastructure_id, json_extract(e.value, '$.notificationId'), d.id, d.business_id
    FROM messaging_digests AS d, json_each(d.items) AS e
   WHERE json_extract(e.value, '$.notificationId') IS NOT NULL;
`

// Provider receipts (sql/0140): 'confirmed' and 'bounced' join the outbox's status check (a
// processed message moves to either, both final, both pruned as settled), the events' type
// check gains 'message.confirmed' and 'message.bounced', and the attempts get the index a
// receipt finds its message by. SQLite cannot widen a CHECK in place: the outbox is rebuilt
// as in v10 (every column, index and trigger it has by v25), and so is the event log, whose
// autoincrement high-water mark is kept, so a cursor a reader holds never sees a seq again.
const v26 = /* sql */ `
PRAGMA defer_foreign_keys = ON;

CREATE TEMP TABLE messaging_outbox_v26 AS SELECT * FROM messaging_outbox;
DROP TABLE messaging_outbox;

CREATE TABLE messaging_outbox (
  infrastructure_id TEXT NOT NULL,
  id                TEXT NOT NULL,
  business_id       TEXT,
  channel_id        TEXT NOT NULL,
  payload           TEXT NOT NULL CHECK (json_valid(payload)),
  recipients        TEXT CHECK (recipients IS NULL OR (json_valid(recipients) AND json_type(recipients) = 'array')),
  idempotency_key   TEXT CHECK (idempotency_key IS NULL OR length(idempotency_key) BETWEEN 1 AND 255),
  max_attempts      INTEGER NOT NULL CHECK (max_attempts >= 1),
  created_by        TEXT NOT NULL,
  created_at        INTEGER NOT NULL,
  status            TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'processing', 'processed', 'failed', 'dead', 'cancelled',
                                      'confirmed', 'bounced')),
  attempts          INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  available_at      INTEGER NOT NULL,
  lease_token       TEXT,
  leased_until      INTEGER,
  last_error        TEXT,
  settled_at        INTEGER,
  notification_id   TEXT,
  recipient_user_id TEXT,
  category_key      TEXT,
  template_id       TEXT,
  traceparent       TEXT,
  tracestate        TEXT,
  priority          INTEGER NOT NULL DEFAULT 1 CHECK (priority IN (0, 1, 2)),
  ordering_key      TEXT,
  ordering_seq      INTEGER,
  PRIMARY KEY (infrastructure_id, id),
  FOREIGN KEY (infrastructure_id, channel_id) REFERENCES messaging_channels (infrastructure_id, id),
  -- A processing row, and only one, holds a lease.
  CHECK ((status = 'processing') = (lease_token IS NOT NULL) AND (lease_token IS NULL) = (leased_until IS NULL))
) STRICT;

INSERT INTO messaging_outbox (infrastructure_id, id, business_id, channel_id, payload, recipients,
  idempotency_key, max_attempts, created_by, created_at, status, attempts, available_at, lease_token,
  leased_until, last_error, settled_at, notification_id, recipient_user_id, category_key, template_id,
  traceparent, tracestate, priority, ordering_key, ordering_seq)
SELECT infrastructure_id, id, business_id, channel_id, payload, recipients,
  idempotency_key, max_attempts, created_by, created_at, status, attempts, available_at, lease_token,
  leased_until, last_error, settled_at, notification_id, recipient_user_id, category_key, template_id,
  traceparent, tracestate, priority, ordering_key, ordering_seq
  FROM temp.messaging_outbox_v26;
DROP TABLE temp.messaging_outbox_v26;

CREATE UNIQUE INDEX messaging_outbox_idempotency_key
  ON messaging_outbox (infrastructure_id, coalesce(business_id, ''), idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX messaging_outbox_created_idx
  ON messaging_outbox (infrastructure_id, created_at, id);
CREATE INDEX messaging_outbox_channel_idx
  ON messaging_outbox (infrastructure_id, channel_id, created_at, id);
CREATE INDEX messaging_outbox_notification_idx
  ON messaging_outbox (infrastructure_id, notification_id, recipient_user_id)
  WHERE notification_id IS NOT NULL;
CREATE INDEX messaging_outbox_recipient_idx
  ON messaging_outbox (infrastructure_id, recipient_user_id, created_at)
  WHERE notification_id IS NOT NULL;
CREATE INDEX messaging_outbox_ready_idx
  ON messaging_outbox (infrastructure_id, priority, available_at, id)
  WHERE status IN ('pending', 'processing');
CREATE INDEX messaging_outbox_ordering_idx
  ON messaging_outbox (infrastructure_id, ordering_key, ordering_seq)
  WHERE ordering_key IS NOT NULL;

-- The state machine, with the receipt edges: processed -> confirmed | bounced, both final.
CREATE TRIGGER messaging_outbox_guard_transition
BEFORE UPDATE OF status ON messaging_outbox
WHEN NEW.status IS NOT OLD.status AND NOT (
     (OLD.status = 'pending' AND NEW.status IN ('processing', 'cancelled'))
  OR (OLD.status = 'processing' AND NEW.status IN ('processed', 'failed', 'pending', 'dead', 'cancelled'))
  OR (OLD.status IN ('failed', 'dead') AND NEW.status = 'pending')
  OR (OLD.status = 'processed' AND NEW.status IN ('confirmed', 'bounced')))
BEGIN
  SELECT RAISE(ABORT, 'messaging_outbox: illegal status transition');
END;

CREATE TRIGGER messaging_outbox_no_delete BEFORE DELETE ON messaging_outbox
WHEN NOT (OLD.status IN ('processed', 'failed', 'dead', 'cancelled', 'confirmed', 'bounced')
          AND EXISTS (SELECT 1 FROM messaging_retention_gate))
BEGIN
  SELECT RAISE(ABORT, 'messaging_outbox is append-only: only retention removes settled messages');
END;

CREATE TRIGGER messaging_outbox_notification_check BEFORE INSERT ON messaging_outbox
WHEN NOT ((NEW.notification_id IS NULL) = (NEW.recipient_user_id IS NULL)
      AND (NEW.notification_id IS NULL) = (NEW.category_key IS NULL)
      AND (NEW.template_id IS NULL OR NEW.notification_id IS NOT NULL))
BEGIN
  SELECT RAISE(ABORT, 'messaging_outbox: a notification message names its notification, recipient and category');
END;

CREATE TRIGGER messaging_outbox_notification_immutable
BEFORE UPDATE OF notification_id, recipient_user_id, category_key, template_id ON messaging_outbox
BEGIN
  SELECT RAISE(ABORT, 'messaging_outbox: only the delivery state of a message may change');
END;

CREATE TRIGGER messaging_outbox_trace_check BEFORE INSERT ON messaging_outbox
WHEN NOT ((NEW.traceparent IS NULL
           OR (length(NEW.traceparent) <= 128
               AND NEW.traceparent GLOB '[0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f]*'))
      AND (NEW.tracestate IS NULL OR length(NEW.tracestate) <= 512)
      AND (NEW.tracestate IS NULL OR NEW.traceparent IS NOT NULL))
BEGIN
  SELECT RAISE(ABORT, 'messaging_outbox: traceparent and tracestate follow the W3C trace context');
END;

CREATE TRIGGER messaging_outbox_trace_immutable
BEFORE UPDATE OF traceparent, tracestate ON messaging_outbox
BEGIN
  SELECT RAISE(ABORT, 'messaging_outbox: only the delivery state of a message may change');
END;

CREATE TRIGGER messaging_outbox_immutable
BEFORE UPDATE OF infrastructure_id, id, business_id, channel_id, payload, recipients,
  idempotency_key, max_attempts, created_by, created_at, priority ON messaging_outbox
BEGIN
  SELECT RAISE(ABORT, 'messaging_outbox: only the delivery state of a message may change');
END;

CREATE TRIGGER messaging_outbox_ordering_check BEFORE INSERT ON messaging_outbox
WHEN NOT ((NEW.ordering_key IS NULL) = (NEW.ordering_seq IS NULL)
      AND (NEW.ordering_key IS NULL
           OR (length(NEW.ordering_key) BETWEEN 1 AND 200 AND NOT NEW.ordering_key GLOB '*[^!-~]*')))
BEGIN
  SELECT RAISE(ABORT, 'messaging_outbox: an ordering key is 1 to 200 printable ASCII characters, with its place');
END;

CREATE TRIGGER messaging_outbox_ordering_immutable
BEFORE UPDATE OF ordering_key, ordering_seq ON messaging_outbox
BEGIN
  SELECT RAISE(ABORT, 'messaging_outbox: only the delivery state of a message may change');
END;

CREATE TEMP TABLE messaging_events_v26 AS SELECT * FROM messaging_events;
CREATE TEMP TABLE messaging_events_v26_seq AS
  SELECT seq FROM sqlite_sequence WHERE name = 'messaging_events';
DROP TABLE messaging_events;

CREATE TABLE messaging_events (
  seq               INTEGER PRIMARY KEY AUTOINCREMENT,
  infrastructure_id TEXT    NOT NULL,
  id                TEXT    NOT NULL,
  business_id       TEXT,
  type              TEXT    NOT NULL CHECK (type IN ('message.delivered', 'message.failed', 'message.dead',
                      'message.cancelled', 'notification.completed', 'recipient.skipped',
                      'message.confirmed', 'message.bounced')),
  message_id        TEXT,
  notification_id   TEXT,
  channel_id        TEXT,
  data              TEXT    NOT NULL CHECK (json_valid(data) AND json_type(data) = 'object'),
  occurred_at       INTEGER NOT NULL,
  UNIQUE (infrastructure_id, id)
) STRICT;
INSERT INTO messaging_events (seq, infrastructure_id, id, business_id, type, message_id, notification_id,
  channel_id, data, occurred_at)
SELECT seq, infrastructure_id, id, business_id, type, message_id, notification_id, channel_id, data, occurred_at
  FROM temp.messaging_events_v26;
DELETE FROM sqlite_sequence WHERE name = 'messaging_events';
INSERT INTO sqlite_sequence (name, seq) SELECT 'messaging_events', seq FROM temp.messaging_events_v26_seq;
DROP TABLE temp.messaging_events_v26;
DROP TABLE temp.messaging_events_v26_seq;
CREATE INDEX messaging_events_cursor_idx ON messaging_events (infrastructure_id, seq);
CREATE INDEX messaging_events_occurred_idx ON messaging_events (occurred_at);

CREATE INDEX messaging_delivery_attempts_provider_idx
  ON messaging_delivery_attempts (infrastructure_id, provider_message_id)
  WHERE outcome = 'delivered' AND provider_message_id IS NOT NULL;
`

export const SQLITE_MIGRATIONS: readonly SqliteMigration[] = [
  { version: 1, name: 'messaging_core', sql: v1 },
  { version: 2, name: 'delivery_attempts_and_retention', sql: v2 },
  { version: 3, name: 'inbox', sql: v3 },
  { version: 4, name: 'recipients', sql: v4 },
  { version: 5, name: 'templates', sql: v5 },
  { version: 6, name: 'security_log', sql: v6 },
  { version: 7, name: 'attempt_host', sql: v7 },
  { version: 8, name: 'notifications', sql: v8 },
  { version: 9, name: 'rate_buckets', sql: v9 },
  { version: 10, name: 'cancel', sql: v10 },
  { version: 11, name: 'trace_context', sql: v11 },
  { version: 12, name: 'priorities', sql: v12 },
  { version: 13, name: 'breakers', sql: v13 },
  { version: 14, name: 'ordering_keys', sql: v14 },
  { version: 15, name: 'attempt_provider', sql: v15 },
  { version: 16, name: 'throttles', sql: v16 },
  { version: 17, name: 'quiet_hours', sql: v17 },
  { version: 18, name: 'throttled_skips_index', sql: v18 },
  { version: 19, name: 'quiet_hours_default', sql: v19 },
  { version: 20, name: 'events', sql: v20 },
  { version: 21, name: 'digests', sql: v21 },
  { version: 22, name: 'queue_minutes', sql: v22 },
  { version: 23, name: 'channel_digests', sql: v23 },
  { version: 24, name: 'event_endpoints', sql: v24 },
  { version: 25, name: 'digest_items_index', sql: v25 },
  { version: 26, name: 'receipts', sql: v26 },
]
