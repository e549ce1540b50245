-- messaging 0101: retention of digests. A digest goes with its delivery message: the owner's
-- prune (src/adapters/postgres/prune.ts) removes the digests of the messages it removes, in
-- the same statement. RLS is forced for the owner too, and a DELETE with a join needs the
-- rows to be visible, so the owner sees and deletes digests; the app roles still delete none.
CREATE POLICY messaging_digests_owner_prune_select ON messaging_digests
  FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY messaging_digests_owner_prune ON messaging_digests
  FOR DELETE TO CURRENT_USER USING (true);
