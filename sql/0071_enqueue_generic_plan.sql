-- messaging 0071: every enqueue runs the cached generic plan, a batch too.
--
-- 0045 (and 0060 and 0070 after it) force the generic plan for one message only and leave a batch
-- to the plan cache, which plans the first five calls on each connection for the arrays'
-- actual lengths. Measured with G14 (a notify's fan-out in chunks of 5,000; 2 cores, loaded
-- machine): a chunk took 8.9 s on such a custom plan against 0.9 s on the generic one,
-- which guesses 100 rows per unnest as jsonb_to_recordset did for messaging_enqueue; G2's
-- batches of 1,000 were no faster on the custom plan either (367 against 316 ms a batch).
-- A SET clause holds for the call alone and is put back when it returns, so the caller's
-- own statements keep their mode. Numbered after 0060 and 0070, which re-created the
-- function (trace context, priorities), and applied to whichever argument list it has by
-- now; a migration that re-creates the function again must set it again.
DO $do$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc AS p
            WHERE p.proname = 'messaging_enqueue_arrays' AND pg_function_is_visible(p.oid)
  LOOP
    EXECUTE format('ALTER FUNCTION %s SET plan_cache_mode = force_generic_plan', f);
  END LOOP;
END
$do$;
