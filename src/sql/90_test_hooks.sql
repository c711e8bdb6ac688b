
-- Test hooks: functions for scaler's own test suites only, not an API.
-- None is executable by PUBLIC.

CREATE FUNCTION scaler._traffic_trans_fresh(scaler.traffic, pg_catalog.timestamptz,
                                            pg_catalog.float8, pg_catalog.int4)
    RETURNS scaler.traffic
    AS 'MODULE_PATHNAME', 'traffic_trans_fresh' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION scaler._traffic_trans_fresh(scaler.traffic, pg_catalog.timestamptz, pg_catalog.float8, pg_catalog.int4) IS
    'test hook: traffic_agg''s transition function called through a new FmgrInfo per row, as Citus calls it';
REVOKE ALL ON FUNCTION scaler._traffic_trans_fresh(scaler.traffic, pg_catalog.timestamptz, pg_catalog.float8, pg_catalog.int4) FROM PUBLIC;
