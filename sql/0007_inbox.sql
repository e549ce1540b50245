-- messaging 0007: the in-app inbox.
--
-- One row per (message, user): the in-app transport writes an entry for each recipient,
-- and a redelivery of the same message (at-least-once) adds nothing, by the unique key.
-- The entry keeps its own copy of the payload, so it outlives the outbox row (retention
-- prunes delivered messages; a user's inbox is not pruned with them): its foreign key is
-- to the channel, and message_id is a plain column.
CREATE TABLE messaging_inbox (
  infrastructure_id uuid        NOT NULL,
  id                uuid        NOT NULL,
  business_id       uuid,
  user_id           uuid        NOT NULL,
  channel_id        uuid        NOT NULL,
  message_id        uuid        NOT NULL,
  payload           jsonb       NOT NULL,
  created_at        timestamptz NOT NULL,
  seen_at           timestamptz,
  read_at           timestamptz,
  archived_at       timestamptz,
  CONSTRAINT messaging_inbox_pkey PRIMARY KEY (infrastructure_id, id),
  CONSTRAINT messaging_inbox_message_user_unique UNIQUE (infrastructure_id, message_id, user_id),
  CONSTRAINT messaging_inbox_channel_fkey FOREIGN KEY (infrastructure_id, channel_id)
    REFERENCES messaging_channels (infrastructure_id, id)
);

-- A user's inbox, newest first (list pages walk it backwards from a cursor), and the
-- unread count (a partial index of unread, unarchived entries).
CREATE INDEX messaging_inbox_user_idx ON messaging_inbox (infrastructure_id, user_id, created_at DESC, id DESC);
CREATE INDEX messaging_inbox_unread_idx ON messaging_inbox (infrastructure_id, user_id)
  WHERE read_at IS NULL AND archived_at IS NULL;

ALTER TABLE messaging_inbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE messaging_inbox FORCE ROW LEVEL SECURITY;
REVOKE ALL ON messaging_inbox FROM PUBLIC;

-- A user reads and marks only their own entries (user_id = the claims' sub), within their
-- grants (tenant_can_access: a business grant sees that business's entries only). Only the
-- marks change (column privileges). Entries are written by role service, for a message of
-- the same tenant, business and channel (the sub-select runs under the outbox's policies).
-- Nobody deletes through the app roles.
GRANT SELECT, INSERT ON messaging_inbox TO messaging_app;
GRANT UPDATE (seen_at, read_at, archived_at) ON messaging_inbox TO messaging_app;

CREATE POLICY messaging_inbox_select ON messaging_inbox
  FOR SELECT TO messaging_app
  USING (tenant_can_access(infrastructure_id, business_id) AND user_id = (SELECT messaging_claims_sub()));

CREATE POLICY messaging_inbox_update ON messaging_inbox
  FOR UPDATE TO messaging_app
  USING (tenant_can_access(infrastructure_id, business_id) AND user_id = (SELECT messaging_claims_sub()))
  WITH CHECK (tenant_can_access(infrastructure_id, business_id) AND user_id = (SELECT messaging_claims_sub()));

CREATE POLICY messaging_inbox_insert ON messaging_inbox
  FOR INSERT TO messaging_app
  WITH CHECK (tenant_can_access(infrastructure_id, business_id)
              AND (SELECT messaging_claims_role_in('service'))
              AND seen_at IS NULL AND read_at IS NULL AND archived_at IS NULL
              AND EXISTS (SELECT FROM messaging_outbox AS o
                           WHERE o.infrastructure_id = messaging_inbox.infrastructure_id
                             AND o.id = messaging_inbox.message_id
                             AND o.channel_id = messaging_inbox.channel_id
                             AND o.business_id IS NOT DISTINCT FROM messaging_inbox.business_id));

-- The fleet worker delivers into every tenant's inboxes, on the same terms; it reads none.
GRANT INSERT ON messaging_inbox TO messaging_worker;

CREATE POLICY messaging_inbox_worker_insert ON messaging_inbox
  FOR INSERT TO messaging_worker
  WITH CHECK (seen_at IS NULL AND read_at IS NULL AND archived_at IS NULL
              AND EXISTS (SELECT FROM messaging_outbox AS o
                           WHERE o.infrastructure_id = messaging_inbox.infrastructure_id
                             AND o.id = messaging_inbox.message_id
                             AND o.channel_id = messaging_inbox.channel_id
                             AND o.business_id IS NOT DISTINCT FROM messaging_inbox.business_id));
