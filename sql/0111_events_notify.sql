-- messaging 0111: the live event stream's signal (docs/live.md, "GET /events/stream").
--
-- A statement that writes events NOTIFYs channel 'messaging_events' with each tenant id it
-- wrote for: one statement trigger over the transition table, so a settle batch of 100
-- events sends one signal per tenant, not 100 (and PostgreSQL folds identical payloads of
-- one transaction into one). Ids only: a listener reads the events through its own scoped
-- read, under the policies of 0110. The signal goes out at commit, so a rolled-back change
-- sends none.
CREATE FUNCTION messaging_events_notify() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path FROM CURRENT
AS $fn$
BEGIN
  PERFORM pg_notify('messaging_events', t.infrastructure_id::text)
     FROM (SELECT DISTINCT infrastructure_id FROM new_events) AS t;
  RETURN NULL;
END
$fn$;

CREATE TRIGGER messaging_events_notify AFTER INSERT ON messaging_events
  REFERENCING NEW TABLE AS new_events
  FOR EACH STATEMENT EXECUTE FUNCTION messaging_events_notify();

REVOKE ALL ON FUNCTION messaging_events_notify() FROM PUBLIC;
