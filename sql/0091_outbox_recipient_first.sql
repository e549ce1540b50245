-- messaging 0091: a user's notifications are found from one recipient-index entry per
-- recipient of a notification's fan-out, not one per message; the fan-out inserts in
-- array order, without a join and a sort.
--
-- messaging_outbox_recipient_idx (0021) answers "the notifications of user U" (the list by
-- recipient): it needs a user's notifications, not each of their messages, yet held an
-- entry per message, two per recipient of a notify over two channel types (G14 in
-- BENCHMARKS.md: 20,000 entries for 10,000 recipients). recipient_first marks the message
-- that stands for its recipient in the index: true for the first message of each recipient
-- in a call of messaging_enqueue_fanout, false for the others, null where nothing decided
-- (a message written by messaging_enqueue_arrays, which a notify uses for a lone message or
-- one that is no fan-out, and every row written before this file). The index keeps the
-- rows that are not false, so every recipient of every notification keeps at least one
-- entry: a fan-out's first message of a recipient is true whatever order its calls take.
-- The column is written with the message and never changed (no UPDATE privilege covers it).
--
-- Measured on G14's fan-out (20,000 rows in chunks of 5,000 as messaging_app, rolled back;
-- the backend's CPU time, 3 runs each, 2 cores shared), without 0090's index already: the
-- recipient index cost 1,090-1,300 ms against 870-920 ms without it, about a fifth of the
-- insert; half its entries go.
ALTER TABLE messaging_outbox
  ADD COLUMN recipient_first boolean,
  ADD CONSTRAINT messaging_outbox_recipient_first_check CHECK (recipient_first IS NULL OR notification_id IS NOT NULL);

DROP INDEX messaging_outbox_recipient_idx;
CREATE INDEX messaging_outbox_recipient_idx
  ON messaging_outbox (infrastructure_id, recipient_user_id, created_at)
  WHERE notification_id IS NOT NULL AND recipient_first IS NOT FALSE;

-- messaging_enqueue_fanout, second form: 0072's, and
-- - recipient_first: true where the message's recipient differs from the previous one's in
--   the arrays (notify sends a recipient's messages one after the other, so one per
--   recipient; any other order only marks more rows true);
-- - max attempts picked from the resolved channels by position instead of a hash join,
--   and no ORDER BY: the rows are inserted in the arrays' order as the unnest yields them
--   (the join's output needed a sort, which spilled to disk for 20,000 rows at the
--   default work_mem);
-- - the generic plan of 0071, as the per-message enqueue: a custom plan is planned again
--   on each of the first five calls of every connection.
-- Everything else (rules, answer, errors) is 0072's.
CREATE OR REPLACE FUNCTION messaging_enqueue_fanout(
  claims text,
  infrastructure_id uuid, business_id uuid, payload jsonb, created_by uuid, created_at timestamptz,
  due_at timestamptz, due_after_ms bigint, default_max_attempts int, priority smallint,
  traceparent text, tracestate text, notification_id uuid, category_key text,
  ids uuid[], channel_ids uuid[], recipient_user_ids uuid[], addresses text[], template_ids uuid[])
  RETURNS TABLE (channel_id uuid, outcome text, max_attempts int, available_at timestamptz)
  LANGUAGE plpgsql VOLATILE
  SET search_path FROM CURRENT
  SET plan_cache_mode = force_generic_plan
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
           notification_id, recipient_user_id, category_key, template_id, traceparent, tracestate, priority,
           recipient_first)
    SELECT infrastructure_id, x.id, business_id, x.channel_id, payload, jsonb_build_array(x.address),
           NULL, cmax[array_position(cids, x.channel_id)], created_by, created_at, 'pending', 0, due,
           notification_id, x.recipient_user_id, category_key, x.template_id, traceparent, tracestate,
           coalesce(priority, 1),
           x.recipient_user_id IS DISTINCT FROM recipient_user_ids[x.ord::int - 1]
      FROM unnest(ids, channel_ids, recipient_user_ids, addresses, template_ids)
             WITH ORDINALITY AS x (id, channel_id, recipient_user_id, address, template_id, ord);
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
