-- The host a delivery worker ran on, with each attempt it records: workers on many hosts
-- share one database, and an attempt names its host as well as its worker. Null for attempts
-- recorded before this column, and for acks over HTTP (no worker). 253: the longest host
-- name (RFC 1035). The table's grants and policies cover the new column as they stand.
ALTER TABLE messaging_delivery_attempts
  ADD COLUMN worker_host text CHECK (worker_host IS NULL OR char_length(worker_host) <= 253);
