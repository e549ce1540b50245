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

-- The claims of the current transaction, validated and normalised, or NULL. The only
-- plpgsql here: PostgreSQL 15 has no way to test text for valid JSON in plain SQL
-- (pg_input_is_valid arrives in 16), and a cast error must not escape to the caller.
-- Policies call it inside uncorrelated sub-selects, so it runs once per statement
-- (an InitPlan), not once per row.
CREATE OR REPLACE FUNCTION messaging_claims() RETURNS jsonb
  LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
  raw text := NULLIF(current_setting('messaging.claims', true), '');
  c jsonb;
  grants jsonb;
BEGIN
  IF raw IS NULL THEN
    RETURN NULL;
  END IF;
  c := raw::jsonb;
  IF jsonb_typeof(c) IS DISTINCT FROM 'object'
     OR jsonb_typeof(c -> 'sub') IS DISTINCT FROM 'string'
     OR (c ->> 'role') IS NULL
     OR (c ->> 'role') NOT IN ('member', 'infra_admin', 'service')
     OR jsonb_typeof(c -> 'grants') IS DISTINCT FROM 'array' THEN
    RETURN NULL;
  END IF;
  IF EXISTS (
    SELECT FROM jsonb_array_elements(c -> 'grants') g
    WHERE jsonb_typeof(g) IS DISTINCT FROM 'object'
       OR jsonb_typeof(g -> 'infrastructure_id') IS DISTINCT FROM 'string'
       OR jsonb_typeof(COALESCE(g -> 'business_id', 'null')) NOT IN ('string', 'null')
  ) THEN
    RETURN NULL;
  END IF;
  -- The casts raise on a malformed uuid; the handler turns that into "no access".
  SELECT COALESCE(jsonb_agg(jsonb_build_object(
           'infrastructure_id', (g ->> 'infrastructure_id')::uuid,
           'business_id', (g ->> 'business_id')::uuid)), '[]'::jsonb)
    INTO grants
    FROM jsonb_array_elements(c -> 'grants') g;
  RETURN jsonb_build_object('sub', (c ->> 'sub')::uuid, 'role', c ->> 'role', 'grants', grants);
EXCEPTION WHEN OTHERS THEN
  RETURN NULL;
END
$fn$;

-- The grants of the claims as rows (none without valid claims).
CREATE OR REPLACE FUNCTION messaging_grants()
  RETURNS TABLE (infrastructure_id uuid, business_id uuid)
  LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT (g ->> 'infrastructure_id')::uuid, (g ->> 'business_id')::uuid
    FROM jsonb_array_elements(messaging_claims() -> 'grants') AS g;
END;

-- The claims' role and user, NULL without valid claims.
CREATE OR REPLACE FUNCTION messaging_claims_role() RETURNS text
  LANGUAGE sql STABLE
  RETURN messaging_claims() ->> 'role';

CREATE OR REPLACE FUNCTION messaging_claims_sub() RETURNS uuid
  LANGUAGE sql STABLE
  RETURN (messaging_claims() ->> 'sub')::uuid;

-- The blueprint's predicates, with exactly the meaning of the domain's TenantScope:
--
--   tenant_can_access_infrastructure(i)  some grant in i, whatever its business
--   tenant_can_access(i, b)              some grant in i whose business_id is null or b
--                                        (a null b needs an infrastructure-wide grant)
--
-- Plain SQL-standard bodies (RETURN ...): inlinable into the policies, names bound at
-- creation (no search_path games at run time), not SECURITY DEFINER. The claims are read
-- in uncorrelated sub-selects, which the planner runs once per statement; the leading
-- `i = ANY (ARRAY(...))` conjunct is what lets a policy use an index on infrastructure_id.
--
-- A host that already has predicates of these names and signatures (e.g. built on
-- auth.uid() and its own membership tables) keeps them: they are created only when
-- absent, and the policies in 0004 call whichever is in place. See docs/sql.md.
DO $do$
BEGIN
  IF to_regprocedure('tenant_can_access_infrastructure(uuid)') IS NULL THEN
    CREATE FUNCTION tenant_can_access_infrastructure(target_infrastructure_id uuid) RETURNS boolean
      LANGUAGE sql STABLE
      RETURN target_infrastructure_id = ANY (ARRAY(SELECT g.infrastructure_id FROM messaging_grants() AS g));
  END IF;
  IF to_regprocedure('tenant_can_access(uuid, uuid)') IS NULL THEN
    CREATE FUNCTION tenant_can_access(target_infrastructure_id uuid, target_business_id uuid) RETURNS boolean
      LANGUAGE sql STABLE
      RETURN target_infrastructure_id = ANY (ARRAY(SELECT g.infrastructure_id FROM messaging_grants() AS g))
        AND (
          target_infrastructure_id = ANY (ARRAY(
            SELECT g.infrastructure_id FROM messaging_grants() AS g WHERE g.business_id IS NULL))
          OR (target_business_id IS NOT NULL
              AND target_infrastructure_id::text || '/' || target_business_id::text = ANY (ARRAY(
                SELECT g.infrastructure_id::text || '/' || g.business_id::text
                  FROM messaging_grants() AS g WHERE g.business_id IS NOT NULL)))
        );
  END IF;
END
$do$;

GRANT EXECUTE ON FUNCTION
  messaging_claims(), messaging_grants(), messaging_claims_role(), messaging_claims_sub(),
  tenant_can_access_infrastructure(uuid), tenant_can_access(uuid, uuid)
  TO messaging_app, messaging_worker;
