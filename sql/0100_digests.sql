-- messaging 0100: digests of a category.
--
--   messaging_categories.digest      {"windowSeconds": s, "maxItems": n, "key": "path" | null} or null
--   messaging_categories.throttle    onExceed may now be 'digest' (fold the excess into the next digest)
--   messaging_digests                one row per digest: a recipient's messages of a category over
--                                    one channel (and one value of the digest key), collected in
--                                    `items` until the window ends or `max_items` are in it
--
-- Every change of a digest is one statement on its row: a notify appends under the row lock
-- only while the digest is open (closed_at null, closes_at after messaging_now(), not full);
-- closing sets closed_at under the same lock. So an item lands in exactly one digest, and a
-- closed digest's items never change. The digest's delivery is an ordinary outbox message
-- with the digest's id, due at closes_at: the claim path does not change. The database's
-- clock (messaging_now(), 0010) decides when a window ends.

ALTER TABLE messaging_categories
  ADD COLUMN digest jsonb CHECK (
    digest IS NULL OR (
      jsonb_typeof(digest) = 'object'
      AND jsonb_typeof(digest -> 'windowSeconds') = 'number'
      AND (digest ->> 'windowSeconds')::numeric BETWEEN 1 AND 604800
      AND jsonb_typeof(digest -> 'maxItems') = 'number'
      AND (digest ->> 'maxItems')::numeric BETWEEN 2 AND 1000
      AND jsonb_typeof(digest -> 'key') IN ('null', 'string')));
GRANT UPDATE (digest) ON messaging_categories TO messaging_app;

-- The wider action check. NOT VALID then VALIDATE: every row already satisfies it.
ALTER TABLE messaging_categories DROP CONSTRAINT messaging_categories_throttle_check;
ALTER TABLE messaging_categories ADD CONSTRAINT messaging_categories_throttle_check CHECK (
  throttle IS NULL OR (
    jsonb_typeof(throttle) = 'object'
    AND jsonb_typeof(throttle -> 'limit') = 'number'
    AND (throttle ->> 'limit')::numeric BETWEEN 1 AND 10000
    AND jsonb_typeof(throttle -> 'windowSeconds') = 'number'
    AND (throttle ->> 'windowSeconds')::numeric BETWEEN 1 AND 604800
    AND throttle ->> 'onExceed' IN ('skip', 'digest'))) NOT VALID;
ALTER TABLE messaging_categories VALIDATE CONSTRAINT messaging_categories_throttle_check;

-- No foreign key to the channel or the category: a digest outlives neither's edits, and its
-- delivery message holds the channel's foreign key already.
CREATE TABLE messaging_digests (
  infrastructure_id uuid        NOT NULL,
  id                uuid        NOT NULL,
  business_id       uuid,
  user_id           uuid        NOT NULL,
  category_key      text        COLLATE "C" NOT NULL,
  channel_id        uuid        NOT NULL,
  digest_key        text        COLLATE "C" NOT NULL CHECK (length(digest_key) <= 200),
  opened_at         timestamptz NOT NULL,
  closes_at         timestamptz NOT NULL,
  max_items         integer     NOT NULL CHECK (max_items BETWEEN 2 AND 1000),
  item_count        integer     NOT NULL CHECK (item_count BETWEEN 1 AND max_items),
  -- [{"notificationId": uuid, "at": epoch ms, "data": the notify's data}, ...] in enqueue order
  items             jsonb       NOT NULL CHECK (jsonb_typeof(items) = 'array'),
  closed_at         timestamptz,
  CONSTRAINT messaging_digests_pkey PRIMARY KEY (infrastructure_id, id)
);
-- One open digest per group; a business-less group keys on the infrastructure's id.
CREATE UNIQUE INDEX messaging_digests_open_idx
  ON messaging_digests (infrastructure_id, user_id, category_key, channel_id, digest_key,
                        coalesce(business_id, infrastructure_id))
  WHERE closed_at IS NULL;

ALTER TABLE messaging_digests ENABLE ROW LEVEL SECURITY;
ALTER TABLE messaging_digests FORCE ROW LEVEL SECURITY;
REVOKE ALL ON messaging_digests FROM PUBLIC;

-- Those who notify (infra_admin, service) open, add to and close the digests of the tenants
-- they reach; nobody deletes one through the app roles, and members see none (a digest
-- holds other notifications' data).
GRANT SELECT, INSERT, UPDATE (item_count, items, closed_at) ON messaging_digests TO messaging_app;
CREATE POLICY messaging_digests_notify ON messaging_digests
  FOR ALL TO messaging_app
  USING (tenant_can_access(infrastructure_id, business_id)
         AND (SELECT messaging_claims_role_in('infra_admin', 'service')))
  WITH CHECK (tenant_can_access(infrastructure_id, business_id)
              AND (SELECT messaging_claims_role_in('infra_admin', 'service')));

-- The fleet worker closes a digest when its delivery goes out, and reads its items.
GRANT SELECT, UPDATE (closed_at) ON messaging_digests TO messaging_worker;
CREATE POLICY messaging_digests_worker_select ON messaging_digests
  FOR SELECT TO messaging_worker USING (true);
CREATE POLICY messaging_digests_worker_close ON messaging_digests
  FOR UPDATE TO messaging_worker USING (true) WITH CHECK (true);

CREATE TRIGGER messaging_digests_no_truncate BEFORE TRUNCATE ON messaging_digests
  FOR EACH STATEMENT EXECUTE FUNCTION messaging_refuse_truncate();
