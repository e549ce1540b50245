-- messaging 0006: what the delivery worker needs beyond claim and ack.
--
--   messaging_delivery_attempts  one append-only record per attempt
--   messaging_outbox_settled_idx retention (prune) walks settled rows by age, per tenant
--   redrive by an infra_admin    failed | dead -> pending, nothing else
--   the owner's prune            may see the settled rows it removes

-- ---------------------------------------------------------------------------------------
-- Attempts. The key leads with the tenant and the message, so a message's attempts are one
-- index range (listing them, and prune removing them with their message). `attempt`
-- repeats after a redrive (attempts start again at 1), so the key ends with the attempt's
-- own id; seq orders the records of one message in append order.
--
-- business_id is the message's (copied by the insert, checked by the policy), so the
-- select policy is the outbox's own inlinable predicate.
--
-- No foreign key to the outbox: TRUNCATE of a referenced table fails with 0A000 before the
-- outbox's refusal trigger can say why (42501), and the insert policies already admit an
-- attempt only for a message that exists (and that the writer can see). Prune removes a
-- message's attempts in the statement that removes the message.
CREATE TABLE messaging_delivery_attempts (
  infrastructure_id   uuid        NOT NULL,
  message_id          uuid        NOT NULL,
  id                  uuid        NOT NULL,
  seq                 bigint      GENERATED ALWAYS AS IDENTITY,
  business_id         uuid,
  attempt             integer     NOT NULL CHECK (attempt >= 1),
  worker_id           uuid        NOT NULL,
  started_at          timestamptz NOT NULL,
  finished_at         timestamptz NOT NULL,
  duration_ms         integer     NOT NULL CHECK (duration_ms >= 0),
  outcome             text        NOT NULL CHECK (outcome IN ('delivered', 'retryable', 'permanent')),
  error_code          text        CHECK (error_code IS NULL OR length(error_code) <= 100),
  error               text        CHECK (error IS NULL OR length(error) <= 4000),
  provider_message_id text        CHECK (provider_message_id IS NULL OR length(provider_message_id) <= 500),
  CONSTRAINT messaging_delivery_attempts_pkey PRIMARY KEY (infrastructure_id, message_id, id)
);

-- Retention: settled rows by age, per tenant. Prune finds the tenants with a skip scan over
-- the leading column and takes each one's oldest settled rows from an index range, so a
-- batch never walks the live rows (or the rows an earlier batch removed).
CREATE INDEX messaging_outbox_settled_idx ON messaging_outbox (infrastructure_id, settled_at)
  WHERE status IN ('processed', 'failed', 'dead');

ALTER TABLE messaging_delivery_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE messaging_delivery_attempts FORCE ROW LEVEL SECURITY;
REVOKE ALL ON messaging_delivery_attempts FROM PUBLIC;

-- Read where the claims reach the message; appended by role service for a message it can
-- see (the sub-select runs under the outbox's own policies), with the message's business.
-- Nobody updates or deletes a record through the app roles (no privilege); the owner's
-- prune removes them with their message.
GRANT SELECT, INSERT ON messaging_delivery_attempts TO messaging_app;

CREATE POLICY messaging_delivery_attempts_select ON messaging_delivery_attempts
  FOR SELECT TO messaging_app
  USING (tenant_can_access(infrastructure_id, business_id));

CREATE POLICY messaging_delivery_attempts_insert ON messaging_delivery_attempts
  FOR INSERT TO messaging_app
  WITH CHECK (tenant_can_access(infrastructure_id, business_id)
              AND (SELECT messaging_claims_role_in('service'))
              AND EXISTS (SELECT FROM messaging_outbox AS o
                           WHERE o.infrastructure_id = messaging_delivery_attempts.infrastructure_id
                             AND o.id = messaging_delivery_attempts.message_id
                             AND o.business_id IS NOT DISTINCT FROM messaging_delivery_attempts.business_id));

-- The fleet worker: every tenant's attempts, appended for messages that exist, with their
-- own business.
GRANT SELECT, INSERT ON messaging_delivery_attempts TO messaging_worker;

CREATE POLICY messaging_delivery_attempts_worker_select ON messaging_delivery_attempts
  FOR SELECT TO messaging_worker USING (true);

CREATE POLICY messaging_delivery_attempts_worker_insert ON messaging_delivery_attempts
  FOR INSERT TO messaging_worker
  WITH CHECK (EXISTS (SELECT FROM messaging_outbox AS o
                       WHERE o.infrastructure_id = messaging_delivery_attempts.infrastructure_id
                         AND o.id = messaging_delivery_attempts.message_id
                         AND o.business_id IS NOT DISTINCT FROM messaging_delivery_attempts.business_id));

CREATE TRIGGER messaging_delivery_attempts_no_truncate BEFORE TRUNCATE ON messaging_delivery_attempts
  FOR EACH STATEMENT EXECUTE FUNCTION messaging_refuse_truncate();

-- ---------------------------------------------------------------------------------------
-- Redrive by an infra_admin: a failed or dead message of its tenant goes back to pending
-- with fresh attempts, and that is all this policy admits (role service keeps its own,
-- wider policy from 0004). Permissive policies are OR-ed: an infra_admin's UPDATE sees
-- only failed and dead rows, and the new row must be an unleased pending one with
-- attempts 0; the transition trigger (0005) allows failed | dead -> pending.
CREATE POLICY messaging_outbox_redrive ON messaging_outbox
  FOR UPDATE TO messaging_app
  USING (tenant_can_access(infrastructure_id, business_id)
         AND (SELECT messaging_claims_role_in('infra_admin'))
         AND status IN ('failed', 'dead'))
  WITH CHECK (tenant_can_access(infrastructure_id, business_id)
              AND (SELECT messaging_claims_role_in('infra_admin'))
              AND status = 'pending' AND attempts = 0 AND lease_token IS NULL AND settled_at IS NULL);

-- ---------------------------------------------------------------------------------------
-- The owner's prune (0004 lets it DELETE settled rows): RLS is forced for the owner too, and
-- a DELETE with a WHERE clause needs the rows to be visible, so the owner sees settled rows.
CREATE POLICY messaging_outbox_owner_prune_select ON messaging_outbox
  FOR SELECT TO CURRENT_USER
  USING (status IN ('processed', 'failed', 'dead'));

-- ... and removes the attempts of the messages it removes (in the same statement).
CREATE POLICY messaging_delivery_attempts_owner_prune_select ON messaging_delivery_attempts
  FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY messaging_delivery_attempts_owner_prune ON messaging_delivery_attempts
  FOR DELETE TO CURRENT_USER USING (true);
