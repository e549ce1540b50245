-- messaging 0120: the queue's per-minute rollup, for the console's charts.
--
-- Per tenant and minute of the database's clock (messaging_now(), 0010): messages
-- enqueued, delivered, failed attempts, dead, and what left the backlog (settled for good,
-- cancelled) or came back to it (redriven). The backlog at a minute's end is not stored:
-- a read counts the open messages now and takes them back through the later minutes'
-- opened minus closed (src/domain/queue-history.ts), so a quiet minute costs nothing.
--
-- Kept by statement-level triggers over the statements that already run: one upsert per
-- INSERT or UPDATE statement on the outbox (an enqueue's batch, a notification's fan-out,
-- a claim or settle batch, a cancel, a redrive) and per INSERT on the attempts, grouped by
-- tenant; never one per message. A statement that changes no counted state (a claim, a
-- renew, a release, a retry) writes nothing: its join finds no counted change.
--
-- slot spreads a minute's counters over 16 rows by the writing connection
-- (pg_backend_pid() % 16): an enqueue inside a host's long transaction holds its row's
-- lock until the host commits, and another connection adding to the same tenant's minute
-- then waits only when its process id falls in the same slot (1 in 16). A read sums the
-- slots: at most 16 x 120 small rows per tenant.
--
-- Retention (the owner's prune) removes minutes older than three hours; reads go back at
-- most two.
CREATE TABLE messaging_queue_minutes (
  infrastructure_id uuid        NOT NULL,
  minute            timestamptz NOT NULL CHECK (minute = date_trunc('minute', minute)),
  slot              smallint    NOT NULL CHECK (slot BETWEEN 0 AND 15),
  enqueued          integer     NOT NULL DEFAULT 0 CHECK (enqueued >= 0),
  delivered         integer     NOT NULL DEFAULT 0 CHECK (delivered >= 0),
  failed_attempts   integer     NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
  dead              integer     NOT NULL DEFAULT 0 CHECK (dead >= 0),
  closed            integer     NOT NULL DEFAULT 0 CHECK (closed >= 0),
  reopened          integer     NOT NULL DEFAULT 0 CHECK (reopened >= 0),
  CONSTRAINT messaging_queue_minutes_pkey PRIMARY KEY (infrastructure_id, minute, slot)
);

ALTER TABLE messaging_queue_minutes ENABLE ROW LEVEL SECURITY;
ALTER TABLE messaging_queue_minutes FORCE ROW LEVEL SECURITY;
REVOKE ALL ON messaging_queue_minutes FROM PUBLIC;

-- Operators read their tenant's minutes: infra_admin or service with an infrastructure-wide
-- grant (the figures cover every business of the infrastructure); members read none. The
-- fleet worker reads every tenant's (operators' views). No app role writes or deletes a
-- row: the triggers below write as the owner, retention deletes as the owner.
GRANT SELECT ON messaging_queue_minutes TO messaging_app;
CREATE POLICY messaging_queue_minutes_operators ON messaging_queue_minutes
  FOR SELECT TO messaging_app
  USING (tenant_can_access(infrastructure_id, NULL)
         AND (SELECT messaging_claims_role_in('infra_admin', 'service')));

GRANT SELECT ON messaging_queue_minutes TO messaging_worker;
CREATE POLICY messaging_queue_minutes_worker ON messaging_queue_minutes
  FOR SELECT TO messaging_worker USING (true);

-- The owner (the role applying this file): the triggers' writes and retention.
CREATE POLICY messaging_queue_minutes_owner ON messaging_queue_minutes
  FOR ALL TO CURRENT_USER USING (true) WITH CHECK (true);

-- Adds one statement's counts, a row per tenant, in tenant order (two statements lock a
-- minute's rows in one order). Only the owner may call it: the trigger functions below are
-- SECURITY DEFINER, so the row a statement of an app role adds to is written as the owner
-- and no app role needs a write grant on the rollup (a member's enqueue counts, yet a
-- member can neither read nor forge a figure).
CREATE FUNCTION messaging_queue_minutes_add(counts jsonb) RETURNS void
  LANGUAGE sql VOLATILE
  SET search_path FROM CURRENT
BEGIN ATOMIC
  INSERT INTO messaging_queue_minutes AS q
         (infrastructure_id, minute, slot, enqueued, delivered, failed_attempts, dead, closed, reopened)
  SELECT c.infrastructure_id, date_trunc('minute', messaging_now()), pg_backend_pid() % 16,
         c.enqueued, c.delivered, c.failed_attempts, c.dead, c.closed, c.reopened
    FROM jsonb_to_recordset(counts) AS c (infrastructure_id uuid, enqueued int, delivered int,
                                          failed_attempts int, dead int, closed int, reopened int)
   ORDER BY c.infrastructure_id
  ON CONFLICT ON CONSTRAINT messaging_queue_minutes_pkey DO UPDATE
     SET enqueued = q.enqueued + excluded.enqueued,
         delivered = q.delivered + excluded.delivered,
         failed_attempts = q.failed_attempts + excluded.failed_attempts,
         dead = q.dead + excluded.dead,
         closed = q.closed + excluded.closed,
         reopened = q.reopened + excluded.reopened;
END;
REVOKE ALL ON FUNCTION messaging_queue_minutes_add(jsonb) FROM PUBLIC;

-- New messages: every one is pending (the insert policy says so), so each one opens.
CREATE FUNCTION messaging_queue_minutes_enqueued() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path FROM CURRENT
AS $fn$
DECLARE
  counts jsonb;
BEGIN
  SELECT jsonb_agg(jsonb_build_object('infrastructure_id', a.infrastructure_id, 'enqueued', a.n,
           'delivered', 0, 'failed_attempts', 0, 'dead', 0, 'closed', 0, 'reopened', 0))
    INTO counts
    FROM (SELECT infrastructure_id, count(*)::int AS n FROM added GROUP BY infrastructure_id) AS a;
  IF counts IS NOT NULL THEN
    PERFORM messaging_queue_minutes_add(counts);
  END IF;
  RETURN NULL;
END
$fn$;

-- Changed messages: what a status change adds (open = pending or processing). A claim, a
-- retry, a release or a renew counts nothing and writes nothing.
CREATE FUNCTION messaging_queue_minutes_changed() RETURNS trigger
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
             AND NOT (o.status IN ('pending', 'processing') AND n.status IN ('pending', 'processing'))
           GROUP BY n.infrastructure_id) AS t;
  IF counts IS NOT NULL THEN
    PERFORM messaging_queue_minutes_add(counts);
  END IF;
  RETURN NULL;
END
$fn$;

-- Recorded attempts: those that did not deliver.
CREATE FUNCTION messaging_queue_minutes_attempted() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path FROM CURRENT
AS $fn$
DECLARE
  counts jsonb;
BEGIN
  SELECT jsonb_agg(jsonb_build_object('infrastructure_id', a.infrastructure_id, 'enqueued', 0,
           'delivered', 0, 'failed_attempts', a.n, 'dead', 0, 'closed', 0, 'reopened', 0))
    INTO counts
    FROM (SELECT infrastructure_id, count(*)::int AS n FROM added
           WHERE outcome <> 'delivered' GROUP BY infrastructure_id) AS a;
  IF counts IS NOT NULL THEN
    PERFORM messaging_queue_minutes_add(counts);
  END IF;
  RETURN NULL;
END
$fn$;

REVOKE ALL ON FUNCTION messaging_queue_minutes_enqueued(), messaging_queue_minutes_changed(),
  messaging_queue_minutes_attempted() FROM PUBLIC;

CREATE TRIGGER messaging_outbox_queue_minutes_insert AFTER INSERT ON messaging_outbox
  REFERENCING NEW TABLE AS added
  FOR EACH STATEMENT EXECUTE FUNCTION messaging_queue_minutes_enqueued();
CREATE TRIGGER messaging_outbox_queue_minutes_update AFTER UPDATE ON messaging_outbox
  REFERENCING OLD TABLE AS before NEW TABLE AS after
  FOR EACH STATEMENT EXECUTE FUNCTION messaging_queue_minutes_changed();
CREATE TRIGGER messaging_delivery_attempts_queue_minutes AFTER INSERT ON messaging_delivery_attempts
  REFERENCING NEW TABLE AS added
  FOR EACH STATEMENT EXECUTE FUNCTION messaging_queue_minutes_attempted();
