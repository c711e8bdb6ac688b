
-- ===========================================================================
-- TEST HOOKS: functions for scaler's own test suites only, not an API, and
-- not to be used by anything else.  None is executable by PUBLIC
-- (src/sql/90_privileges.sql).  Shared by the install and the update script.
-- ===========================================================================

-- Test hook: evaluation as if it were `at`, so a test can feed live
-- evaluation tick by tick and compare it with scaler.backtest().
CREATE OR REPLACE FUNCTION scaler._evaluate_at(policy text, at timestamptz)
RETURNS bigint[]
AS 'MODULE_PATHNAME', 'scaler_evaluate_internal'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler._evaluate_at(text, timestamptz) IS
    'internal (tests): evaluate policies as if now were at; returns the ids of the decisions made';

CREATE OR REPLACE FUNCTION scaler._traffic_trans_fresh(scaler.traffic, pg_catalog.timestamptz,
                                                       pg_catalog.float8, pg_catalog.int4)
    RETURNS scaler.traffic
    AS 'MODULE_PATHNAME', 'traffic_trans_fresh' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION scaler._traffic_trans_fresh(scaler.traffic, pg_catalog.timestamptz, pg_catalog.float8, pg_catalog.int4) IS
    'test hook: traffic_agg''s transition function called through a new FmgrInfo per row, as Citus calls it';

CREATE OR REPLACE FUNCTION scaler._window_plans()
    RETURNS pg_catalog.int8
    AS 'MODULE_PATHNAME', 'scaler_window_plans' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler._window_plans() IS
    'test hook: how many window plans of policies this backend keeps';
