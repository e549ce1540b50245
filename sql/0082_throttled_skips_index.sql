-- messaging 0082: the throttled skips of a tenant by time, for the console's health view
-- (how many deliveries each category's throttle held back). Partial: only 'throttled' rows
-- enter it, so a notify's other skips cost nothing more.
CREATE INDEX messaging_notification_skips_throttled_idx
  ON messaging_notification_skips (infrastructure_id, created_at)
  WHERE reason = 'throttled';
