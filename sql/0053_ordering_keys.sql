-- messaging 0053: ordering keys.
--
--   messaging_outbox.ordering_key      null, or the key of the tenant's messages that go one at a
--                                      time in enqueue order (1 to 200 printable ASCII characters:
--                                      the enqueue input's rule)
--   messaging_outbox.ordering_seq      the message's place in its key's order: drawn from
--                                      messaging_outbox_ordering_seq by the enqueue for a keyed
--                                      message only, null with the key (a row without a key draws
--                                      nothing); written once (no app role may update either
--                                      column: the column privileges of 0004)
--   messaging_outbox_ordering_idx      "is there an earlier unsettled message with this key":
--                                      (infrastructure_id, ordering_key, ordering_seq) over keyed
--                                      rows that are pending, held, failed or dead only
--   messaging_outbox_ordering_held_idx "is a message of this key held": keyed rows in processing
--   (the enqueue writes them from 0071_enqueue_ordering_keys.sql on, after 0070's form)
--
-- The claim (src/adapters/postgres/claim.ts) takes a keyed row only when no earlier row of
-- its tenant and key is pending or processing (a lapsed holder's row included: it goes
-- first when claimed again), or failed or dead on a channel whose config does not say
-- `"orderingOnDead": "skip"`, and no row of the key is held under a live lease. Both are
-- probes of the partial indexes above; a row without a key is not probed at all. The order
-- is the sequence's, drawn by the database as the enqueue inserts: not a host's clock.
ALTER TABLE messaging_outbox
  ADD COLUMN ordering_key text
    CONSTRAINT messaging_outbox_ordering_key_check
    CHECK (ordering_key IS NULL OR (char_length(ordering_key) BETWEEN 1 AND 200
                                    AND ordering_key ~ '^[\x21-\x7e]+$')),
  ADD COLUMN ordering_seq bigint,
  ADD CONSTRAINT messaging_outbox_ordering_seq_check CHECK ((ordering_key IS NULL) = (ordering_seq IS NULL));

CREATE SEQUENCE messaging_outbox_ordering_seq AS bigint;
REVOKE ALL ON SEQUENCE messaging_outbox_ordering_seq FROM PUBLIC;
GRANT USAGE ON SEQUENCE messaging_outbox_ordering_seq TO messaging_app;

CREATE INDEX messaging_outbox_ordering_idx ON messaging_outbox (infrastructure_id, ordering_key, ordering_seq)
  WHERE ordering_key IS NOT NULL AND status IN ('pending', 'processing', 'failed', 'dead');
CREATE INDEX messaging_outbox_ordering_held_idx ON messaging_outbox (infrastructure_id, ordering_key)
  WHERE ordering_key IS NOT NULL AND status = 'processing';
