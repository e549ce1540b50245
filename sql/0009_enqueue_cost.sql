-- messaging 0009: the enqueue's server-side cost.
--
-- A single enqueue (one message, its own transaction) cost the server about 1.7 ms of CPU,
-- against about 0.1 ms for a plain INSERT of a row of the same size; measured with 32
-- connections on 2 cores, and ablated one thing at a time (docs/sql.md, "Costs of the
-- enqueue"):
--
-- 1. messaging_enqueue was LANGUAGE sql. PostgreSQL 15 keeps no plan for a SQL function
--    that is not inlined: every call parsed, rewrote (the policies) and planned the whole
--    statement again, about 60% of the time. As plpgsql its one statement is prepared once
--    per connection and runs a cached generic plan; the policies are still applied (the
--    cached plan depends on the role and is replanned for another), and the claims are
--    read when it runs, never when it was planned (the readers are STABLE, not IMMUTABLE).
--
-- 2. The claims readers were plpgsql, each a function call plus a query
--    (PERFORM messaging_claims_refresh()), about twenty times per enqueue (the policies
--    evaluate them per index probe and per row). They are now plain SQL expressions that
--    PostgreSQL inlines into the policies: a few setting reads when the parsed claims are
--    current, and the plpgsql parser (unchanged, fail-closed) only when they are not.
--
-- 3. The wake-up trigger ran its throttle query on every INSERT statement. A connection
--    now remembers (in a session setting, which a rolled-back transaction takes back with
--    it) until when the last wake-up it saw makes another pointless: notified_at only ever
--    moves forward, so until then the UPDATE would have matched nothing anyway.

CREATE OR REPLACE FUNCTION messaging_claims_part(part text) RETURNS text
  LANGUAGE plpgsql STABLE
AS $fn$
BEGIN
  PERFORM messaging_claims_refresh();
  RETURN current_setting('messaging.claims_' || part, true);
END
$fn$;
CREATE OR REPLACE FUNCTION messaging_claims_fresh() RETURNS boolean
  LANGUAGE sql STABLE
  RETURN current_setting('messaging.claims_parsed', true) IS NOT DISTINCT FROM 'yes'
     AND current_setting('messaging.claims_parsed_from', true)
         IS NOT DISTINCT FROM COALESCE(NULLIF(current_setting('messaging.claims', true), ''), '');
CREATE OR REPLACE FUNCTION messaging_claims_of(part text) RETURNS text
  LANGUAGE sql STABLE
  RETURN CASE WHEN messaging_claims_fresh() THEN current_setting('messaging.claims_' || part, true)
              ELSE messaging_claims_part(part) END;
CREATE OR REPLACE FUNCTION messaging_claims_infrastructures() RETURNS uuid[]
  LANGUAGE sql STABLE RETURN messaging_claims_of('infrastructures')::uuid[];
CREATE OR REPLACE FUNCTION messaging_claims_wide_infrastructures() RETURNS uuid[]
  LANGUAGE sql STABLE RETURN messaging_claims_of('wide_infrastructures')::uuid[];
CREATE OR REPLACE FUNCTION messaging_claims_businesses() RETURNS text[]
  LANGUAGE sql STABLE RETURN messaging_claims_of('businesses')::text[];
CREATE OR REPLACE FUNCTION messaging_claims_sub() RETURNS uuid
  LANGUAGE sql STABLE RETURN NULLIF(messaging_claims_of('sub'), '')::uuid;
CREATE OR REPLACE FUNCTION messaging_claims_role() RETURNS text
  LANGUAGE sql STABLE RETURN NULLIF(messaging_claims_of('role'), '');
CREATE OR REPLACE FUNCTION messaging_claims_role_in(VARIADIC roles text[]) RETURNS boolean
  LANGUAGE sql STABLE RETURN COALESCE(NULLIF(messaging_claims_of('role'), '') = ANY (roles), false);

CREATE OR REPLACE FUNCTION messaging_enqueue(claims text, messages jsonb)
  RETURNS TABLE (ord int, outcome text, channel_id uuid, max_attempts int, existing jsonb)
  LANGUAGE plpgsql VOLATILE
  SET search_path FROM CURRENT
AS $fn$
#variable_conflict use_column
BEGIN
  PERFORM set_config('messaging.claims', claims, true);
  RETURN QUERY
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
   ORDER BY m.ord;
END
$fn$;

CREATE OR REPLACE FUNCTION messaging_outbox_wakeup() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path FROM CURRENT
AS $fn$
DECLARE
  quiet_until timestamptz := NULLIF(current_setting('messaging.wakeup_quiet_until', true), '')::timestamptz;
  seen timestamptz;
BEGIN
  IF quiet_until IS NOT NULL AND clock_timestamp() < quiet_until THEN
    RETURN NULL;
  END IF;
  SELECT w.notified_at INTO seen FROM messaging_wakeup AS w WHERE w.id = 1;
  IF seen >= clock_timestamp() - interval '100 milliseconds' THEN
    PERFORM set_config('messaging.wakeup_quiet_until', (seen + interval '100 milliseconds')::text, false);
    RETURN NULL;
  END IF;
  UPDATE messaging_wakeup AS w SET notified_at = clock_timestamp()
   WHERE w.id = (SELECT t.id FROM messaging_wakeup AS t
                  WHERE t.id = 1 AND t.notified_at < clock_timestamp() - interval '100 milliseconds'
                  FOR UPDATE SKIP LOCKED)
  RETURNING w.notified_at INTO seen;
  IF FOUND THEN
    PERFORM pg_notify('messaging_outbox', '');
    PERFORM set_config('messaging.wakeup_quiet_until', (seen + interval '100 milliseconds')::text, false);
  END IF;
  RETURN NULL;
END
$fn$;

REVOKE ALL ON FUNCTION messaging_claims_part(text), messaging_claims_fresh(), messaging_claims_of(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION messaging_claims_part(text), messaging_claims_fresh(), messaging_claims_of(text)
  TO messaging_app, messaging_worker;
