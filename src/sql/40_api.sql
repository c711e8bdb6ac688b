-- ===========================================================================
-- The API: the aggregates and functions users call (docs/reference.md).  The
-- public functions that need the calling role are C trampolines
-- (scaler_as_caller, src/policy.c) to the internals of src/sql/30_internal.sql.
-- Shared by the install and the update script: CREATE OR REPLACE.  Who may
-- EXECUTE what is in src/sql/90_privileges.sql.
-- ===========================================================================

-- ---------------------------------------------------------------------------
-- Hourly traffic analytics: the aggregates over scaler.traffic and the
-- functions that turn a value into gap-filled hourly rows.
-- ---------------------------------------------------------------------------

CREATE OR REPLACE AGGREGATE scaler.traffic_agg(pg_catalog.timestamptz) (
    SFUNC = scaler.traffic_agg_trans,
    STYPE = scaler.traffic,
    FINALFUNC = scaler.traffic_agg_final,
    FINALFUNC_MODIFY = READ_ONLY,
    COMBINEFUNC = scaler.traffic_agg_combine,
    SSPACE = 2048,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE scaler.traffic_agg(pg_catalog.timestamptz) IS
    'request counts per minute (rows with NULL ts are skipped), reported per local hour of the session TimeZone';

CREATE OR REPLACE AGGREGATE scaler.traffic_agg(pg_catalog.timestamptz, pg_catalog.float8) (
    SFUNC = scaler.traffic_agg_trans,
    STYPE = scaler.traffic,
    FINALFUNC = scaler.traffic_agg_final,
    FINALFUNC_MODIFY = READ_ONLY,
    COMBINEFUNC = scaler.traffic_agg_combine,
    SSPACE = 2048,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE scaler.traffic_agg(pg_catalog.timestamptz, pg_catalog.float8) IS
    'request counts and latency, reported per local hour of the session TimeZone';

CREATE OR REPLACE AGGREGATE scaler.traffic_agg(pg_catalog.timestamptz, pg_catalog.float8, pg_catalog.int4) (
    SFUNC = scaler.traffic_agg_trans,
    STYPE = scaler.traffic,
    FINALFUNC = scaler.traffic_agg_final,
    FINALFUNC_MODIFY = READ_ONLY,
    COMBINEFUNC = scaler.traffic_agg_combine,
    SSPACE = 2048,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE scaler.traffic_agg(pg_catalog.timestamptz, pg_catalog.float8, pg_catalog.int4) IS
    'request counts, errors (status >= 500) and latency, reported per local hour of the session TimeZone';

CREATE OR REPLACE AGGREGATE scaler.traffic_merge(scaler.traffic) (
    SFUNC = scaler.traffic_agg_combine,
    STYPE = scaler.traffic,
    FINALFUNC = scaler.traffic_agg_final,
    FINALFUNC_MODIFY = READ_ONLY,
    COMBINEFUNC = scaler.traffic_agg_combine,
    SSPACE = 2048,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE scaler.traffic_merge(scaler.traffic) IS
    'adds traffic values together (e.g. daily values rolled up into a month), exactly: the result is the traffic value of all their rows';

CREATE OR REPLACE FUNCTION scaler.hourly_requests(t scaler.traffic,
    OUT hour pg_catalog.timestamptz, OUT requests pg_catalog.int8, OUT errors pg_catalog.int8,
    OUT error_rate pg_catalog.float8, OUT p50_ms pg_catalog.float8, OUT p95_ms pg_catalog.float8,
    OUT p99_ms pg_catalog.float8, OUT max_ms pg_catalog.float8, OUT peak_rpm pg_catalog.int8,
    OUT avg_concurrency pg_catalog.float8, OUT peak_concurrency pg_catalog.float8)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'traffic_hourly_requests'
    LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 24;
COMMENT ON FUNCTION scaler.hourly_requests(scaler.traffic) IS
    'one row per local hour of the session TimeZone from the first to the last hour of a traffic value, hours without traffic included';

CREATE OR REPLACE FUNCTION scaler.hourly_requests(
    since pg_catalog.timestamptz DEFAULT pg_catalog.now() - '24 hours'::pg_catalog.interval,
    until pg_catalog.timestamptz DEFAULT pg_catalog.now(),
    function_name pg_catalog.text DEFAULT NULL,
    source pg_catalog.regclass DEFAULT 'scaler.request_log',
    OUT hour pg_catalog.timestamptz, OUT requests pg_catalog.int8, OUT errors pg_catalog.int8,
    OUT error_rate pg_catalog.float8, OUT p50_ms pg_catalog.float8, OUT p95_ms pg_catalog.float8,
    OUT p99_ms pg_catalog.float8, OUT max_ms pg_catalog.float8, OUT peak_rpm pg_catalog.int8,
    OUT avg_concurrency pg_catalog.float8, OUT peak_concurrency pg_catalog.float8)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'source_hourly_requests'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 24
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION scaler.hourly_requests(pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.text, pg_catalog.regclass) IS
    'one row per local hour of [since, until) read from a source (default: the last 24 hours of scaler.request_log), as the calling user';

CREATE OR REPLACE FUNCTION scaler.hour_of_day(t scaler.traffic,
    OUT hour_of_day pg_catalog.int4, OUT days pg_catalog.int4, OUT requests pg_catalog.int8,
    OUT avg_requests pg_catalog.float8, OUT peak_requests pg_catalog.int8)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'traffic_hour_of_day'
    LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 24;
COMMENT ON FUNCTION scaler.hour_of_day(scaler.traffic) IS
    '24 rows: per local hour of the day, how many such hours the value spans, their requests, average and busiest';

CREATE OR REPLACE FUNCTION scaler.hour_of_week(t scaler.traffic,
    OUT dow pg_catalog.int4, OUT hour_of_day pg_catalog.int4, OUT days pg_catalog.int4,
    OUT requests pg_catalog.int8, OUT avg_requests pg_catalog.float8, OUT peak_requests pg_catalog.int8)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'traffic_hour_of_week'
    LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 168;
COMMENT ON FUNCTION scaler.hour_of_week(scaler.traffic) IS
    '168 rows: per day of week (0 = Sunday) and local hour, how many such hours the value spans, their requests, average and busiest';

-- ---------------------------------------------------------------------------
-- Charts for psql.
-- ---------------------------------------------------------------------------

-- A psql-friendly chart of hourly traffic: one row per hour, a bar drawn in
-- Unicode block characters (eighth-block resolution) scaled to the busiest
-- hour, the count and p95.  40 columns of bar keep a row within 80.  Where
-- the UTC offset changes (a DST switch) the hour carries the new zone
-- abbreviation, so the two 01:00 of a 25-hour day can be told apart.
-- SQL-standard bodies are parsed once, here, so the caller's search_path
-- cannot change what they call.
-- The width of a bar, checked: a bar is built in memory, so a width of a
-- billion characters would take gigabytes for each row.
CREATE OR REPLACE FUNCTION scaler._chart_width(width pg_catalog.int4)
RETURNS pg_catalog.int4
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF width IS NULL THEN
        RAISE EXCEPTION 'width must not be null' USING ERRCODE = '22004';
    END IF;
    IF width < 1 OR width > 1000 THEN
        RAISE EXCEPTION 'width must be between 1 and 1000 characters'
              USING ERRCODE = '22023', DETAIL = format('width is %s.', width);
    END IF;
    RETURN width;
END
$$;
COMMENT ON FUNCTION scaler._chart_width(pg_catalog.int4) IS
    'internal: the width of a chart bar if it is 1 to 1000 characters, an error otherwise';

CREATE OR REPLACE FUNCTION scaler.chart_bar(value pg_catalog.float8, maximum pg_catalog.float8,
                                            width pg_catalog.int4 DEFAULT 40)
RETURNS pg_catalog.text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
BEGIN ATOMIC
    SELECT CASE WHEN scaler._chart_width(width) IS NULL THEN NULL  -- (checks; never NULL)
                WHEN maximum <= 0 OR value <= 0 THEN ''
           ELSE pg_catalog.repeat(U&'\2588', (eighths / 8)::pg_catalog.int4) ||
                (ARRAY['', U&'\258F', U&'\258E', U&'\258D', U&'\258C', U&'\258B', U&'\258A', U&'\2589'])
                    [(eighths % 8)::pg_catalog.int4 + 1]
           END
    FROM (SELECT pg_catalog.round(LEAST(value / maximum, 1.0::pg_catalog.float8) * width * 8)::pg_catalog.int8
                 AS eighths) e;
END;
COMMENT ON FUNCTION scaler.chart_bar(pg_catalog.float8, pg_catalog.float8, pg_catalog.int4) IS
    'a bar of Unicode block characters, width characters long at maximum, in eighths of a character';

CREATE OR REPLACE FUNCTION scaler.hourly_chart(t scaler.traffic, width pg_catalog.int4 DEFAULT 40,
    OUT hour pg_catalog.text, OUT requests pg_catalog.int8, OUT p95_ms pg_catalog.numeric,
    OUT bar pg_catalog.text)
RETURNS SETOF record
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT pg_catalog.to_char(h.hour, 'Dy MM-DD HH24:MI') ||
           CASE WHEN pg_catalog.to_char(h.hour, 'OF') <>
                     pg_catalog.lag(pg_catalog.to_char(h.hour, 'OF')) OVER (ORDER BY h.hour)
                THEN ' ' || pg_catalog.to_char(h.hour, 'TZ') ELSE '' END,
           h.requests,
           pg_catalog.round(h.p95_ms::pg_catalog.numeric, 1),
           scaler.chart_bar(h.requests, pg_catalog.max(h.requests) OVER (), width)
    FROM scaler.hourly_requests(t) h
    WHERE scaler._chart_width(width) IS NOT NULL  -- (checked even where no bar is read)
    ORDER BY h.hour;
END;
COMMENT ON FUNCTION scaler.hourly_chart(scaler.traffic, pg_catalog.int4) IS
    'hourly_requests of a traffic value as a bar chart for psql: local hour, requests, p95, a bar scaled to the busiest hour';

CREATE OR REPLACE FUNCTION scaler.hourly_chart(
    since pg_catalog.timestamptz DEFAULT pg_catalog.now() - '24 hours'::pg_catalog.interval,
    until pg_catalog.timestamptz DEFAULT pg_catalog.now(),
    function_name pg_catalog.text DEFAULT NULL,
    source pg_catalog.regclass DEFAULT 'scaler.request_log',
    width pg_catalog.int4 DEFAULT 40,
    OUT hour pg_catalog.text, OUT requests pg_catalog.int8, OUT p95_ms pg_catalog.numeric,
    OUT bar pg_catalog.text)
RETURNS SETOF record
LANGUAGE sql STABLE PARALLEL RESTRICTED
BEGIN ATOMIC
    SELECT pg_catalog.to_char(h.hour, 'Dy MM-DD HH24:MI') ||
           CASE WHEN pg_catalog.to_char(h.hour, 'OF') <>
                     pg_catalog.lag(pg_catalog.to_char(h.hour, 'OF')) OVER (ORDER BY h.hour)
                THEN ' ' || pg_catalog.to_char(h.hour, 'TZ') ELSE '' END,
           h.requests,
           pg_catalog.round(h.p95_ms::pg_catalog.numeric, 1),
           scaler.chart_bar(h.requests, pg_catalog.max(h.requests) OVER (), width)
    FROM scaler.hourly_requests(since, until, function_name, source) h
    WHERE scaler._chart_width(width) IS NOT NULL  -- (checked even where no bar is read)
    ORDER BY h.hour;
END;
COMMENT ON FUNCTION scaler.hourly_chart(pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.text, pg_catalog.regclass, pg_catalog.int4) IS
    'hourly_requests read from a source as a bar chart for psql (default: the last 24 hours of scaler.request_log)';

-- ---------------------------------------------------------------------------
-- traffic_svg: hourly traffic, and the capacity a policy decided over it,
-- as a self-contained SVG picture (src/svg.c).
-- ---------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION scaler.traffic_svg(
    since         pg_catalog.timestamptz DEFAULT pg_catalog.now() - '24 hours'::pg_catalog.interval,
    until         pg_catalog.timestamptz DEFAULT pg_catalog.now(),
    function_name pg_catalog.text DEFAULT NULL,
    source        pg_catalog.regclass DEFAULT 'scaler.request_log',
    policy        pg_catalog.text DEFAULT NULL,
    width         pg_catalog.int4 DEFAULT 960,
    height        pg_catalog.int4 DEFAULT 360,
    replay        pg_catalog.bool DEFAULT false)
RETURNS pg_catalog.text
AS 'MODULE_PATHNAME', 'scaler_traffic_svg'
LANGUAGE C STABLE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION scaler.traffic_svg(pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.text, pg_catalog.regclass, pg_catalog.text, pg_catalog.int4, pg_catalog.int4, pg_catalog.bool) IS
    'hourly_requests of [since, until) read from a source, as the calling user, drawn as a self-contained SVG document: requests per local hour, busiest minute, p95, error hours; with policy, the capacity it decided (replay => true: scaler.backtest) and its floors';

CREATE OR REPLACE FUNCTION scaler.traffic_svg(
    t       scaler.traffic,
    policy  pg_catalog.text DEFAULT NULL,
    width   pg_catalog.int4 DEFAULT 960,
    height  pg_catalog.int4 DEFAULT 360,
    replay  pg_catalog.bool DEFAULT false)
RETURNS pg_catalog.text
AS 'MODULE_PATHNAME', 'scaler_traffic_svg_value'
LANGUAGE C STABLE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION scaler.traffic_svg(scaler.traffic, pg_catalog.text, pg_catalog.int4, pg_catalog.int4, pg_catalog.bool) IS
    'hourly_requests of a traffic value drawn as a self-contained SVG document; with policy, the capacity it decided over the value''s hours (replay => true: scaler.backtest) and its floors';

-- ---------------------------------------------------------------------------
-- Policies and evaluation.
-- ---------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION scaler.desired_capacity(
    metric                 text,
    target                 float8,
    current_capacity       integer,
    value                  float8,
    panic_value            float8 DEFAULT NULL,
    min_capacity           integer DEFAULT 0,
    max_capacity           integer DEFAULT 100,
    tolerance              float8 DEFAULT 0.1,
    panic_threshold        float8 DEFAULT 2.0,
    stable_window          interval DEFAULT '1 minute',
    scale_in_stabilization interval DEFAULT '5 minutes',
    floor                  integer DEFAULT 0,
    state                  scaler.decide_state DEFAULT NULL,
    at                     timestamptz DEFAULT pg_catalog.now(),
    OUT desired   integer,
    OUT reason    text,
    OUT panicking boolean,
    OUT new_state scaler.decide_state)
RETURNS record
AS 'MODULE_PATHNAME', 'scaler_desired_capacity'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION scaler.desired_capacity(text, float8, integer, float8, float8, integer, integer, float8, float8, interval, interval, integer, scaler.decide_state, timestamptz) IS
    'the decision rules alone (the same C code evaluate() runs): value is the metric over the stable window (NULL = no rows), panic_value over its last tenth; pass new_state back as state to chain evaluations';

CREATE OR REPLACE FUNCTION scaler.create_policy(
    name                   text,
    target                 float8,
    metric                 text DEFAULT 'concurrency',
    function_name          text DEFAULT NULL,
    source                 regclass DEFAULT 'scaler.request_log',
    stable_window          interval DEFAULT '1 minute',
    min_capacity           integer DEFAULT 0,
    max_capacity           integer DEFAULT 100,
    tolerance              float8 DEFAULT 0.1,
    scale_in_stabilization interval DEFAULT '5 minutes',
    panic_threshold        float8 DEFAULT 2.0,
    channel                text DEFAULT 'scaler',
    enabled                boolean DEFAULT true,
    keep_alive             text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.create_policy(text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean, text) IS
    'create a scaling policy owned by the calling role, which must be able to read the source; keep_alive is an interval, ''auto'' (learned from idle times) or NULL (none)';

CREATE OR REPLACE FUNCTION scaler.alter_policy(
    name                   text,
    target                 float8 DEFAULT NULL,
    metric                 text DEFAULT NULL,
    function_name          text DEFAULT NULL,
    source                 regclass DEFAULT NULL,
    stable_window          interval DEFAULT NULL,
    min_capacity           integer DEFAULT NULL,
    max_capacity           integer DEFAULT NULL,
    tolerance              float8 DEFAULT NULL,
    scale_in_stabilization interval DEFAULT NULL,
    panic_threshold        float8 DEFAULT NULL,
    channel                text DEFAULT NULL,
    enabled                boolean DEFAULT NULL,
    keep_alive             text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.alter_policy(text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean, text) IS
    'change the given settings of a policy (NULL keeps a setting; function_name => '''' means all functions; keep_alive => ''none'' removes the keep-alive)';

CREATE OR REPLACE FUNCTION scaler.drop_policy(name text)
RETURNS void
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.drop_policy(text) IS
    'drop a policy and its state (its decisions stay in scaler.decision)';

CREATE OR REPLACE FUNCTION scaler.set_capacity(policy text, capacity integer)
RETURNS void
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.set_capacity(text, integer) IS
    'record the capacity actually running for a policy; the next evaluation starts from it';

-- enable_bitmapscan = off: each policy reads a narrow window through the
-- (function_name, ts) index.  Generic plans estimate the range at 0.5% of
-- the rows, so on a big table the planner picks a bitmap scan, whose set-up
-- (a TID bitmap, a file size lookup) costs more than the window's few rows
-- and made a tick's cost grow with the table.  The worker sets the same.
CREATE OR REPLACE FUNCTION scaler.evaluate(policy text DEFAULT NULL)
RETURNS SETOF scaler.decision
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_bitmapscan = off
AS $$
DECLARE
    ids bigint[];
BEGIN
    ids := scaler._evaluate(evaluate.policy);
    RETURN QUERY SELECT d.* FROM scaler.decision d WHERE d.id = ANY (ids) ORDER BY d.id;
END
$$;
COMMENT ON FUNCTION scaler.evaluate(text) IS
    'evaluate every enabled policy (or the one named) now; returns the decisions made, each also NOTIFYed on its channel at commit';

-- ---------------------------------------------------------------------------
-- Backtest: replay a policy over stored history with the decision code of
-- live evaluation (src/backtest.c).
-- ---------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION scaler.backtest(
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
LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 1440
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION scaler.backtest(text, timestamptz, timestamptz, jsonb) IS
    'replay a policy over (since, until] with the decision code of live evaluation, one row per stable_window: the metric value, the instances it needed (demand), the capacity running (from_capacity) and decided (capacity), why, the shortfall (demand - from_capacity when positive), the requests that arrived and how many of them were cold starts (the instances they needed beyond from_capacity); overrides change settings for the replay only';

CREATE OR REPLACE FUNCTION scaler.backtest_summary(
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
LANGUAGE C STABLE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION scaler.backtest_summary(text, timestamptz, timestamptz, jsonb) IS
    'the totals of scaler.backtest(): scale-out and scale-in events, instance-hours run, minutes with a shortfall, the worst shortfall, demand over running capacity, the highest capacity, requests, cold starts (and 100 x cold_starts / requests), and warm-idle instance-hours (capacity beyond what the load kept busy)';

-- ---------------------------------------------------------------------------
-- Capacity floors, forecasts and scheduled capacity (pg_cron as the clock;
-- optional: only these functions need it).
-- ---------------------------------------------------------------------------

-- The floor rule is scaler._active_floors'.  No SET search_path (every name
-- is qualified): a SET clause would stop the planner from inlining it.
CREATE OR REPLACE FUNCTION scaler.active_floor(policy text, at timestamptz)
RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT COALESCE((SELECT a.floor FROM scaler._active_floors($2) a
                      WHERE a.policy OPERATOR(pg_catalog.=) $1), 0)
$$;
COMMENT ON FUNCTION scaler.active_floor(text, timestamptz) IS
    'the highest capacity floor active for a policy at a time (0 = none); evaluation clamps to it';

CREATE OR REPLACE FUNCTION scaler.forecast(
    policy   text,
    horizon  interval DEFAULT '48 hours',
    lookback interval DEFAULT '14 days',
    OUT hour     timestamptz,
    OUT expected float8,
    OUT high     float8,
    OUT capacity integer)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'scaler_forecast'
LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 48
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION scaler.forecast(text, interval, interval) IS
    'per local hour from now to now + horizon: the expected value of the policy''s metric and its 95th percentile (high), from the same hour of the week over lookback (hour of the day with under a week of history), and the capacity high needs at the policy''s target (load metrics)';

CREATE OR REPLACE FUNCTION scaler.open_floor(policy text, min_capacity integer, duration interval,
                                             origin text DEFAULT 'manual')
RETURNS bigint
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.open_floor(text, integer, interval, text) IS
    'keep a policy at min_capacity or more (never above max_capacity) from now for duration; returns the floor id';

CREATE OR REPLACE FUNCTION scaler.apply_forecast(policy text, lead interval DEFAULT '5 minutes')
RETURNS integer
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.apply_forecast(text, interval) IS
    'replace a policy''s forecast floors: for each hour of scaler.forecast() a floor of its capacity from lead before the hour to its end; returns the number of floors written';

CREATE OR REPLACE FUNCTION scaler.schedule_capacity(policy text, schedule text, min_capacity integer,
                                                    duration interval)
RETURNS bigint
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.schedule_capacity(text, text, integer, interval) IS
    'a pg_cron job that, whenever the cron schedule fires, keeps the policy at min_capacity or more for duration; returns the cron job id (needs pg_cron)';

CREATE OR REPLACE FUNCTION scaler.unschedule_capacity(policy text, schedule text DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.unschedule_capacity(text, text) IS
    'remove the scheduled-capacity jobs of a policy (only the one with this cron schedule when given); returns how many';

CREATE OR REPLACE FUNCTION scaler.schedule_forecast(policy text, every text DEFAULT '0 */6 * * *',
                                                    lead interval DEFAULT '5 minutes')
RETURNS bigint
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.schedule_forecast(text, text, interval) IS
    'a pg_cron job that refreshes the policy''s forecast floors (scaler.apply_forecast) on the cron schedule every; returns the cron job id (needs pg_cron)';

CREATE OR REPLACE FUNCTION scaler.unschedule_forecast(policy text)
RETURNS integer
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.unschedule_forecast(text) IS
    'remove the forecast-refresh job of a policy; returns how many (0 or 1)';

-- ---------------------------------------------------------------------------
-- scaler-listen: the functions the listener calls.
-- ---------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION scaler.listen_subscribe(subscription text, channel text,
                                                   from_now boolean DEFAULT false,
                                                   OUT after_id bigint, OUT latest_through bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION scaler.listen_subscribe(text, text, boolean) IS
    'used by scaler-listen: create (owned by the calling role) or resume a subscription and hold it in this session; catch-up reads after after_id, and of the decisions at or below latest_through only each policy''s newest';

CREATE OR REPLACE FUNCTION scaler.listen_acked(subscription text)
RETURNS TABLE (policy text, decision_id bigint)
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C STABLE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION scaler.listen_acked(text) IS
    'used by scaler-listen: per policy, the newest decision the subscription has acknowledged';

CREATE OR REPLACE FUNCTION scaler.listen_ack(subscription text, decision_id bigint,
                                             outcome text, acked_through bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION scaler.listen_ack(text, bigint, text, bigint) IS
    'used by scaler-listen: record that a decision was done or superseded, and that every decision up to acked_through is settled; returns false when it was already recorded';

CREATE OR REPLACE FUNCTION scaler.listen_policy_channels()
RETURNS TABLE (policy text, channel text)
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION scaler.listen_policy_channels() IS
    'used by scaler-listen: each policy and the channel it notifies on; needs SELECT on scaler.decision';

-- The decisions after an id, as the listener hands them to its command.  Runs
-- with the caller's privileges: reading decisions needs SELECT on
-- scaler.decision.  With a channel, for_channel says whether a decision is
-- meant for it: its policy's current channel is that one, or the policy no
-- longer exists (nothing says where its decisions belong, and skipping them
-- could lose one).  The others are returned too, so that the listener's
-- position moves past them instead of reading them again on every wake-up.
-- Of the decisions at or below latest_through only the newest of each policy
-- that exists is returned: what a new subscription starts with.  Nothing
-- above scaler._decision_horizon() is returned: a smaller id may still
-- commit, and reading after the last id returned would then skip it.  The
-- payload is scaler._decision_payload's, the very text NOTIFY carries.
CREATE OR REPLACE FUNCTION scaler.listen_decisions(after_id bigint, max_rows integer DEFAULT 1000,
                                                   channel text DEFAULT NULL,
                                                   latest_through bigint DEFAULT NULL)
RETURNS TABLE (id bigint, policy text, from_capacity integer,
               to_capacity integer, payload text, for_channel boolean)
LANGUAGE sql
STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH pc AS MATERIALIZED (
        SELECT c.policy, c.channel FROM scaler.listen_policy_channels() c
    )
    SELECT d.id, d.policy, d.from_capacity, d.to_capacity,
           scaler._decision_payload(d),
           listen_decisions.channel IS NULL
           OR NOT EXISTS (SELECT FROM pc
                          WHERE pc.policy = d.policy
                            AND pc.channel <> listen_decisions.channel)
    FROM scaler.decision d
    WHERE d.id > listen_decisions.after_id
      AND d.id <= (SELECT scaler._decision_horizon())
      AND (listen_decisions.latest_through IS NULL
           OR d.id > listen_decisions.latest_through
           OR (EXISTS (SELECT FROM pc WHERE pc.policy = d.policy)
               AND d.id = (SELECT max(n.id) FROM scaler.decision n
                           WHERE n.policy = d.policy
                             AND n.id <= listen_decisions.latest_through)))
    ORDER BY d.id
    LIMIT listen_decisions.max_rows
$$;
COMMENT ON FUNCTION scaler.listen_decisions(bigint, integer, text, bigint) IS
    'the decisions after an id in id order (of those at or below latest_through only each existing policy''s newest), each with the JSON document scaler-listen hands to its command, and whether it is meant for the channel (its policy notifies there, or no longer exists)';

-- ---------------------------------------------------------------------------
-- Rollups.
-- ---------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION scaler.create_rollup(source regclass DEFAULT 'scaler.request_log')
RETURNS void
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.create_rollup(regclass) IS
    'roll a source up per function and UTC day (the caller must own it; it must have no row-level security); the worker or refresh_rollup fills it in';

CREATE OR REPLACE FUNCTION scaler.drop_rollup(source regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.drop_rollup(regclass) IS
    'drop a source''s rollup: its triggers and slots (readers go back to the raw rows)';

CREATE OR REPLACE FUNCTION scaler.refresh_rollup(source regclass DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.refresh_rollup(regclass) IS
    'one bounded refresh step of a source''s rollup (NULL: of every rollup the caller manages); returns the slots written, 0 when up to date. For pg_cron, or instead of the worker';
