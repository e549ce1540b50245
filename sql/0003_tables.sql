-- messaging 0003: the tables.
--
-- Every table leads with infrastructure_id, and so does every primary key, unique key,
-- foreign key and index: the schema can be distributed by tenant, and because foreign keys
-- and unique checks bypass row-level security, a composite reference can only ever point
-- at a row of the same infrastructure, and a unique key can only collide with a row the
-- writer could see anyway.
--
-- Column names are the snake_case of the domain's fields. Times are written by the
-- module (its clock), never defaulted from the database's now(), so tests are
-- deterministic and one clock rules.

CREATE TABLE messaging_channels (
  infrastructure_id uuid        NOT NULL,
  id                uuid        NOT NULL,
  channel_key       text        COLLATE "C" NOT NULL CHECK (channel_key ~ '^[a-z0-9]+([-_][a-z0-9]+)*$' AND length(channel_key) <= 64),
  type              text        NOT NULL CHECK (type ~ '^[a-z][a-z0-9_]*$' AND length(type) <= 40),
  name              text        NOT NULL,
  config            jsonb       NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(config) = 'object'),
  enabled           boolean     NOT NULL DEFAULT true,
  max_attempts      integer     CHECK (max_attempts >= 1),
  created_by        uuid        NOT NULL,
  created_at        timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL,
  CONSTRAINT messaging_channels_pkey PRIMARY KEY (infrastructure_id, id),
  CONSTRAINT messaging_channels_key_unique UNIQUE (infrastructure_id, channel_key)
);

CREATE TABLE messaging_channel_members (
  infrastructure_id uuid        NOT NULL,
  channel_id        uuid        NOT NULL,
  user_id           uuid        NOT NULL,
  business_id       uuid,
  opted_in          boolean     NOT NULL DEFAULT false,
  added_by          uuid        NOT NULL,
  created_at        timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL,
  CONSTRAINT messaging_channel_members_pkey PRIMARY KEY (infrastructure_id, channel_id, user_id),
  CONSTRAINT messaging_channel_members_channel_fkey FOREIGN KEY (infrastructure_id, channel_id)
    REFERENCES messaging_channels (infrastructure_id, id) ON DELETE CASCADE
);
CREATE INDEX messaging_channel_members_user_idx ON messaging_channel_members (infrastructure_id, user_id);

-- The outbox: one row per message. The message fields are written once (column
-- privileges in 0004 give the app roles UPDATE on the delivery-state columns only); the
-- delivery state sits beside them, changed by claims and acks.
--
-- status: pending -> processing -> processed | failed | pending (retry) | dead;
-- failed and dead leave only by a redrive (-> pending). A processing row, and only one,
-- holds a lease (lease_token, leased_until); every ack is fenced by lease_token.
CREATE TABLE messaging_outbox (
  infrastructure_id uuid        NOT NULL,
  id                uuid        NOT NULL,
  business_id       uuid,
  channel_id        uuid        NOT NULL,
  payload           jsonb       NOT NULL,
  recipients        jsonb       CHECK (recipients IS NULL OR jsonb_typeof(recipients) = 'array'),
  idempotency_key   text        CHECK (idempotency_key IS NULL OR length(idempotency_key) BETWEEN 1 AND 255),
  max_attempts      integer     NOT NULL CHECK (max_attempts >= 1),
  created_by        uuid        NOT NULL,
  created_at        timestamptz NOT NULL,
  -- delivery state
  status            text        NOT NULL DEFAULT 'pending'
                                CHECK (status IN ('pending', 'processing', 'processed', 'failed', 'dead')),
  attempts          integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  available_at      timestamptz NOT NULL,
  lease_token       uuid,
  leased_until      timestamptz,
  last_error        text,
  settled_at        timestamptz,
  CONSTRAINT messaging_outbox_pkey PRIMARY KEY (infrastructure_id, id),
  CONSTRAINT messaging_outbox_channel_fkey FOREIGN KEY (infrastructure_id, channel_id)
    REFERENCES messaging_channels (infrastructure_id, id),
  CONSTRAINT messaging_outbox_lease_check CHECK (
    (status = 'processing') = (lease_token IS NOT NULL) AND (lease_token IS NULL) = (leased_until IS NULL))
);

-- Idempotency: one message per (infrastructure, business, key); a null business is one
-- value of its own (NULLS NOT DISTINCT), so infrastructure-level messages dedupe too.
-- The key includes everything the writer's policy checks, so a collision only ever
-- reveals a row the writer may read.
CREATE UNIQUE INDEX messaging_outbox_idempotency_key
  ON messaging_outbox (infrastructure_id, business_id, idempotency_key) NULLS NOT DISTINCT
  WHERE idempotency_key IS NOT NULL;

-- Listing pages: (created_at, id) keyset order within a tenant.
CREATE INDEX messaging_outbox_created_idx ON messaging_outbox (infrastructure_id, created_at, id);

-- The claim path. A claim walks this index in its own order
-- (infrastructure_id = $1 ORDER BY available_at, id LIMIT n FOR UPDATE SKIP LOCKED) and
-- stops after n rows, so its cost does not grow with the backlog. Only open rows are in
-- it: settled messages (the bulk of a long-lived table) cost the claim nothing. Rows in
-- flight stay in it (their lease may lapse) and are stepped over; there are at most as
-- many as the workers hold. A per-tenant round robin (the delivery worker) walks the same
-- index once per tenant, with a skip scan over its leading column.
CREATE INDEX messaging_outbox_ready_idx ON messaging_outbox (infrastructure_id, available_at, id)
  WHERE status IN ('pending', 'processing');

-- The foreign key's index, and listing by channel.
CREATE INDEX messaging_outbox_channel_idx ON messaging_outbox (infrastructure_id, channel_id, created_at, id);

-- The append-only audit trail. Any principal appends records naming itself (refusals
-- outside its scope included); the primary key includes actor_id, so an append can only
-- ever collide with the appender's own records and tells nobody about anyone else's.
-- seq breaks ties between records of one instant in append order.
CREATE TABLE messaging_audit_log (
  infrastructure_id uuid        NOT NULL,
  actor_id          uuid        NOT NULL,
  id                uuid        NOT NULL,
  seq               bigint      GENERATED ALWAYS AS IDENTITY,
  business_id       uuid,
  actor_role        text        NOT NULL CHECK (actor_role IN ('member', 'infra_admin', 'service')),
  action            text        NOT NULL CHECK (length(action) BETWEEN 1 AND 100),
  target_type       text        NOT NULL CHECK (target_type IN ('channel', 'membership', 'message')),
  target_id         text,
  outcome           text        NOT NULL CHECK (outcome IN ('ok', 'refused')),
  error_code        text,
  details           jsonb       CHECK (details IS NULL OR jsonb_typeof(details) = 'object'),
  at                timestamptz NOT NULL,
  CONSTRAINT messaging_audit_log_pkey PRIMARY KEY (infrastructure_id, actor_id, id)
);
CREATE INDEX messaging_audit_log_at_idx ON messaging_audit_log (infrastructure_id, at DESC, seq DESC);
CREATE INDEX messaging_audit_log_action_idx ON messaging_audit_log (infrastructure_id, action, at DESC, seq DESC);

-- Membership plus channel metadata in one read. security_invoker: the caller's own
-- policies apply to both tables, exactly as if it had joined them itself.
CREATE VIEW messaging_channel_memberships WITH (security_invoker = true) AS
SELECT m.infrastructure_id,
       m.channel_id,
       m.user_id,
       m.business_id,
       m.opted_in,
       m.added_by,
       m.created_at,
       m.updated_at,
       c.channel_key,
       c.type    AS channel_type,
       c.name    AS channel_name,
       c.enabled AS channel_enabled
  FROM messaging_channel_members AS m
  JOIN messaging_channels AS c ON c.infrastructure_id = m.infrastructure_id AND c.id = m.channel_id;

-- The wake-up throttle: one row holding when the last wake-up went out (see 0005).
-- No tenant data.
CREATE TABLE messaging_wakeup (
  id          smallint    NOT NULL DEFAULT 1 CHECK (id = 1),
  notified_at timestamptz NOT NULL,
  CONSTRAINT messaging_wakeup_pkey PRIMARY KEY (id)
);
INSERT INTO messaging_wakeup (id, notified_at) VALUES (1, '-infinity');
