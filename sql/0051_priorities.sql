-- messaging 0051: priorities within a tenant.
--
--   messaging_outbox.priority    0 high, 1 normal (the default), 2 low: written once at enqueue
--                                (no app role may update it: column privileges of 0004)
--   messaging_outbox_ready_idx   the claim's index in the claim's order within a tenant:
--                                priority, then due time, then id
--   messaging_enqueue            fourth form: each row may carry `priority` (absent: 1)
--
-- A claim walks one tenant's open rows as (priority, available_at, id); the round robin
-- between tenants is unchanged, so a tenant's high priority goes ahead of its own normal
-- and low messages and never ahead of another tenant's turn. The due-time bound is an
-- index condition on the second key now, not a range bound: a tenant's scheduled (not yet
-- due) rows of a higher priority than its due ones are stepped over in the index, without
-- a heap visit (test/postgres/plan.test.ts shows the path).
ALTER TABLE messaging_outbox ADD COLUMN priority smallint NOT NULL DEFAULT 1
  CONSTRAINT messaging_outbox_priority_check CHECK (priority BETWEEN 0 AND 2);

DROP INDEX messaging_outbox_ready_idx;
CREATE INDEX messaging_outbox_ready_idx ON messaging_outbox (infrastructure_id, priority, available_at, id)
  WHERE status IN ('pending', 'processing');

-- ---------------------------------------------------------------------------------------
-- messaging_enqueue, fourth form: 0021's, and each row may carry `priority`.
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
           coalesce(x.priority, 1) AS priority,
           x.audit_id, x.audit_actor_id, x.audit_actor_role, x.audit_action, x.audit_details, x.audit_at
      FROM jsonb_to_recordset(messages) AS x (
        ord int, infrastructure_id uuid, id uuid, business_id uuid, channel_id uuid, channel_key text,
        payload jsonb, recipients jsonb, idempotency_key text, default_max_attempts int, created_by uuid,
        created_at timestamptz, available_at timestamptz, available_after_ms bigint,
        notification_id uuid, recipient_user_id uuid, category_key text, template_id uuid, priority smallint,
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
           notification_id, recipient_user_id, category_key, template_id, priority)
    SELECT m.infrastructure_id, m.id, m.business_id, c.channel_id, m.payload, m.recipients,
           m.idempotency_key, c.max_attempts, m.created_by, m.created_at, 'pending', 0, m.available_at,
           m.notification_id, m.recipient_user_id, m.category_key, m.template_id, m.priority
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
