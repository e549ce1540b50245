-- messaging 0021: notifications. One notify call is one row here, one outbox message per
-- recipient and channel (the outbox's new notification columns say whose and of which
-- notification), and one skip row per recipient and channel type it left out, with the
-- reason. A notification's status is its messages' delivery state beside its skips.

CREATE TABLE messaging_notifications (
  infrastructure_id uuid        NOT NULL,
  id                uuid        NOT NULL,
  business_id       uuid,
  category_key      text        COLLATE "C" NOT NULL,
  -- {"kind": "users", "count": n} or {"kind": "channel", "channelId": ..., "channelKey": ...}:
  -- the users themselves are the messages' and skips' (10,000 ids would not belong in a row).
  target            jsonb       NOT NULL CHECK (jsonb_typeof(target) = 'object'),
  data              jsonb       NOT NULL CHECK (jsonb_typeof(data) = 'object'),
  idempotency_key   text        CHECK (idempotency_key IS NULL OR length(idempotency_key) BETWEEN 1 AND 255),
  created_by        uuid        NOT NULL,
  created_at        timestamptz NOT NULL,
  available_at      timestamptz,
  recipient_count   integer     NOT NULL CHECK (recipient_count >= 0),
  message_count     integer     NOT NULL CHECK (message_count >= 0),
  skipped_count     integer     NOT NULL CHECK (skipped_count >= 0),
  CONSTRAINT messaging_notifications_pkey PRIMARY KEY (infrastructure_id, id),
  CONSTRAINT messaging_notifications_category_fkey FOREIGN KEY (infrastructure_id, category_key)
    REFERENCES messaging_categories (infrastructure_id, category_key)
);

-- Idempotency as the outbox's: one notification per (infrastructure, business, key), a null
-- business being one value of its own.
CREATE UNIQUE INDEX messaging_notifications_idempotency_key
  ON messaging_notifications (infrastructure_id, business_id, idempotency_key) NULLS NOT DISTINCT
  WHERE idempotency_key IS NOT NULL;
-- Listing newest first, by time and by category.
CREATE INDEX messaging_notifications_created_idx ON messaging_notifications (infrastructure_id, created_at, id);
CREATE INDEX messaging_notifications_category_idx
  ON messaging_notifications (infrastructure_id, category_key, created_at, id);

CREATE TABLE messaging_notification_skips (
  infrastructure_id uuid        NOT NULL,
  notification_id   uuid        NOT NULL,
  user_id           uuid        NOT NULL,
  -- '*': every channel type of the recipient (an unknown recipient, a category without channels).
  channel_type      text        COLLATE "C" NOT NULL
                                CHECK (channel_type = '*' OR (channel_type ~ '^[a-z][a-z0-9_]*$' AND length(channel_type) <= 40)),
  business_id       uuid,
  reason            text        NOT NULL CHECK (reason IN ('opted_out', 'no_address', 'no_channel', 'unknown_recipient')),
  created_at        timestamptz NOT NULL,
  CONSTRAINT messaging_notification_skips_pkey PRIMARY KEY (infrastructure_id, notification_id, user_id, channel_type),
  CONSTRAINT messaging_notification_skips_notification_fkey FOREIGN KEY (infrastructure_id, notification_id)
    REFERENCES messaging_notifications (infrastructure_id, id)
);
CREATE INDEX messaging_notification_skips_user_idx
  ON messaging_notification_skips (infrastructure_id, user_id, created_at);

-- The outbox learns whose message it is. All four are written once, with the message (no
-- column privilege lets anyone change them), and are null on a plain enqueue. No foreign
-- key to messaging_notifications: it would cost every one of a 20,000-message fan-out an
-- index probe, and only notify writes these columns, in the unit of work that inserts the
-- notification (members may not: the restrictive policies below).
ALTER TABLE messaging_outbox
  ADD COLUMN notification_id   uuid,
  ADD COLUMN recipient_user_id uuid,
  ADD COLUMN category_key      text COLLATE "C",
  ADD COLUMN template_id       uuid,
  ADD CONSTRAINT messaging_outbox_notification_check CHECK (
    (notification_id IS NULL) = (recipient_user_id IS NULL)
    AND (notification_id IS NULL) = (category_key IS NULL)
    AND (template_id IS NULL OR notification_id IS NOT NULL));

-- A notification's messages (its status), and a user's (listing by user). Partial: plain
-- enqueues pay nothing for them.
CREATE INDEX messaging_outbox_notification_idx
  ON messaging_outbox (infrastructure_id, notification_id, recipient_user_id)
  WHERE notification_id IS NOT NULL;
CREATE INDEX messaging_outbox_recipient_idx
  ON messaging_outbox (infrastructure_id, recipient_user_id, created_at)
  WHERE notification_id IS NOT NULL;

-- ---------------------------------------------------------------------------------------
-- Row-level security.
ALTER TABLE messaging_notifications ENABLE ROW LEVEL SECURITY;
ALTER TABLE messaging_notifications FORCE ROW LEVEL SECURITY;
ALTER TABLE messaging_notification_skips ENABLE ROW LEVEL SECURITY;
ALTER TABLE messaging_notification_skips FORCE ROW LEVEL SECURITY;
REVOKE ALL ON messaging_notifications, messaging_notification_skips FROM PUBLIC;

-- Notifications and skips: an infra_admin or a worker where the claims reach the
-- notification's (infrastructure, business). Members see none: a status names every
-- recipient. Append-only: no UPDATE or DELETE privilege.
GRANT SELECT, INSERT ON messaging_notifications, messaging_notification_skips TO messaging_app;

CREATE POLICY messaging_notifications_select ON messaging_notifications
  FOR SELECT TO messaging_app
  USING (tenant_can_access(infrastructure_id, business_id)
         AND (SELECT messaging_claims_role_in('infra_admin', 'service')));
CREATE POLICY messaging_notifications_insert ON messaging_notifications
  FOR INSERT TO messaging_app
  WITH CHECK (tenant_can_access(infrastructure_id, business_id)
              AND (SELECT messaging_claims_role_in('infra_admin', 'service'))
              AND created_by = (SELECT messaging_claims_sub()));

CREATE POLICY messaging_notification_skips_select ON messaging_notification_skips
  FOR SELECT TO messaging_app
  USING (tenant_can_access(infrastructure_id, business_id)
         AND (SELECT messaging_claims_role_in('infra_admin', 'service')));
-- A skip joins a notification of the same tenant and business that the writer can see.
CREATE POLICY messaging_notification_skips_insert ON messaging_notification_skips
  FOR INSERT TO messaging_app
  WITH CHECK (tenant_can_access(infrastructure_id, business_id)
              AND (SELECT messaging_claims_role_in('infra_admin', 'service'))
              AND EXISTS (SELECT FROM messaging_notifications AS n
                           WHERE n.infrastructure_id = messaging_notification_skips.infrastructure_id
                             AND n.id = messaging_notification_skips.notification_id
                             AND n.business_id IS NOT DISTINCT FROM messaging_notification_skips.business_id));

-- A message of a notification carries a recipient's address and renders with the
-- recipient's profile: only an infra_admin or a worker writes one (a member's enqueue never
-- names a notification). A restrictive policy is AND-ed with the permissive ones of 0004.
CREATE POLICY messaging_outbox_notification_write ON messaging_outbox
  AS RESTRICTIVE FOR INSERT TO messaging_app
  WITH CHECK (notification_id IS NULL OR (SELECT messaging_claims_role_in('infra_admin', 'service')));

-- The fleet worker reads notifications (status events, rendering); it writes none.
GRANT SELECT ON messaging_notifications, messaging_notification_skips TO messaging_worker;
CREATE POLICY messaging_notifications_worker ON messaging_notifications
  FOR SELECT TO messaging_worker USING (true);
CREATE POLICY messaging_notification_skips_worker ON messaging_notification_skips
  FOR SELECT TO messaging_worker USING (true);

CREATE TRIGGER messaging_notifications_no_truncate BEFORE TRUNCATE ON messaging_notifications
  FOR EACH STATEMENT EXECUTE FUNCTION messaging_refuse_truncate();
CREATE TRIGGER messaging_notification_skips_no_truncate BEFORE TRUNCATE ON messaging_notification_skips
  FOR EACH STATEMENT EXECUTE FUNCTION messaging_refuse_truncate();

-- ---------------------------------------------------------------------------------------
-- messaging_enqueue, third form: 0010's, and each row may carry the notification columns,
-- and may have no audit entry of its own (audit_id null: a notification's fan-out appends
-- one entry for the notification, not one per message). Everything else is 0010's.
CREATE OR REPLACE FUNCTION messaging_enqueue(claims text, messages jsonb)
  RETURNS TABLE (ord int, outcome text, channel_id uuid, max_attempts int, available_at timestamptz,
                 existing jsonb)
  LANGUAGE plpgsql VOLATILE
  SET search_path FROM CURRENT
AS $fn$
#variable_conflict use_column
BEGIN
  PERFORM set_config('messaging.claims', claims, true);
  RETURN QUERY
  WITH m AS (
    SELECT x.ord, x.infrastructure_id, x.id, x.business_id, x.channel_id, x.channel_key, x.payload,
           x.recipients, x.idempotency_key, x.default_max_attempts, x.created_by, x.created_at,
           coalesce(x.available_at,
                    messaging_now() + greatest(coalesce(x.available_after_ms, 0), 0) * interval '1 millisecond')
             AS available_at,
           x.notification_id, x.recipient_user_id, x.category_key, x.template_id,
           x.audit_id, x.audit_actor_id, x.audit_actor_role, x.audit_action, x.audit_details, x.audit_at
      FROM jsonb_to_recordset(messages) AS x (
        ord int, infrastructure_id uuid, id uuid, business_id uuid, channel_id uuid, channel_key text,
        payload jsonb, recipients jsonb, idempotency_key text, default_max_attempts int, created_by uuid,
        created_at timestamptz, available_at timestamptz, available_after_ms bigint,
        notification_id uuid, recipient_user_id uuid, category_key text, template_id uuid,
        audit_id uuid, audit_actor_id uuid, audit_actor_role text, audit_action text, audit_details jsonb,
        audit_at timestamptz)
  ),
  c AS (
    SELECT m.ord, ch.id AS channel_id, ch.enabled,
           coalesce(ch.max_attempts, m.default_max_attempts) AS max_attempts
      FROM m
      LEFT JOIN LATERAL (
        (SELECT k.id, k.enabled, k.max_attempts FROM messaging_channels AS k
          WHERE k.infrastructure_id = m.infrastructure_id AND k.id = m.channel_id)
        UNION ALL
        (SELECT k.id, k.enabled, k.max_attempts FROM messaging_channels AS k
          WHERE m.channel_id IS NULL AND k.infrastructure_id = m.infrastructure_id AND k.channel_key = m.channel_key)
        LIMIT 1) AS ch ON true
  ),
  ins AS (
    INSERT INTO messaging_outbox AS o (infrastructure_id, id, business_id, channel_id, payload, recipients,
           idempotency_key, max_attempts, created_by, created_at, status, attempts, available_at,
           notification_id, recipient_user_id, category_key, template_id)
    SELECT m.infrastructure_id, m.id, m.business_id, c.channel_id, m.payload, m.recipients,
           m.idempotency_key, c.max_attempts, m.created_by, m.created_at, 'pending', 0, m.available_at,
           m.notification_id, m.recipient_user_id, m.category_key, m.template_id
      FROM m JOIN c ON c.ord = m.ord
     WHERE NOT EXISTS (SELECT FROM c AS bad WHERE bad.channel_id IS NULL OR NOT bad.enabled)
     ORDER BY m.ord
    ON CONFLICT (infrastructure_id, business_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING o.infrastructure_id, o.id, o.available_at
  ),
  audit AS (
    INSERT INTO messaging_audit_log (infrastructure_id, actor_id, id, business_id, actor_role, action,
           target_type, target_id, outcome, error_code, details, at)
    SELECT m.infrastructure_id, m.audit_actor_id, m.audit_id, m.business_id, m.audit_actor_role, m.audit_action,
           'message', m.id::text, 'ok', NULL,
           jsonb_build_object('channelId', c.channel_id) || coalesce(m.audit_details, '{}'::jsonb), m.audit_at
      FROM ins JOIN m ON m.infrastructure_id = ins.infrastructure_id AND m.id = ins.id
      JOIN c ON c.ord = m.ord
     WHERE m.audit_id IS NOT NULL
  )
  SELECT m.ord,
         CASE WHEN c.channel_id IS NULL THEN 'channel_missing'
              WHEN NOT c.enabled THEN 'channel_disabled'
              WHEN i.id IS NOT NULL THEN 'created'
              ELSE 'existing' END,
         c.channel_id, c.max_attempts, i.available_at,
         CASE WHEN i.id IS NULL AND c.enabled AND m.idempotency_key IS NOT NULL THEN
           (SELECT to_jsonb(f) FROM messaging_outbox AS f
             WHERE f.infrastructure_id = m.infrastructure_id
               AND f.business_id IS NOT DISTINCT FROM m.business_id
               AND f.idempotency_key = m.idempotency_key)
         END
    FROM m
    JOIN c ON c.ord = m.ord
    LEFT JOIN ins AS i ON i.infrastructure_id = m.infrastructure_id AND i.id = m.id
   ORDER BY m.ord;
END
$fn$;
