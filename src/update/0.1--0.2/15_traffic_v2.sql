
-- Traffic v2: values keep UTC quarter hours and are bucketed into the
-- session's TimeZone when read.  The C functions keep their names; values
-- stored by 0.1 (format 1) are still read.  Building a value no longer
-- depends on the TimeZone; reading one does.
ALTER FUNCTION scaler.traffic_agg_trans(scaler.traffic, pg_catalog.timestamptz) IMMUTABLE;
ALTER FUNCTION scaler.traffic_agg_trans(scaler.traffic, pg_catalog.timestamptz, pg_catalog.float8) IMMUTABLE;
ALTER FUNCTION scaler.traffic_agg_trans(scaler.traffic, pg_catalog.timestamptz, pg_catalog.float8, pg_catalog.int4) IMMUTABLE;
ALTER FUNCTION scaler.hourly_requests(scaler.traffic) STABLE;
ALTER FUNCTION scaler.hour_of_day(scaler.traffic) STABLE;
ALTER FUNCTION scaler.hour_of_week(scaler.traffic) STABLE;

-- SSPACE is only the planner's estimate of a state's size, and ALTER
-- AGGREGATE cannot set it; dropping and re-creating the aggregates would
-- fail on every user view that uses them, so set the estimate in place.
UPDATE pg_catalog.pg_aggregate SET aggtransspace = 2048
 WHERE aggfnoid IN ('scaler.traffic_agg(pg_catalog.timestamptz)'::pg_catalog.regprocedure,
                    'scaler.traffic_agg(pg_catalog.timestamptz, pg_catalog.float8)'::pg_catalog.regprocedure,
                    'scaler.traffic_agg(pg_catalog.timestamptz, pg_catalog.float8, pg_catalog.int4)'::pg_catalog.regprocedure,
                    'scaler.traffic_merge(scaler.traffic)'::pg_catalog.regprocedure);

COMMENT ON TYPE scaler.traffic IS
    'traffic statistics of a group of request rows, per UTC quarter hour that has rows (sparse quarters as rows, busy ones as per-minute counts, errors and a latency sketch); read in the session TimeZone';
COMMENT ON AGGREGATE scaler.traffic_agg(pg_catalog.timestamptz) IS
    'request counts per minute (rows with NULL ts are skipped), reported per local hour of the session TimeZone';
COMMENT ON AGGREGATE scaler.traffic_agg(pg_catalog.timestamptz, pg_catalog.float8) IS
    'request counts and latency, reported per local hour of the session TimeZone';
COMMENT ON AGGREGATE scaler.traffic_agg(pg_catalog.timestamptz, pg_catalog.float8, pg_catalog.int4) IS
    'request counts, errors (status >= 500) and latency, reported per local hour of the session TimeZone';
COMMENT ON AGGREGATE scaler.traffic_merge(scaler.traffic) IS
    'adds traffic values together (e.g. daily values rolled up into a month), exactly: the result is the traffic value of all their rows';
COMMENT ON FUNCTION scaler.hourly_requests(scaler.traffic) IS
    'one row per local hour of the session TimeZone from the first to the last hour of a traffic value, hours without traffic included';
