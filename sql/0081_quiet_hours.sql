-- messaging 0081: a recipient's quiet hours, on their profile beside their time zone.
--
--   messaging_profiles.quiet_hours   {"start": "22:00", "end": "07:00"} (local times of the
--                                    profile's time zone) or null
--
-- A member changes it on their own profile as they change their time zone (the guard of 0020
-- lets a member change every column but business_id and properties). A notify holds a
-- non-critical message to a recipient inside them until they end (available_at).

ALTER TABLE messaging_profiles
  ADD COLUMN quiet_hours jsonb CHECK (
    quiet_hours IS NULL OR (
      jsonb_typeof(quiet_hours) = 'object'
      AND quiet_hours ->> 'start' ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'
      AND quiet_hours ->> 'end' ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'
      AND quiet_hours ->> 'start' <> quiet_hours ->> 'end'));
GRANT UPDATE (quiet_hours) ON messaging_profiles TO messaging_app;
