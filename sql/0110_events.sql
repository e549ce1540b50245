-- messaging 0110: delivery events to the host (docs/live.md, "Delivery events to the host").
-- Each tenant's log of what happened to its messages, written in the transaction of the
-- change it tells of (a settle, a cancel, a notify's skips).
--
-- The place of an event is (tx, seq): tx the writing transaction's id (pg_current_xact_id,
-- the top-level one, so a savepoint changes nothing), seq an identity that breaks ties
-- within it. Sequence values are drawn before commit, so a later-committing transaction can
-- hold smaller ones: a reader paging "after seq S" could step past an event that commits
-- after its read. A reader instead lists only events of transactions older than its
-- snapshot's xmin (pg_snapshot_xmin(pg_current_snapshot())): every such transaction has
-- ended, so no event can ever again appear at or before a place it was given, and every
-- transaction still open (or not yet begun) writes at a larger tx than any place handed out.
-- The price: an event shows once every transaction older than its own has ended (one long
-- transaction anywhere on the server delays every reader; none loses anything).
CREATE TABLE messaging_events (
  infrastructure_id uuid        NOT NULL,
  id                uuid        NOT NULL,
  tx                xid8        NOT NULL DEFAULT pg_current_xact_id(),
  seq               bigint      GENERATED ALWAYS AS IDENTITY,
  business_id       uuid,
  type              text        NOT NULL CHECK (type IN ('message.delivered', 'message.failed', 'message.dead',
                                  'message.cancelled', 'notification.completed', 'recipient.skipped')),
  message_id        uuid,
  notification_id   uuid,
  channel_id        uuid,
  data              jsonb       NOT NULL CHECK (jsonb_typeof(data) = 'object'),
  occurred_at       timestamptz NOT NULL DEFAULT messaging_now(),
  CONSTRAINT messaging_events_pkey PRIMARY KEY (infrastructure_id, id)
);
CREATE INDEX messaging_events_cursor_idx ON messaging_events (infrastructure_id, tx, seq);
-- Retention removes the oldest first, every tenant at once.
CREATE INDEX messaging_events_occurred_idx ON messaging_events (occurred_at);

ALTER TABLE messaging_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE messaging_events FORCE ROW LEVEL SECURITY;
REVOKE ALL ON messaging_events FROM PUBLIC;

-- A tenant's principals write events of their own calls (a cancel, a notify, a host's ack)
-- into a tenant they reach; its admins and services read them. Nobody updates or deletes one
-- (retention runs as the owner).
GRANT SELECT, INSERT (infrastructure_id, id, business_id, type, message_id, notification_id, channel_id, data)
  ON messaging_events TO messaging_app;
CREATE POLICY messaging_events_insert ON messaging_events
  FOR INSERT TO messaging_app
  WITH CHECK (tenant_can_access_infrastructure(infrastructure_id));
CREATE POLICY messaging_events_select ON messaging_events
  FOR SELECT TO messaging_app
  USING (tenant_can_access_infrastructure(infrastructure_id)
         AND (SELECT messaging_claims_role_in('infra_admin', 'service')));

-- The fleet worker settles every tenant's messages, and writes their events.
GRANT INSERT (infrastructure_id, id, business_id, type, message_id, notification_id, channel_id, data)
  ON messaging_events TO messaging_worker;
CREATE POLICY messaging_events_worker_insert ON messaging_events
  FOR INSERT TO messaging_worker WITH CHECK (true);
