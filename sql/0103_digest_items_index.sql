-- messaging 0103: a notification's digests found by an index, not by reading the tenant's
-- digest rows.
--
--   messaging_digest_items   one row per item of a digest: (infrastructure_id,
--                            notification_id) -> digest_id. notification_id is the item's
--                            id: a notification, or the id drawn for a plain enqueue folded
--                            into a channel's digest. Written in the statement that adds the
--                            item; removed with its digest (ON DELETE CASCADE).
--
-- getNotification's `digested` and a cancel's withdraw read a notification's digests. Before
-- this file they tested `items @> [{"notificationId": ...}]` on every digest row of the
-- tenant (0100): a scan that grows with the tenant's digests, open and closed, until
-- retention. Now they read the few index entries of the notification, then those digests by
-- their primary key. The same RLS as the digests (0100): the notify roles of the tenant write
-- and read them, members none, the fleet worker reads.
CREATE TABLE messaging_digest_items (
  infrastructure_id uuid NOT NULL,
  notification_id   uuid NOT NULL,
  digest_id         uuid NOT NULL,
  business_id       uuid,
  CONSTRAINT messaging_digest_items_pkey PRIMARY KEY (infrastructure_id, notification_id, digest_id),
  CONSTRAINT messaging_digest_items_digest_fkey FOREIGN KEY (infrastructure_id, digest_id)
    REFERENCES messaging_digests (infrastructure_id, id) ON DELETE CASCADE
);
-- The foreign key's own lookups (a digest's delete cascades here).
CREATE INDEX messaging_digest_items_digest_idx ON messaging_digest_items (infrastructure_id, digest_id);

INSERT INTO messaging_digest_items (infrastructure_id, notification_id, digest_id, business_id)
  SELECT DISTINCT d.infrastructure_id, (e ->> 'notificationId')::uuid, d.id, d.business_id
    FROM messaging_digests AS d, jsonb_array_elements(d.items) AS e
   WHERE (e ->> 'notificationId') ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';

ALTER TABLE messaging_digest_items ENABLE ROW LEVEL SECURITY;
ALTER TABLE messaging_digest_items FORCE ROW LEVEL SECURITY;
REVOKE ALL ON messaging_digest_items FROM PUBLIC;

GRANT SELECT, INSERT ON messaging_digest_items TO messaging_app;
CREATE POLICY messaging_digest_items_notify ON messaging_digest_items
  FOR ALL TO messaging_app
  USING (tenant_can_access(infrastructure_id, business_id)
         AND (SELECT messaging_claims_role_in('infra_admin', 'service')))
  WITH CHECK (tenant_can_access(infrastructure_id, business_id)
              AND (SELECT messaging_claims_role_in('infra_admin', 'service')));

GRANT SELECT ON messaging_digest_items TO messaging_worker;
CREATE POLICY messaging_digest_items_worker_select ON messaging_digest_items
  FOR SELECT TO messaging_worker USING (true);

-- Retention removes digests as the owner (0101); their items go by the cascade.
CREATE POLICY messaging_digest_items_owner_prune_select ON messaging_digest_items
  FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY messaging_digest_items_owner_prune ON messaging_digest_items
  FOR DELETE TO CURRENT_USER USING (true);

CREATE TRIGGER messaging_digest_items_no_truncate BEFORE TRUNCATE ON messaging_digest_items
  FOR EACH STATEMENT EXECUTE FUNCTION messaging_refuse_truncate();
