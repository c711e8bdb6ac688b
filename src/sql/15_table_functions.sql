
-- ===========================================================================
-- Functions that table definitions call: CHECK constraints and triggers
-- (src/sql/install/20_tables.sql), so they come before the tables.  Shared
-- by the install and the update script, like every file in src/sql/.
-- ===========================================================================

-- The rules of a policy's settings, stated once (in C, src/policy.c and
-- src/decide.c, where scaler.desired_capacity() applies them too): the
-- table's CHECK constraint calls it, scaler._check_policy calls it with
-- raise => true for an error naming the field (22023).
CREATE OR REPLACE FUNCTION scaler._check_settings(
    name text, metric text, target float8, stable_window interval,
    min_capacity integer, max_capacity integer, tolerance float8,
    scale_in_stabilization interval, panic_threshold float8, channel text,
    raise boolean)
RETURNS boolean
AS 'MODULE_PATHNAME', 'scaler_check_settings'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION scaler._check_settings(text, text, float8, interval, integer, integer, float8, interval, float8, text, boolean) IS
    'internal: whether policy settings are valid (raise: else an error naming the field); the one statement of these rules';

-- The trigger of scaler.capacity_schedule.
CREATE OR REPLACE FUNCTION scaler._capacity_schedule_deleted()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF OLD.jobid IS NOT NULL
       AND EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
        PERFORM cron.unschedule(j.jobid) FROM cron.job j WHERE j.jobid = OLD.jobid;
    END IF;
    RETURN OLD;
END
$$;
COMMENT ON FUNCTION scaler._capacity_schedule_deleted() IS
    'internal: unschedule the pg_cron job of a deleted scaler.capacity_schedule row';
