-- messaging 0010: the database's clock decides.
--
-- Until now the module wrote every time from the calling process's clock (0003). A worker
-- whose clock ran ten minutes fast then took every lease a healthy worker still held (its
-- "now" was past their leased_until: 20 duplicate deliveries in the run that found it) and
-- sent messages scheduled five minutes ahead at once. From here on lease expiry, due times,
-- retry and release delays, redrive, queue ages and retention compare against the
-- database's now: the callers pass durations ("lease for 30 s", "retry in 4 s") and the
-- statements resolve them with messaging_now(). Only an absolute time a host gave on
-- purpose (an enqueue's availableAt, a prune cut-off date) stays absolute, and whether it
-- is due is still decided against messaging_now().
--
-- messaging_now() is now(): the start of the current transaction, STABLE, so the planner
-- inlines it and a claim's `available_at <= messaging_now()` stays an index bound (a
-- VOLATILE clock_timestamp() could not be one). A unit of work is a short transaction,
-- so the start is within milliseconds of each statement.
CREATE FUNCTION messaging_now() RETURNS timestamptz
  LANGUAGE sql STABLE PARALLEL SAFE
  RETURN now();

GRANT EXECUTE ON FUNCTION messaging_now() TO messaging_app, messaging_worker;

-- messaging_enqueue, second form: a message's due time is either absolute (available_at,
-- the host's) or relative (available_after_ms from messaging_now(); 0: at once), and the
-- created rows' available_at comes back. The audit entry names its own actor
-- (audit_actor_id) rather than the message's created_by, so the statement appends exactly
-- the entry the caller built, as the memory and SQLite stores do. Everything else is 0009's.
DROP FUNCTION messaging_enqueue(text, jsonb);

CREATE FUNCTION messaging_enqueue(claims text, messages jsonb)
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
           x.audit_id, x.audit_actor_id, x.audit_actor_role, x.audit_action, x.audit_details, x.audit_at
      FROM jsonb_to_recordset(messages) AS x (
        ord int, infrastructure_id uuid, id uuid, business_id uuid, channel_id uuid, channel_key text,
        payload jsonb, recipients jsonb, idempotency_key text, default_max_attempts int, created_by uuid,
        created_at timestamptz, available_at timestamptz, available_after_ms bigint,
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
           idempotency_key, max_attempts, created_by, created_at, status, attempts, available_at)
    SELECT m.infrastructure_id, m.id, m.business_id, c.channel_id, m.payload, m.recipients,
           m.idempotency_key, c.max_attempts, m.created_by, m.created_at, 'pending', 0, m.available_at
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

REVOKE ALL ON FUNCTION messaging_enqueue(text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION messaging_enqueue(text, jsonb) TO messaging_app;
