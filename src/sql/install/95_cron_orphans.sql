-- The pg_cron jobs of a scaler that was installed in this database and
-- dropped since: DROP EXTENSION cannot unschedule them, as nothing of
-- scaler's runs at its own drop.  They call scaler's functions with a
-- policy's name, as that policy's old owner, so left in place they would
-- act on a new policy of the old name, as a role that does not own it.
-- scaler names its jobs scaler_capacity_N and scaler_forecast_N; a fresh
-- install has no schedules yet, so each such job of this database is one
-- of those.  (pg_restore runs CREATE EXTENSION before it loads cron.job's
-- rows, so restored jobs are not touched.)
DO $$
DECLARE
    j record;
BEGIN
    IF pg_catalog.to_regclass('cron.job') IS NULL THEN
        RETURN;
    END IF;
    FOR j IN EXECUTE
        $q$SELECT c.jobid, c.jobname FROM cron.job c
            WHERE c.database OPERATOR(pg_catalog.=) pg_catalog.current_database()
              AND c.jobname OPERATOR(pg_catalog.~) '^scaler_(capacity|forecast)_[0-9]+$'
            ORDER BY c.jobid$q$
    LOOP
        PERFORM cron.unschedule(j.jobid);
        RAISE NOTICE 'unscheduled pg_cron job % (%), which a dropped installation of scaler left', j.jobid, j.jobname;
    END LOOP;
END
$$;
