-- messaging 0140: provider receipts (docs/live.md, "Provider receipts").
--
--   status 'confirmed'   a delivered message the provider reports reached its recipient
--   status 'bounced'     a delivered message the provider reports did not reach it
--   processed -> confirmed | bounced, both final; retention prunes them like other settled rows
--   events               'message.confirmed' and 'message.bounced', in the receipt's transaction
--   lookup               a receipt names the message by the provider's id, which the delivered
--                        attempt recorded (provider_message_id, sql/0006)
--
-- A receipt is applied by a service principal of the tenant named in the receipt's path, so
-- the outbox's and the attempts' policies decide what it can find and change: a receipt for
-- one tenant never sees another tenant's message, whatever provider id it carries.

-- The new states. NOT VALID then VALIDATE: every row satisfies the wider check already, and
-- validating takes no lock that blocks enqueues or claims.
ALTER TABLE messaging_outbox DROP CONSTRAINT messaging_outbox_status_check;
ALTER TABLE messaging_outbox ADD CONSTRAINT messaging_outbox_status_check
  CHECK (status IN ('pending', 'processing', 'processed', 'failed', 'dead', 'cancelled', 'confirmed', 'bounced'))
  NOT VALID;
ALTER TABLE messaging_outbox VALIDATE CONSTRAINT messaging_outbox_status_check;

-- The state machine of 0050, with the receipt edges.
CREATE OR REPLACE FUNCTION messaging_outbox_guard_transition() RETURNS trigger
  LANGUAGE plpgsql
AS $fn$
BEGIN
  IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
       (OLD.status = 'pending' AND NEW.status IN ('processing', 'cancelled'))
    OR (OLD.status = 'processing' AND NEW.status IN ('processed', 'failed', 'pending', 'dead', 'cancelled'))
    OR (OLD.status IN ('failed', 'dead') AND NEW.status = 'pending')
    OR (OLD.status = 'processed' AND NEW.status IN ('confirmed', 'bounced'))
  ) THEN
    RAISE EXCEPTION 'illegal transition % -> %', OLD.status, NEW.status USING ERRCODE = 'MSG01';
  END IF;
  RETURN NEW;
END
$fn$;
REVOKE ALL ON FUNCTION messaging_outbox_guard_transition() FROM PUBLIC;

-- Retention: confirmed and bounced rows are settled rows (settled_at is the delivery's).
DROP INDEX messaging_outbox_settled_idx;
CREATE INDEX messaging_outbox_settled_idx ON messaging_outbox (infrastructure_id, settled_at)
  WHERE status IN ('processed', 'failed', 'dead', 'cancelled', 'confirmed', 'bounced');
ALTER POLICY messaging_outbox_owner_prune ON messaging_outbox
  USING (status IN ('processed', 'failed', 'dead', 'cancelled', 'confirmed', 'bounced'));
ALTER POLICY messaging_outbox_owner_prune_select ON messaging_outbox
  USING (status IN ('processed', 'failed', 'dead', 'cancelled', 'confirmed', 'bounced'));

-- The receipt's events.
ALTER TABLE messaging_events DROP CONSTRAINT messaging_events_type_check;
ALTER TABLE messaging_events ADD CONSTRAINT messaging_events_type_check
  CHECK (type IN ('message.delivered', 'message.failed', 'message.dead', 'message.cancelled',
                  'notification.completed', 'recipient.skipped', 'message.confirmed', 'message.bounced'))
  NOT VALID;
ALTER TABLE messaging_events VALIDATE CONSTRAINT messaging_events_type_check;

-- A receipt finds its message by the provider's id within the tenant. Only delivered attempts
-- carry one a provider reports on, so failed attempts add nothing to the index; each delivered
-- attempt adds one entry (the price of finding a receipt's message without a scan).
CREATE INDEX messaging_delivery_attempts_provider_idx
  ON messaging_delivery_attempts (infrastructure_id, provider_message_id)
  WHERE outcome = 'delivered' AND provider_message_id IS NOT NULL;
