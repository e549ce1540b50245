-- messaging 0005: append-only guards and the wake-up signal.

-- TRUNCATE ignores row-level security and is not a DELETE: refuse it outright, for the
-- owner too (an operator who really means it disables the trigger first, on purpose).
CREATE OR REPLACE FUNCTION messaging_refuse_truncate() RETURNS trigger
  LANGUAGE plpgsql
AS $fn$
BEGIN
  RAISE EXCEPTION '% is append-only: TRUNCATE is refused', TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END
$fn$;

CREATE TRIGGER messaging_outbox_no_truncate BEFORE TRUNCATE ON messaging_outbox
  FOR EACH STATEMENT EXECUTE FUNCTION messaging_refuse_truncate();
CREATE TRIGGER messaging_audit_log_no_truncate BEFORE TRUNCATE ON messaging_audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION messaging_refuse_truncate();

-- The delivery state machine, kept by the database for every writer (the fleet worker and
-- the owner included): pending -> processing; processing -> processed | failed | pending
-- | dead | processing (a lapsed lease claimed again); failed | dead -> pending (redrive).
-- processed is final. SQLSTATE MSG01 maps to the domain's IllegalTransitionError.
CREATE OR REPLACE FUNCTION messaging_outbox_guard_transition() RETURNS trigger
  LANGUAGE plpgsql
AS $fn$
BEGIN
  IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
       (OLD.status = 'pending' AND NEW.status = 'processing')
    OR (OLD.status = 'processing' AND NEW.status IN ('processed', 'failed', 'pending', 'dead'))
    OR (OLD.status IN ('failed', 'dead') AND NEW.status = 'pending')
  ) THEN
    RAISE EXCEPTION 'illegal transition % -> %', OLD.status, NEW.status USING ERRCODE = 'MSG01';
  END IF;
  RETURN NEW;
END
$fn$;

CREATE TRIGGER messaging_outbox_guard_transition BEFORE UPDATE OF status ON messaging_outbox
  FOR EACH ROW EXECUTE FUNCTION messaging_outbox_guard_transition();

-- The wake-up signal for idle workers: NOTIFY on channel 'messaging_outbox', empty payload.
--
-- A NOTIFY in every enqueue transaction serialises commits (the notification queue is
-- appended under one lock at commit: about 9,500 single-row inserts/s without, 3,400/s
-- with, on 2 cores). So the signal is throttled: one statement-level trigger per INSERT
-- statement bumps a single throttle row only when the last wake-up is older than 100 ms,
-- and only when no other transaction holds that row right now (SKIP LOCKED): an enqueue
-- never waits for another, and at most about ten transactions a second carry a NOTIFY.
-- Listeners treat a wake-up as "claim now, and once more after 100 ms" (the trailing edge
-- covers enqueues the throttle swallowed), with polling as the fallback for anything else
-- (a notifying transaction that rolled back, a long transaction committing late).
CREATE OR REPLACE FUNCTION messaging_outbox_wakeup() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path FROM CURRENT
AS $fn$
BEGIN
  UPDATE messaging_wakeup AS w SET notified_at = clock_timestamp()
   WHERE w.id = (SELECT t.id FROM messaging_wakeup AS t
                  WHERE t.id = 1 AND t.notified_at < clock_timestamp() - interval '100 milliseconds'
                  FOR UPDATE SKIP LOCKED);
  IF FOUND THEN
    PERFORM pg_notify('messaging_outbox', '');
  END IF;
  RETURN NULL;
END
$fn$;

CREATE TRIGGER messaging_outbox_wakeup AFTER INSERT ON messaging_outbox
  FOR EACH STATEMENT EXECUTE FUNCTION messaging_outbox_wakeup();

-- Trigger functions run whatever the caller's EXECUTE rights; nobody needs to call them.
REVOKE ALL ON FUNCTION messaging_refuse_truncate(), messaging_outbox_guard_transition(),
  messaging_outbox_wakeup() FROM PUBLIC;
