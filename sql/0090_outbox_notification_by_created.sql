-- messaging 0090: a notification's messages are found through the created index; the
-- notification index of 0021 goes.
--
-- A notify writes its notification and every one of its messages with one created_at (the
-- notify's instant, taken once: src/application/notify-service.ts), in one unit of work,
-- and nothing changes created_at afterwards (no column privilege allows it). So the
-- messages of notification N in tenant T are exactly the rows of
-- messaging_outbox_created_idx's range (T, N's created_at) whose notification_id is N: the
-- status, its counts and a cancel by notification read that range (the notification's row
-- gives the instant; test/postgres/plan.test.ts holds them to the index) instead of a
-- range of messaging_outbox_notification_idx, which held one entry per message of every
-- notification for that alone.
--
-- Measured on G14 (a notify to 10,000 recipients x 2 channel types, 20,000 rows in chunks
-- of 5,000, as messaging_app, rolled back; the backend's CPU time, 3 runs each, 2 cores
-- shared): 1,330-1,540 ms with the index, 1,090-1,210 ms without it (-18%). Each message of
-- a notify now enters 5 indexes (primary key, created, ready, channel, recipient), a plain
-- message 4 as before.
--
-- Rows written before this file under an older notify are held to the same rule here: if
-- one had another instant than its notification, status would no longer list it, so the
-- migration refuses to run rather than hide it.
DO $do$
BEGIN
  IF EXISTS (SELECT FROM messaging_outbox AS o
               JOIN messaging_notifications AS n
                 ON n.infrastructure_id = o.infrastructure_id AND n.id = o.notification_id
              WHERE o.created_at <> n.created_at) THEN
    RAISE EXCEPTION 'messaging 0090: a message of a notification has another created_at than its notification'
      USING HINT = 'every message of a notification must carry the notification''s created_at';
  END IF;
END
$do$;

DROP INDEX messaging_outbox_notification_idx;
