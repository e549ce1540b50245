-- messaging 0008: the enqueue in one statement.
--
-- messaging_enqueue(claims, messages) sets the caller's claims (local to the transaction,
-- exactly as a unit of work's first statement does) and then, in one statement, resolves
-- each message's channel (by id or key, in the message's infrastructure), inserts the
-- messages (ON CONFLICT DO NOTHING on the idempotency key) and appends one audit entry per
-- message created. Called outside a transaction it is one round trip and its own
-- transaction; the claims end with it.
--
-- SECURITY INVOKER, not DEFINER: every row it reads or writes passes the caller's own
-- policies, under the claims it was given. A caller may set any claims with set_config
-- anyway; the policies, not the claims' origin, are what protect tenants (see docs/sql.md).
--
-- All or nothing: when a channel is missing or disabled, nothing is inserted and the
-- result says which message failed (outcome 'channel_missing' / 'channel_disabled').
-- Outcomes per message, in input order: 'created'; 'existing' (its key was taken: `existing`
-- holds the first message as it was visible to this statement, or null when a concurrent
-- transaction committed it meanwhile: the caller asks again).
CREATE FUNCTION messaging_enqueue(claims text, messages jsonb)
  RETURNS TABLE (ord int, outcome text, channel_id uuid, max_attempts int, existing jsonb)
  LANGUAGE sql VOLATILE
  SET search_path FROM CURRENT
AS $fn$
SELECT set_config('messaging.claims', claims, true);
WITH m AS (
  SELECT x.*
    FROM jsonb_to_recordset(messages) AS x (
      ord int, infrastructure_id uuid, id uuid, business_id uuid, channel_id uuid, channel_key text,
      payload jsonb, recipients jsonb, idempotency_key text, default_max_attempts int, created_by uuid,
      created_at timestamptz, available_at timestamptz,
      audit_id uuid, audit_actor_role text, audit_action text, audit_details jsonb, audit_at timestamptz)
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
         idempotency_key, max_attempts, created_by, created_at, status, attempts, available_at)
  SELECT m.infrastructure_id, m.id, m.business_id, c.channel_id, m.payload, m.recipients,
         m.idempotency_key, c.max_attempts, m.created_by, m.created_at, 'pending', 0, m.available_at
    FROM m JOIN c ON c.ord = m.ord
   WHERE NOT EXISTS (SELECT FROM c AS bad WHERE bad.channel_id IS NULL OR NOT bad.enabled)
   ORDER BY m.ord
  ON CONFLICT (infrastructure_id, business_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
  RETURNING o.infrastructure_id, o.id
),
audit AS (
  INSERT INTO messaging_audit_log (infrastructure_id, actor_id, id, business_id, actor_role, action,
         target_type, target_id, outcome, error_code, details, at)
  SELECT m.infrastructure_id, m.created_by, m.audit_id, m.business_id, m.audit_actor_role, m.audit_action,
         'message', m.id::text, 'ok', NULL,
         jsonb_build_object('channelId', c.channel_id) || coalesce(m.audit_details, '{}'::jsonb), m.audit_at
    FROM ins JOIN m ON m.infrastructure_id = ins.infrastructure_id AND m.id = ins.id
    JOIN c ON c.ord = m.ord
)
SELECT m.ord,
       CASE WHEN c.channel_id IS NULL THEN 'channel_missing'
            WHEN NOT c.enabled THEN 'channel_disabled'
            WHEN i.id IS NOT NULL THEN 'created'
            ELSE 'existing' END,
       c.channel_id, c.max_attempts,
       CASE WHEN i.id IS NULL AND c.enabled AND m.idempotency_key IS NOT NULL THEN
         (SELECT to_jsonb(f) FROM messaging_outbox AS f
           WHERE f.infrastructure_id = m.infrastructure_id
             AND f.business_id IS NOT DISTINCT FROM m.business_id
             AND f.idempotency_key = m.idempotency_key)
       END
  FROM m
  JOIN c ON c.ord = m.ord
  LEFT JOIN ins AS i ON i.infrastructure_id = m.infrastructure_id AND i.id = m.id
 ORDER BY m.ord
$fn$;

REVOKE ALL ON FUNCTION messaging_enqueue(text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION messaging_enqueue(text, jsonb) TO messaging_app;
