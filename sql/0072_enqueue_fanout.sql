-- messaging 0072: a notify's fan-out is one set-based insert of what differs per message.
--
-- A notify's messages share everything but their channel, recipient, address and template:
-- one tenant, one payload, one author, one due time, one notification. Through
-- messaging_enqueue_arrays each of its 20,000 messages (G14 in BENCHMARKS.md: 10,000
-- recipients x 2 channel types) still sent its own payload, audit and trace columns (27
-- arrays), was looked up in messaging_channels on its own, went through ON CONFLICT and came
-- back as a result row the caller parsed: 3.5 s a fan-out against 0.58 s for the raw batch
-- insert of as many rows (0.16x, 2 cores). messaging_enqueue_fanout takes the shared values
-- once and five arrays (id, channel, recipient, address, template), resolves the few distinct
-- channels once, and inserts the rows in one INSERT ... SELECT FROM unnest; it answers one
-- row per distinct channel, not one per message.
--
-- The rules are messaging_enqueue_arrays's: SECURITY INVOKER, so every row passes the
-- caller's own insert policies (0004, and 0021's: a notification's message is written by an
-- infra_admin or a worker only) under the claims it was given, set local to the
-- transaction; every channel is found by id in the message's infrastructure and enabled,
-- else nothing is written and the answer names the channel; max attempts from the channel,
-- else the default; a relative due time resolved once by the database's clock; the wake-up
-- trigger of 0009. No idempotency key (a notification's key covers its fan-out) and no audit
-- entry per message (the notification has one). Arrays of different lengths are refused
-- (22023). The recipients column holds the one address: ["<address>"].
CREATE FUNCTION messaging_enqueue_fanout(
  claims text,
  infrastructure_id uuid, business_id uuid, payload jsonb, created_by uuid, created_at timestamptz,
  due_at timestamptz, due_after_ms bigint, default_max_attempts int, priority smallint,
  traceparent text, tracestate text, notification_id uuid, category_key text,
  ids uuid[], channel_ids uuid[], recipient_user_ids uuid[], addresses text[], template_ids uuid[])
  RETURNS TABLE (channel_id uuid, outcome text, max_attempts int, available_at timestamptz)
  LANGUAGE plpgsql VOLATILE
  SET search_path FROM CURRENT
AS $fn$
#variable_conflict use_variable
DECLARE
  n int := coalesce(cardinality(ids), 0);
  due timestamptz;
  cids uuid[];
  cfound boolean[];
  cenabled boolean[];
  cmax int[];
  bad boolean;
BEGIN
  IF n = 0 THEN
    RETURN;
  END IF;
  IF n = ALL (ARRAY[cardinality(channel_ids), cardinality(recipient_user_ids), cardinality(addresses),
      cardinality(template_ids)]) IS NOT TRUE THEN
    RAISE EXCEPTION 'messaging_enqueue_fanout: every array needs % elements', n USING ERRCODE = '22023';
  END IF;
  PERFORM set_config('messaging.claims', claims, true);
  due := coalesce(due_at, messaging_now() + greatest(coalesce(due_after_ms, 0), 0) * interval '1 millisecond');
  -- The distinct channels (two for G14's 20,000 messages), in the caller's view of them.
  SELECT array_agg(d.id ORDER BY d.id), array_agg(k.id IS NOT NULL ORDER BY d.id),
         array_agg(coalesce(k.enabled, false) ORDER BY d.id),
         array_agg(coalesce(k.max_attempts, default_max_attempts) ORDER BY d.id)
    INTO cids, cfound, cenabled, cmax
    FROM (SELECT DISTINCT x AS id FROM unnest(channel_ids) AS x) AS d
    LEFT JOIN messaging_channels AS k ON k.infrastructure_id = infrastructure_id AND k.id = d.id;
  bad := false = ANY (cfound) OR false = ANY (cenabled);
  IF NOT bad THEN
    INSERT INTO messaging_outbox (infrastructure_id, id, business_id, channel_id, payload, recipients,
           idempotency_key, max_attempts, created_by, created_at, status, attempts, available_at,
           notification_id, recipient_user_id, category_key, template_id, traceparent, tracestate, priority)
    SELECT infrastructure_id, x.id, business_id, x.channel_id, payload, jsonb_build_array(x.address),
           NULL, f.max_attempts, created_by, created_at, 'pending', 0, due,
           notification_id, x.recipient_user_id, category_key, x.template_id, traceparent, tracestate,
           coalesce(priority, 1)
      FROM unnest(ids, channel_ids, recipient_user_ids, addresses, template_ids)
             WITH ORDINALITY AS x (id, channel_id, recipient_user_id, address, template_id, ord)
      JOIN unnest(cids, cmax) AS f (id, max_attempts) ON f.id = x.channel_id
     ORDER BY x.ord;
  END IF;
  RETURN QUERY
  SELECT f.id,
         CASE WHEN NOT f.found THEN 'channel_missing'
              WHEN NOT f.enabled THEN 'channel_disabled'
              WHEN bad THEN 'not_written'
              ELSE 'created' END,
         f.max_attempts, due
    FROM unnest(cids, cfound, cenabled, cmax) AS f (id, found, enabled, max_attempts);
END
$fn$;

REVOKE ALL ON FUNCTION messaging_enqueue_fanout(text, uuid, uuid, jsonb, uuid, timestamptz, timestamptz, bigint,
  int, smallint, text, text, uuid, text, uuid[], uuid[], uuid[], text[], uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION messaging_enqueue_fanout(text, uuid, uuid, jsonb, uuid, timestamptz, timestamptz, bigint,
  int, smallint, text, text, uuid, text, uuid[], uuid[], uuid[], text[], uuid[]) TO messaging_app;
