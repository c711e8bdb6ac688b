
-- ---------------------------------------------------------------------------
-- Cold starts (issue 10): backtest accounting of requests and cold starts,
-- keep_alive on policies.  Functions whose result or arguments changed are
-- dropped and created again exactly as a fresh install creates them.
-- ---------------------------------------------------------------------------
DROP FUNCTION scaler.backtest(text, timestamptz, timestamptz, jsonb);
CREATE FUNCTION scaler.backtest(
    policy    text,
    since     timestamptz,
    until     timestamptz,
    overrides jsonb DEFAULT '{}',
    OUT at            timestamptz,
    OUT value         float8,
    OUT demand        integer,
    OUT from_capacity integer,
    OUT capacity      integer,
    OUT reason        text,
    OUT shortfall     integer,
    OUT requests      bigint,
    OUT cold_starts   integer)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'scaler_backtest'
LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 1440;
COMMENT ON FUNCTION scaler.backtest(text, timestamptz, timestamptz, jsonb) IS
    'replay a policy over (since, until] with the decision code of live evaluation, one row per stable_window: the metric value, the instances it needed (demand), the capacity running (from_capacity) and decided (capacity), why, the shortfall (demand - from_capacity when positive), the requests that arrived and how many of them were cold starts (the instances they needed beyond from_capacity); overrides change settings for the replay only';

DROP FUNCTION scaler.backtest_summary(text, timestamptz, timestamptz, jsonb);
CREATE FUNCTION scaler.backtest_summary(
    policy    text,
    since     timestamptz,
    until     timestamptz,
    overrides jsonb DEFAULT '{}',
    OUT steps                  bigint,
    OUT scale_out_events       bigint,
    OUT scale_in_events        bigint,
    OUT instance_hours         float8,
    OUT minutes_under_capacity float8,
    OUT worst_shortfall        integer,
    OUT mean_utilisation       float8,
    OUT peak_capacity          integer,
    OUT requests               bigint,
    OUT cold_starts            bigint,
    OUT cold_start_pct         float8,
    OUT warm_idle_instance_hours float8)
RETURNS record
AS 'MODULE_PATHNAME', 'scaler_backtest_summary'
LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION scaler.backtest_summary(text, timestamptz, timestamptz, jsonb) IS
    'the totals of scaler.backtest(): scale-out and scale-in events, instance-hours run, minutes with a shortfall, the worst shortfall, demand over running capacity, the highest capacity, requests, cold starts (and 100 x cold_starts / requests), and warm-idle instance-hours (capacity beyond what the load kept busy)';
