-- messaging 0057: which provider an attempt went out through.
--
-- An email channel may list fallback SMTP relays and an SMS channel fallback providers: a
-- delivery that finds the first one down tries the next in the same attempt, and the
-- attempt names the one it used (the last one tried when all failed). Null for types with a
-- single endpoint (webhook, in-app) and for attempts recorded before this column. 300: a
-- provider's own name is a slug of at most 64, the default `smtp:<host>:<port>` holds a host
-- name of at most 253 (RFC 1035). The table's grants and policies cover the new column as
-- they stand.
ALTER TABLE messaging_delivery_attempts
  ADD COLUMN provider text CHECK (provider IS NULL OR char_length(provider) <= 300);
