-- messaging 0073: the live inbox's signal.
--
-- Each new inbox entry NOTIFYs channel 'messaging_inbox' with ids only:
-- 'e:<infrastructure_id>:<user_id>:<entry_id>'. A mark of read or archived (the unread
-- count may move) NOTIFYs 'm:<infrastructure_id>:<user_id>', which PostgreSQL sends once
-- per transaction however many rows it marked (identical payloads of one transaction are
-- folded into one). Never a payload or a title: a listener learns which user's inbox
-- changed and reads the entry itself through that user's own connection, under the
-- policies of 0007. The notifications go out at commit, so a rolled-back delivery sends
-- none, and a listener that reads on a notification finds the entry committed.
--
-- One listening connection per process fans the notifications out in memory; a LISTEN
-- connection that dropped and came back tells its streams to look again from their cursor
-- (an entry's (created_at, id)), since notifications sent meanwhile are lost.
CREATE OR REPLACE FUNCTION messaging_inbox_notify_entry() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path FROM CURRENT
AS $fn$
BEGIN
  PERFORM pg_notify('messaging_inbox', 'e:' || NEW.infrastructure_id || ':' || NEW.user_id || ':' || NEW.id);
  RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION messaging_inbox_notify_mark() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path FROM CURRENT
AS $fn$
BEGIN
  PERFORM pg_notify('messaging_inbox', 'm:' || NEW.infrastructure_id || ':' || NEW.user_id);
  RETURN NULL;
END
$fn$;

CREATE TRIGGER messaging_inbox_notify_entry AFTER INSERT ON messaging_inbox
  FOR EACH ROW EXECUTE FUNCTION messaging_inbox_notify_entry();

-- Seen does not change the unread count: only read and archived marks signal.
CREATE TRIGGER messaging_inbox_notify_mark AFTER UPDATE OF read_at, archived_at ON messaging_inbox
  FOR EACH ROW
  WHEN (OLD.read_at IS DISTINCT FROM NEW.read_at OR OLD.archived_at IS DISTINCT FROM NEW.archived_at)
  EXECUTE FUNCTION messaging_inbox_notify_mark();

-- Trigger functions run whatever the caller's EXECUTE rights; nobody needs to call them.
REVOKE ALL ON FUNCTION messaging_inbox_notify_entry(), messaging_inbox_notify_mark() FROM PUBLIC;
