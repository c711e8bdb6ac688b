
-- ---------------------------------------------------------------------------
-- Backtest: replay a policy over stored history with the decision code of
-- live evaluation (src/backtest.c).
-- ---------------------------------------------------------------------------

-- Test hook: evaluation as if it were `at`, so a test can feed live
-- evaluation tick by tick and compare it with scaler.backtest().
CREATE FUNCTION scaler._evaluate_at(policy text, at timestamptz)
RETURNS bigint[]
AS 'MODULE_PATHNAME', 'scaler_evaluate_internal'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler._evaluate_at(text, timestamptz) IS
    'internal (tests): evaluate policies as if now were at; returns the ids of the decisions made';
REVOKE ALL ON FUNCTION scaler._evaluate_at(text, timestamptz) FROM PUBLIC;
