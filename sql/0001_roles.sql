-- messaging 0001: the roles.
--
-- messaging_app     the host's application: NOLOGIN, no BYPASSRLS. Grant it to the host's
--                   login role(s); every row it sees is decided by the claims of the
--                   current transaction (see 0002).
-- messaging_worker  the fleet delivery worker: reads channels, members and outbox rows of
--                   every tenant and changes only the outbox's delivery-state columns.
--
-- Roles are cluster-wide: a second database of the same cluster (or a concurrent run)
-- finds them in place, so creation tolerates an existing role. A DBA who creates roles
-- out of band can create them first; this file then changes nothing.
DO $do$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'messaging_app') THEN
    BEGIN
      CREATE ROLE messaging_app NOLOGIN NOBYPASSRLS NOSUPERUSER NOCREATEDB NOCREATEROLE;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL; -- created concurrently by another migration of the same cluster
    END;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'messaging_worker') THEN
    BEGIN
      CREATE ROLE messaging_worker NOLOGIN NOBYPASSRLS NOSUPERUSER NOCREATEDB NOCREATEROLE;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;
    END;
  END IF;
END
$do$;

-- The roles must reach the objects of the schema these files are applied in.
DO $do$
BEGIN
  EXECUTE format('GRANT USAGE ON SCHEMA %I TO messaging_app, messaging_worker', current_schema());
END
$do$;
