-- messaging 0002: the tenant context and the predicates.
--
-- Every unit of work first runs, inside its transaction (never a session-level SET, so it
-- works behind a transaction-mode pooler):
--
--   select set_config('messaging.claims', '<json>', true)
--
-- with JSON {"sub": "<user uuid>", "role": "member" | "infra_admin" | "service",
--            "grants": [{"infrastructure_id": "<uuid>", "business_id": "<uuid>" | null}]}.
--
-- Missing, empty (what a setting reads as once the transaction that set it ended) or
-- malformed claims mean no access at all: every reader below returns NULL or no rows,
-- never an error.

-- The claims of the current transaction, parsed once per transaction and remembered.
--
-- The only plpgsql here: PostgreSQL 15 cannot test text for valid JSON or uuids in plain
-- SQL (pg_input_is_valid arrives in 16), and a cast error must not escape to the caller,
-- so parsing needs an exception handler, which costs a subtransaction. The result is kept
-- in transaction-local settings keyed by the raw text, so every later call (policies run
-- per row where an index does not decide) is a few setting reads, and a changed claims
-- setting is parsed again. Those settings are derived data: a role that could forge them
-- could as well set messaging.claims itself, which is exactly what the application's
-- connection is trusted to do.
CREATE OR REPLACE FUNCTION messaging_claims_refresh() RETURNS void
  LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
  -- NULLIF: once the transaction that set the claims has ended, the setting reads ''.
  raw text := COALESCE(NULLIF(current_setting('messaging.claims', true), ''), '');
  c jsonb;
  valid boolean := false;
  infras uuid[] := '{}';
  wide uuid[] := '{}';
  businesses text[] := '{}';
BEGIN
  IF raw = COALESCE(current_setting('messaging.claims_parsed_from', true), '')
     AND current_setting('messaging.claims_parsed', true) = 'yes' THEN
    RETURN;
  END IF;
  BEGIN
    IF raw <> '' THEN
      c := raw::jsonb;
      valid := jsonb_typeof(c) IS NOT DISTINCT FROM 'object'
        AND jsonb_typeof(c -> 'sub') IS NOT DISTINCT FROM 'string'
        AND COALESCE(c ->> 'role', '') IN ('member', 'infra_admin', 'service')
        AND jsonb_typeof(c -> 'grants') IS NOT DISTINCT FROM 'array'
        AND NOT EXISTS (
          SELECT FROM jsonb_array_elements(c -> 'grants') g
           WHERE jsonb_typeof(g) IS DISTINCT FROM 'object'
              OR jsonb_typeof(g -> 'infrastructure_id') IS DISTINCT FROM 'string'
              OR jsonb_typeof(COALESCE(g -> 'business_id', 'null')) NOT IN ('string', 'null'));
      IF valid THEN
        -- The casts raise on a malformed uuid; the handler turns that into "no access".
        PERFORM (c ->> 'sub')::uuid;
        SELECT COALESCE(array_agg(DISTINCT (g ->> 'infrastructure_id')::uuid), '{}'),
               COALESCE(array_agg(DISTINCT (g ->> 'infrastructure_id')::uuid)
                          FILTER (WHERE g ->> 'business_id' IS NULL), '{}'),
               COALESCE(array_agg(DISTINCT (g ->> 'infrastructure_id')::uuid::text || '/'
                                           || (g ->> 'business_id')::uuid::text)
                          FILTER (WHERE g ->> 'business_id' IS NOT NULL), '{}')
          INTO infras, wide, businesses
          FROM jsonb_array_elements(c -> 'grants') g;
      END IF;
    END IF;
  EXCEPTION WHEN OTHERS THEN
    valid := false;
  END;
  IF NOT valid THEN
    infras := '{}';
    wide := '{}';
    businesses := '{}';
  END IF;
  PERFORM set_config('messaging.claims_parsed_from', raw, true),
          set_config('messaging.claims_parsed', 'yes', true),
          set_config('messaging.claims_sub', CASE WHEN valid THEN (c ->> 'sub')::uuid::text ELSE '' END, true),
          set_config('messaging.claims_role', CASE WHEN valid THEN c ->> 'role' ELSE '' END, true),
          set_config('messaging.claims_infrastructures', infras::text, true),
          set_config('messaging.claims_wide_infrastructures', wide::text, true),
          set_config('messaging.claims_businesses', businesses::text, true);
END
$fn$;

-- The claims' parts; NULL or empty without valid claims.
CREATE OR REPLACE FUNCTION messaging_claims_sub() RETURNS uuid
  LANGUAGE plpgsql STABLE
AS $fn$
BEGIN
  PERFORM messaging_claims_refresh();
  RETURN NULLIF(current_setting('messaging.claims_sub', true), '')::uuid;
END
$fn$;

CREATE OR REPLACE FUNCTION messaging_claims_role() RETURNS text
  LANGUAGE plpgsql STABLE
AS $fn$
BEGIN
  PERFORM messaging_claims_refresh();
  RETURN NULLIF(current_setting('messaging.claims_role', true), '');
END
$fn$;

-- Whether the claims' role is one of `roles`. Policies call it as an uncorrelated
-- sub-select, (SELECT messaging_claims_role_in('service')), which runs once per statement
-- and which the planner estimates as a coin toss (a role compared with = would be taken
-- for a rare value, 0.5%, and skew every join estimate of the claim path).
CREATE OR REPLACE FUNCTION messaging_claims_role_in(VARIADIC roles text[]) RETURNS boolean
  LANGUAGE plpgsql STABLE
AS $fn$
BEGIN
  PERFORM messaging_claims_refresh();
  RETURN COALESCE(NULLIF(current_setting('messaging.claims_role', true), '') = ANY (roles), false);
END
$fn$;

-- Infrastructures with any grant.
CREATE OR REPLACE FUNCTION messaging_claims_infrastructures() RETURNS uuid[]
  LANGUAGE plpgsql STABLE
AS $fn$
BEGIN
  PERFORM messaging_claims_refresh();
  RETURN current_setting('messaging.claims_infrastructures', true)::uuid[];
END
$fn$;

-- Infrastructures with an infrastructure-wide grant (business_id null).
CREATE OR REPLACE FUNCTION messaging_claims_wide_infrastructures() RETURNS uuid[]
  LANGUAGE plpgsql STABLE
AS $fn$
BEGIN
  PERFORM messaging_claims_refresh();
  RETURN current_setting('messaging.claims_wide_infrastructures', true)::uuid[];
END
$fn$;

-- Business grants as 'infrastructure_id/business_id'.
CREATE OR REPLACE FUNCTION messaging_claims_businesses() RETURNS text[]
  LANGUAGE plpgsql STABLE
AS $fn$
BEGIN
  PERFORM messaging_claims_refresh();
  RETURN current_setting('messaging.claims_businesses', true)::text[];
END
$fn$;

-- The blueprint's predicates, with exactly the meaning of the domain's TenantScope:
--
--   tenant_can_access_infrastructure(i)  some grant in i, whatever its business
--   tenant_can_access(i, b)              some grant in i whose business_id is null or b
--                                        (a null b needs an infrastructure-wide grant)
--
-- Plain SQL-standard bodies (RETURN ...), with no sub-select: inlinable into the policies
-- (PostgreSQL inlines no function whose body holds a sub-select), names bound at creation
-- (no search_path games at run time), not SECURITY DEFINER. The leading
-- `i = ANY (messaging_claims_infrastructures())` conjunct is a stable expression the
-- planner can use as an index condition on infrastructure_id, evaluated once per scan.
--
-- A host that already has predicates of these names and signatures (e.g. built on
-- auth.uid() and its own membership tables) keeps them: they are created only when
-- absent, and the policies in 0004 call whichever is in place. See docs/sql.md.
DO $do$
BEGIN
  IF to_regprocedure('tenant_can_access_infrastructure(uuid)') IS NULL THEN
    CREATE FUNCTION tenant_can_access_infrastructure(target_infrastructure_id uuid) RETURNS boolean
      LANGUAGE sql STABLE
      RETURN target_infrastructure_id = ANY (messaging_claims_infrastructures());
  END IF;
  IF to_regprocedure('tenant_can_access(uuid, uuid)') IS NULL THEN
    CREATE FUNCTION tenant_can_access(target_infrastructure_id uuid, target_business_id uuid) RETURNS boolean
      LANGUAGE sql STABLE
      RETURN target_infrastructure_id = ANY (messaging_claims_infrastructures())
        AND COALESCE(
          target_infrastructure_id = ANY (messaging_claims_wide_infrastructures())
          OR target_infrastructure_id::text || '/' || target_business_id::text = ANY (messaging_claims_businesses()),
          false);
  END IF;
END
$do$;

GRANT EXECUTE ON FUNCTION
  messaging_claims_refresh(), messaging_claims_sub(), messaging_claims_role(), messaging_claims_role_in(text[]),
  messaging_claims_infrastructures(),
  messaging_claims_wide_infrastructures(), messaging_claims_businesses(),
  tenant_can_access_infrastructure(uuid), tenant_can_access(uuid, uuid)
  TO messaging_app, messaging_worker;
