-- messaging 0102: digests of a channel, for plain enqueues (docs/notify.md, "Digests").
--
--   messaging_channels.config.digest  {"windowSeconds", "maxItems", "key"} (validated by the
--                                     module as a category's digest); absent or null: none
--   messaging_digests                 a digest is now a category's (user_id and category_key,
--                                     as in 0100) or a channel's (destination: the plain
--                                     enqueues' recipient list as one JSON text), never both
--
-- A channel's digest keeps 0100's rules: each change is one statement on the digest's row,
-- the open digest of a group is unique (a second partial index for the channel's groups,
-- keyed on the destination's md5: a recipient list may be longer than a btree entry), and
-- its delivery is an ordinary outbox message with the digest's id. The same RLS policies
-- hold (tenant_can_access on infrastructure_id and business_id, infra_admin or service).
ALTER TABLE messaging_digests
  ALTER COLUMN user_id DROP NOT NULL,
  ALTER COLUMN category_key DROP NOT NULL,
  ADD COLUMN destination text,
  ADD CONSTRAINT messaging_digests_group_check CHECK (
    (user_id IS NOT NULL AND category_key IS NOT NULL AND destination IS NULL)
    OR (user_id IS NULL AND category_key IS NULL AND destination IS NOT NULL));
CREATE UNIQUE INDEX messaging_digests_open_destination_idx
  ON messaging_digests (infrastructure_id, channel_id, md5(destination), digest_key,
                        coalesce(business_id, infrastructure_id))
  WHERE closed_at IS NULL AND destination IS NOT NULL;

-- messaging_enqueue_arrays, fifth form: 0071's (ordering keys), and one more outcome,
-- 'channel_digests': a plain message (no notification, and not a digest's delivery, whose
-- payload is exactly {"digestId": its own id}) on a channel whose config has a digest. Like
-- a missing or disabled channel it writes nothing of the call, and the caller folds the
-- message into the channel's digest in a unit of work of its own. An enqueue on any other
-- channel sends, reads and writes what 0071's did: the channel row is read already, so the
-- check costs one jsonb lookup per message. Same argument list: grants stay; the generic
-- plan of 0071 is set with it.
CREATE OR REPLACE FUNCTION messaging_enqueue_arrays(
  claims text,
  infrastructure_ids uuid[], ids uuid[], business_ids uuid[], channel_ids uuid[], channel_keys text[],
  payloads jsonb[], recipient_lists jsonb[], idempotency_keys text[], default_max_attempts int[],
  created_bys uuid[], created_ats timestamptz[], available_ats timestamptz[], available_after_ms bigint[],
  notification_ids uuid[], recipient_user_ids uuid[], category_keys text[], template_ids uuid[],
  audit_ids uuid[], audit_actor_ids uuid[], audit_actor_roles text[], audit_actions text[],
  audit_details jsonb[], audit_ats timestamptz[],
  traceparents text[] DEFAULT NULL, tracestates text[] DEFAULT NULL, priorities smallint[] DEFAULT NULL,
  ordering_keys text[] DEFAULT NULL)
  RETURNS TABLE (ord int, outcome text, channel_id uuid, max_attempts int, available_at timestamptz,
                 existing jsonb)
  LANGUAGE plpgsql VOLATILE
  SET search_path FROM CURRENT
AS $fn$
#variable_conflict use_column
DECLARE
  n int := coalesce(cardinality(ids), 0);
  plan_mode text;
BEGIN
  IF n = 0 THEN
    RETURN;
  END IF;
  IF n = ALL (ARRAY[cardinality(infrastructure_ids), cardinality(business_ids), cardinality(channel_ids),
      cardinality(channel_keys), cardinality(payloads), cardinality(recipient_lists),
      cardinality(idempotency_keys), cardinality(default_max_attempts), cardinality(created_bys),
      cardinality(created_ats), cardinality(available_ats), cardinality(available_after_ms),
      cardinality(notification_ids), cardinality(recipient_user_ids), cardinality(category_keys),
      cardinality(template_ids), cardinality(audit_ids), cardinality(audit_actor_ids),
      cardinality(audit_actor_roles), cardinality(audit_actions), cardinality(audit_details),
      cardinality(audit_ats)]) IS NOT TRUE
     OR (traceparents IS NOT NULL AND cardinality(traceparents) <> n)
     OR (tracestates IS NOT NULL AND cardinality(tracestates) <> n)
     OR (priorities IS NOT NULL AND cardinality(priorities) <> n)
     OR (ordering_keys IS NOT NULL AND cardinality(ordering_keys) <> n) THEN
    RAISE EXCEPTION 'messaging_enqueue_arrays: every array needs % elements', n USING ERRCODE = '22023';
  END IF;
  PERFORM set_config('messaging.claims', claims, true);
  -- One message: the statement's generic plan, kept per connection. Left to itself the
  -- plan cache planned it again on every call (a custom plan knows the arrays' lengths, a
  -- generic one guesses 100 rows per unnest and so always looked dearer): about 5 of the
  -- 8.6 ms one enqueue took on the server. A batch keeps its custom plan: planned once
  -- for its 1,000 messages, its joins sized for them. The mode is put back at once, so the
  -- caller's transaction goes on with its own.
  IF n = 1 THEN
    plan_mode := current_setting('plan_cache_mode');
    PERFORM set_config('plan_cache_mode', 'force_generic_plan', true);
  END IF;
  RETURN QUERY
  WITH m AS (
    SELECT (x.ord - 1)::int AS ord, x.infrastructure_id, x.id, x.business_id, x.channel_id, x.channel_key,
           x.payload, x.recipients, x.idempotency_key, x.default_max_attempts, x.created_by, x.created_at,
           coalesce(x.available_at,
                    messaging_now() + greatest(coalesce(x.available_after_ms, 0), 0) * interval '1 millisecond')
             AS available_at,
           x.notification_id, x.recipient_user_id, x.category_key, x.template_id,
           x.audit_id, x.audit_actor_id, x.audit_actor_role, x.audit_action, x.audit_details, x.audit_at,
           x.traceparent, x.tracestate, coalesce(x.priority, 1) AS priority, x.ordering_key,
           -- Drawn here, once per keyed message in the call's order (m is materialised:
           -- it is read three times and holds a volatile call); nothing for the others.
           CASE WHEN x.ordering_key IS NOT NULL THEN nextval('messaging_outbox_ordering_seq') END AS ordering_seq
      FROM unnest(infrastructure_ids, ids, business_ids, channel_ids, channel_keys, payloads, recipient_lists,
                  idempotency_keys, default_max_attempts, created_bys, created_ats, available_ats,
                  available_after_ms, notification_ids, recipient_user_ids, category_keys, template_ids,
                  audit_ids, audit_actor_ids, audit_actor_roles, audit_actions, audit_details, audit_ats,
                  traceparents, tracestates, priorities, ordering_keys)
             WITH ORDINALITY AS x (
               infrastructure_id, id, business_id, channel_id, channel_key, payload, recipients,
               idempotency_key, default_max_attempts, created_by, created_at, available_at,
               available_after_ms, notification_id, recipient_user_id, category_key, template_id,
               audit_id, audit_actor_id, audit_actor_role, audit_action, audit_details, audit_at,
               traceparent, tracestate, priority, ordering_key, ord)
  ),
  c AS (
    SELECT m.ord, ch.id AS channel_id, ch.enabled,
           coalesce(ch.max_attempts, m.default_max_attempts) AS max_attempts,
           -- A plain message (not a digest's own delivery) on a channel with a digest.
           coalesce(ch.digests, false) AND m.notification_id IS NULL
             AND m.payload IS DISTINCT FROM jsonb_build_object('digestId', m.id::text) AS digests
      FROM m
      LEFT JOIN LATERAL (
        (SELECT k.id, k.enabled, k.max_attempts, jsonb_typeof(k.config -> 'digest') = 'object' AS digests
           FROM messaging_channels AS k
          WHERE k.infrastructure_id = m.infrastructure_id AND k.id = m.channel_id)
        UNION ALL
        (SELECT k.id, k.enabled, k.max_attempts, jsonb_typeof(k.config -> 'digest') = 'object' AS digests
           FROM messaging_channels AS k
          WHERE m.channel_id IS NULL AND k.infrastructure_id = m.infrastructure_id AND k.channel_key = m.channel_key)
        LIMIT 1) AS ch ON true
  ),
  ins AS (
    INSERT INTO messaging_outbox AS o (infrastructure_id, id, business_id, channel_id, payload, recipients,
           idempotency_key, max_attempts, created_by, created_at, status, attempts, available_at,
           notification_id, recipient_user_id, category_key, template_id, traceparent, tracestate,
           priority, ordering_key, ordering_seq)
    SELECT m.infrastructure_id, m.id, m.business_id, c.channel_id, m.payload, m.recipients,
           m.idempotency_key, c.max_attempts, m.created_by, m.created_at, 'pending', 0, m.available_at,
           m.notification_id, m.recipient_user_id, m.category_key, m.template_id, m.traceparent, m.tracestate,
           m.priority, m.ordering_key, m.ordering_seq
      FROM m JOIN c ON c.ord = m.ord
     WHERE NOT EXISTS (SELECT FROM c AS bad WHERE bad.channel_id IS NULL OR NOT bad.enabled OR bad.digests)
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
              WHEN c.digests THEN 'channel_digests'
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
  IF n = 1 THEN
    PERFORM set_config('plan_cache_mode', plan_mode, true);
  END IF;
END
$fn$;

-- 0071's setting, for this form, once more: a replaced function keeps only the SET clauses it names.
ALTER FUNCTION messaging_enqueue_arrays(text, uuid[], uuid[], uuid[], uuid[], text[], jsonb[], jsonb[],
  text[], int[], uuid[], timestamptz[], timestamptz[], bigint[], uuid[], uuid[], text[], uuid[], uuid[], uuid[],
  text[], text[], jsonb[], timestamptz[], text[], text[], smallint[], text[]) SET plan_cache_mode = force_generic_plan;
