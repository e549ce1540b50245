-- messaging 0112: the event signal only when some process follows events.
--
-- A NOTIFY takes PostgreSQL's notification queue lock at commit, for every settle batch:
-- G3 (50,000 messages drained by 4 claimers on 2 cores) fell from 1,631-1,845 msgs/s to
-- 1,219-1,531 with the trigger of 0111 sending one per batch, and came back to 1,652
-- without it. Event streams are rare next to settles, so the trigger first looks whether
-- any process holds an event feed's listening connection (application_name
-- 'messaging_event_feed', which pg_stat_activity shows to every role) on this database,
-- and signals only then. A feed that connects while a settle is between that look and its
-- commit misses that one signal; its streams read from their cursor on the tenant's next
-- signal (or their own recheck), so nothing is lost, only later.
CREATE OR REPLACE FUNCTION messaging_events_notify() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path FROM CURRENT
AS $fn$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_stat_activity AS a
              WHERE a.application_name = 'messaging_event_feed' AND a.datname = current_database()) THEN
    PERFORM pg_notify('messaging_events', t.infrastructure_id::text)
       FROM (SELECT DISTINCT infrastructure_id FROM new_events) AS t;
  END IF;
  RETURN NULL;
END
$fn$;
