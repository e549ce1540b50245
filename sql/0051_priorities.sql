-- messaging 0051: priorities within a tenant.
--
--   messaging_outbox.priority    0 high, 1 normal (the default), 2 low: written once at enqueue
--                                (no app role may update it: column privileges of 0004)
--   messaging_outbox_ready_idx   the claim's index in the claim's order within a tenant:
--                                priority, then due time, then id
--   (the enqueue writes it from 0070 on: messaging_enqueue_arrays, whose current form is 0060's)
--
-- A claim walks one tenant's open rows as (priority, available_at, id); the round robin
-- between tenants is unchanged, so a tenant's high priority goes ahead of its own normal
-- and low messages and never ahead of another tenant's turn. The due-time bound is an
-- index condition on the second key now, not a range bound: a tenant's scheduled (not yet
-- due) rows of a higher priority than its due ones are stepped over in the index, without
-- a heap visit (test/postgres/plan.test.ts shows the path).
ALTER TABLE messaging_outbox ADD COLUMN priority smallint NOT NULL DEFAULT 1
  CONSTRAINT messaging_outbox_priority_check CHECK (priority BETWEEN 0 AND 2);

DROP INDEX messaging_outbox_ready_idx;
CREATE INDEX messaging_outbox_ready_idx ON messaging_outbox (infrastructure_id, priority, available_at, id)
  WHERE status IN ('pending', 'processing');
