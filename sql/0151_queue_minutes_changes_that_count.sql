-- messaging 0151: the rollup's update trigger writes only what counts.
--
-- 0120's messaging_queue_minutes_changed() took every status change other than between
-- pending and processing, so a provider receipt (processed -> confirmed or bounced, 0140)
-- upserted a row of zeros into the tenant's minute: a write per receipt, and a minute row for
-- a tenant with nothing else in it. A changed row counts when it is delivered (processed),
-- dead, or opens or closes (moves into or out of pending and processing); only those are
-- taken now. The counts are the same.
CREATE OR REPLACE FUNCTION messaging_queue_minutes_changed() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path FROM CURRENT
AS $fn$
DECLARE
  counts jsonb;
BEGIN
  SELECT jsonb_agg(jsonb_build_object('infrastructure_id', t.infrastructure_id, 'enqueued', 0,
           'delivered', t.delivered, 'failed_attempts', 0, 'dead', t.dead, 'closed', t.closed,
           'reopened', t.reopened))
    INTO counts
    FROM (SELECT n.infrastructure_id,
                 count(*) FILTER (WHERE n.status = 'processed')::int AS delivered,
                 count(*) FILTER (WHERE n.status = 'dead')::int AS dead,
                 count(*) FILTER (WHERE o.status IN ('pending', 'processing')
                                    AND n.status NOT IN ('pending', 'processing'))::int AS closed,
                 count(*) FILTER (WHERE o.status NOT IN ('pending', 'processing')
                                    AND n.status IN ('pending', 'processing'))::int AS reopened
            FROM after AS n
            JOIN before AS o ON o.infrastructure_id = n.infrastructure_id AND o.id = n.id
           WHERE n.status IS DISTINCT FROM o.status
             AND (n.status IN ('processed', 'dead')
                  OR (o.status IN ('pending', 'processing')) <> (n.status IN ('pending', 'processing')))
           GROUP BY n.infrastructure_id) AS t;
  IF counts IS NOT NULL THEN
    PERFORM messaging_queue_minutes_add(counts);
  END IF;
  RETURN NULL;
END
$fn$;
REVOKE ALL ON FUNCTION messaging_queue_minutes_changed() FROM PUBLIC;
