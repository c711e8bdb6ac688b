-- scaler extension script, assembled from src/sql/*.sql in file-name order.
\echo Use "CREATE EXTENSION scaler" to load this file. \quit

-- The default source: one row per request.  Any table or view with these
-- columns can serve as a source (a view renames yours).
CREATE TABLE scaler.request_log (
    ts            timestamptz,
    function_name text,
    duration_ms   float8 CHECK (duration_ms >= 0),
    status        integer,
    cold_start    boolean
);
CREATE INDEX request_log_function_ts_idx ON scaler.request_log (function_name, ts);
-- The rows are the user's data, not the extension's: pg_dump must keep them.
SELECT pg_catalog.pg_extension_config_dump('scaler.request_log', '');
COMMENT ON TABLE scaler.request_log IS
    'request log rows: ts (request start), function_name, duration_ms (NULL = unknown), status (>= 500 is an error), cold_start';
COMMENT ON COLUMN scaler.request_log.ts IS 'when the request started';
COMMENT ON COLUMN scaler.request_log.duration_ms IS 'how long it ran, in milliseconds; NULL when unknown';
COMMENT ON COLUMN scaler.request_log.status IS 'response status; 500 and above count as errors; NULL when unknown';
COMMENT ON COLUMN scaler.request_log.cold_start IS 'whether the request started a new instance';

-- Hourly traffic analytics: the scaler.traffic type, its aggregate and the
-- functions that turn it into gap-filled hourly rows.

-- The analytics read only what the caller may read (sources go through the
-- executor as the caller), so everyone may use them.
GRANT USAGE ON SCHEMA scaler TO PUBLIC;

CREATE TYPE scaler.traffic;

CREATE FUNCTION scaler.traffic_in(pg_catalog.cstring) RETURNS scaler.traffic
    AS 'MODULE_PATHNAME', 'traffic_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION scaler.traffic_out(scaler.traffic) RETURNS pg_catalog.cstring
    AS 'MODULE_PATHNAME', 'traffic_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION scaler.traffic_recv(pg_catalog.internal) RETURNS scaler.traffic
    AS 'MODULE_PATHNAME', 'traffic_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION scaler.traffic_send(scaler.traffic) RETURNS pg_catalog.bytea
    AS 'MODULE_PATHNAME', 'traffic_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION scaler.traffic_in(pg_catalog.cstring) IS
    'text input of scaler.traffic: "traffic:" and the base64 of its binary form, checked field by field';
COMMENT ON FUNCTION scaler.traffic_out(scaler.traffic) IS
    'text output of scaler.traffic; round-trips exactly through traffic_in';
COMMENT ON FUNCTION scaler.traffic_recv(pg_catalog.internal) IS
    'binary input of scaler.traffic, checked field by field';
COMMENT ON FUNCTION scaler.traffic_send(scaler.traffic) IS
    'binary output of scaler.traffic';

CREATE TYPE scaler.traffic (
    INPUT = scaler.traffic_in,
    OUTPUT = scaler.traffic_out,
    RECEIVE = scaler.traffic_recv,
    SEND = scaler.traffic_send,
    INTERNALLENGTH = VARIABLE,
    STORAGE = extended
);
COMMENT ON TYPE scaler.traffic IS
    'hourly traffic statistics of a group of request rows: per-minute counts and durations, per-hour errors and a latency sketch; size grows with hours, not rows';

-- Transition functions depend on the session TimeZone, hence STABLE.
CREATE FUNCTION scaler.traffic_agg_trans(scaler.traffic, pg_catalog.timestamptz)
    RETURNS scaler.traffic
    AS 'MODULE_PATHNAME', 'traffic_agg_trans' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION scaler.traffic_agg_trans(scaler.traffic, pg_catalog.timestamptz, pg_catalog.float8)
    RETURNS scaler.traffic
    AS 'MODULE_PATHNAME', 'traffic_agg_trans' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION scaler.traffic_agg_trans(scaler.traffic, pg_catalog.timestamptz, pg_catalog.float8, pg_catalog.int4)
    RETURNS scaler.traffic
    AS 'MODULE_PATHNAME', 'traffic_agg_trans' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION scaler.traffic_agg_combine(scaler.traffic, scaler.traffic)
    RETURNS scaler.traffic
    AS 'MODULE_PATHNAME', 'traffic_agg_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION scaler.traffic_agg_final(scaler.traffic)
    RETURNS scaler.traffic
    AS 'MODULE_PATHNAME', 'traffic_agg_final' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION scaler.traffic_agg_trans(scaler.traffic, pg_catalog.timestamptz) IS
    'transition function of scaler.traffic_agg(ts)';
COMMENT ON FUNCTION scaler.traffic_agg_trans(scaler.traffic, pg_catalog.timestamptz, pg_catalog.float8) IS
    'transition function of scaler.traffic_agg(ts, duration_ms)';
COMMENT ON FUNCTION scaler.traffic_agg_trans(scaler.traffic, pg_catalog.timestamptz, pg_catalog.float8, pg_catalog.int4) IS
    'transition function of scaler.traffic_agg(ts, duration_ms, status)';
COMMENT ON FUNCTION scaler.traffic_agg_combine(scaler.traffic, scaler.traffic) IS
    'combine function of scaler.traffic_agg: adds two partial states';
COMMENT ON FUNCTION scaler.traffic_agg_final(scaler.traffic) IS
    'final function of scaler.traffic_agg: the flat form of the state';

CREATE AGGREGATE scaler.traffic_agg(pg_catalog.timestamptz) (
    SFUNC = scaler.traffic_agg_trans,
    STYPE = scaler.traffic,
    FINALFUNC = scaler.traffic_agg_final,
    FINALFUNC_MODIFY = READ_ONLY,
    COMBINEFUNC = scaler.traffic_agg_combine,
    PARALLEL = SAFE
);
CREATE AGGREGATE scaler.traffic_agg(pg_catalog.timestamptz, pg_catalog.float8) (
    SFUNC = scaler.traffic_agg_trans,
    STYPE = scaler.traffic,
    FINALFUNC = scaler.traffic_agg_final,
    FINALFUNC_MODIFY = READ_ONLY,
    COMBINEFUNC = scaler.traffic_agg_combine,
    PARALLEL = SAFE
);
CREATE AGGREGATE scaler.traffic_agg(pg_catalog.timestamptz, pg_catalog.float8, pg_catalog.int4) (
    SFUNC = scaler.traffic_agg_trans,
    STYPE = scaler.traffic,
    FINALFUNC = scaler.traffic_agg_final,
    FINALFUNC_MODIFY = READ_ONLY,
    COMBINEFUNC = scaler.traffic_agg_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE scaler.traffic_agg(pg_catalog.timestamptz) IS
    'request counts per local hour of the session TimeZone (rows with NULL ts are skipped)';
COMMENT ON AGGREGATE scaler.traffic_agg(pg_catalog.timestamptz, pg_catalog.float8) IS
    'request counts and latency per local hour of the session TimeZone';
COMMENT ON AGGREGATE scaler.traffic_agg(pg_catalog.timestamptz, pg_catalog.float8, pg_catalog.int4) IS
    'request counts, errors (status >= 500) and latency per local hour of the session TimeZone';

CREATE AGGREGATE scaler.traffic_merge(scaler.traffic) (
    SFUNC = scaler.traffic_agg_combine,
    STYPE = scaler.traffic,
    FINALFUNC = scaler.traffic_agg_final,
    FINALFUNC_MODIFY = READ_ONLY,
    COMBINEFUNC = scaler.traffic_agg_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE scaler.traffic_merge(scaler.traffic) IS
    'adds traffic values together (e.g. daily values rolled up into a month); all must come from the same TimeZone';

CREATE FUNCTION scaler.hourly_requests(t scaler.traffic,
    OUT hour pg_catalog.timestamptz, OUT requests pg_catalog.int8, OUT errors pg_catalog.int8,
    OUT error_rate pg_catalog.float8, OUT p50_ms pg_catalog.float8, OUT p95_ms pg_catalog.float8,
    OUT p99_ms pg_catalog.float8, OUT max_ms pg_catalog.float8, OUT peak_rpm pg_catalog.int8,
    OUT avg_concurrency pg_catalog.float8, OUT peak_concurrency pg_catalog.float8)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'traffic_hourly_requests'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 24;
COMMENT ON FUNCTION scaler.hourly_requests(scaler.traffic) IS
    'one row per local hour from the first to the last hour of a traffic value, hours without traffic included';

CREATE FUNCTION scaler.hourly_requests(
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
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 24;
COMMENT ON FUNCTION scaler.hourly_requests(pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.text, pg_catalog.regclass) IS
    'one row per local hour of [since, until) read from a source (default: the last 24 hours of scaler.request_log), as the calling user';

CREATE FUNCTION scaler.hour_of_day(t scaler.traffic,
    OUT hour_of_day pg_catalog.int4, OUT days pg_catalog.int4, OUT requests pg_catalog.int8,
    OUT avg_requests pg_catalog.float8, OUT peak_requests pg_catalog.int8)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'traffic_hour_of_day'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 24;
COMMENT ON FUNCTION scaler.hour_of_day(scaler.traffic) IS
    '24 rows: per local hour of the day, how many such hours the value spans, their requests, average and busiest';

CREATE FUNCTION scaler.hour_of_week(t scaler.traffic,
    OUT dow pg_catalog.int4, OUT hour_of_day pg_catalog.int4, OUT days pg_catalog.int4,
    OUT requests pg_catalog.int8, OUT avg_requests pg_catalog.float8, OUT peak_requests pg_catalog.int8)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'traffic_hour_of_week'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 168;
COMMENT ON FUNCTION scaler.hour_of_week(scaler.traffic) IS
    '168 rows: per day of week (0 = Sunday) and local hour, how many such hours the value spans, their requests, average and busiest';

-- A psql-friendly chart of hourly traffic: one row per hour, a bar drawn in
-- Unicode block characters (eighth-block resolution) scaled to the busiest
-- hour, the count and p95.  40 columns of bar keep a row within 80.
-- SQL-standard bodies are parsed once, here, so the caller's search_path
-- cannot change what they call.

CREATE FUNCTION scaler.chart_bar(value pg_catalog.float8, maximum pg_catalog.float8,
                                 width pg_catalog.int4 DEFAULT 40)
RETURNS pg_catalog.text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
BEGIN ATOMIC
    SELECT CASE WHEN maximum <= 0 OR value <= 0 OR width <= 0 THEN ''
           ELSE pg_catalog.repeat(U&'\2588', (eighths / 8)::pg_catalog.int4) ||
                (ARRAY['', U&'\258F', U&'\258E', U&'\258D', U&'\258C', U&'\258B', U&'\258A', U&'\2589'])
                    [(eighths % 8)::pg_catalog.int4 + 1]
           END
    FROM (SELECT pg_catalog.round(LEAST(value / maximum, 1.0::pg_catalog.float8) * width * 8)::pg_catalog.int8
                 AS eighths) e;
END;
COMMENT ON FUNCTION scaler.chart_bar(pg_catalog.float8, pg_catalog.float8, pg_catalog.int4) IS
    'a bar of Unicode block characters, width characters long at maximum, in eighths of a character';

CREATE FUNCTION scaler.hourly_chart(t scaler.traffic, width pg_catalog.int4 DEFAULT 40,
    OUT hour pg_catalog.text, OUT requests pg_catalog.int8, OUT p95_ms pg_catalog.numeric,
    OUT bar pg_catalog.text)
RETURNS SETOF record
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT pg_catalog.to_char(h.hour, 'Dy MM-DD HH24:MI'), h.requests,
           pg_catalog.round(h.p95_ms::pg_catalog.numeric, 1),
           scaler.chart_bar(h.requests, pg_catalog.max(h.requests) OVER (), width)
    FROM scaler.hourly_requests(t) h
    ORDER BY h.hour;
END;
COMMENT ON FUNCTION scaler.hourly_chart(scaler.traffic, pg_catalog.int4) IS
    'hourly_requests of a traffic value as a bar chart for psql: local hour, requests, p95, a bar scaled to the busiest hour';

CREATE FUNCTION scaler.hourly_chart(
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
    SELECT pg_catalog.to_char(h.hour, 'Dy MM-DD HH24:MI'), h.requests,
           pg_catalog.round(h.p95_ms::pg_catalog.numeric, 1),
           scaler.chart_bar(h.requests, pg_catalog.max(h.requests) OVER (), width)
    FROM scaler.hourly_requests(since, until, function_name, source) h
    ORDER BY h.hour;
END;
COMMENT ON FUNCTION scaler.hourly_chart(pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.text, pg_catalog.regclass, pg_catalog.int4) IS
    'hourly_requests read from a source as a bar chart for psql (default: the last 24 hours of scaler.request_log)';

-- The decision log: the durable record of every scaling decision.  NOTIFY is
-- only the wake-up; listeners trust and catch up from this table.
CREATE TABLE scaler.decision (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    policy        text NOT NULL,
    decided_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    metric        text NOT NULL,
    value         float8,
    target        float8 NOT NULL,
    from_capacity integer NOT NULL,
    to_capacity   integer NOT NULL,
    reason        text NOT NULL
);
CREATE INDEX decision_policy_id_idx ON scaler.decision (policy, id);
COMMENT ON TABLE scaler.decision IS
    'every scaling decision, in commit order of id; listeners catch up from here after the last id they saw';
SELECT pg_catalog.pg_extension_config_dump('scaler.decision', '');
-- and the id sequence, so restored logs go on with fresh ids
SELECT pg_catalog.pg_extension_config_dump('scaler.decision_id_seq', '');

-- ---------------------------------------------------------------------------
-- Policies, their state, the decision rules and evaluation.
-- ---------------------------------------------------------------------------

-- Retention deletes by age every evaluation; keep that an index range scan.
CREATE INDEX decision_decided_at_idx ON scaler.decision (decided_at);

-- What the decision rules remember between evaluations.
CREATE TYPE scaler.decide_state AS (
    panic_at        timestamptz,    -- last time the panic condition held; NULL = not panicking
    panic_capacity  integer,        -- highest capacity chosen while panicking
    history_at      timestamptz[],  -- scale-in stabilization history (monotonic queue)
    history_desired integer[]
);
COMMENT ON TYPE scaler.decide_state IS
    'state the decision rules carry from one evaluation to the next: panic mode and the scale-in stabilization history';

CREATE FUNCTION scaler.desired_capacity(
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

-- Policies: configuration only.  Runtime state is in scaler.policy_state.
CREATE TABLE scaler.policy (
    name                   text PRIMARY KEY
                           CHECK (name <> '' AND pg_catalog.octet_length(name) < 64),
    owner                  regrole NOT NULL,
    metric                 text NOT NULL
                           CHECK (metric IN ('concurrency', 'rps', 'p95_ms', 'error_rate')),
    target                 float8 NOT NULL CHECK (target > 0 AND target < 'infinity'),
    function_name          text,
    source                 regclass NOT NULL,
    stable_window          interval NOT NULL CHECK (stable_window > '0'),
    min_capacity           integer NOT NULL CHECK (min_capacity >= 0),
    max_capacity           integer NOT NULL,
    tolerance              float8 NOT NULL CHECK (tolerance >= 0 AND tolerance < 1),
    scale_in_stabilization interval NOT NULL CHECK (scale_in_stabilization >= '0'),
    panic_threshold        float8 NOT NULL CHECK (panic_threshold >= 1 AND panic_threshold < 'infinity'),
    channel                text NOT NULL
                           CHECK (channel <> '' AND pg_catalog.octet_length(channel) < 64),
    enabled                boolean NOT NULL DEFAULT true,
    created_at             timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CHECK (max_capacity >= min_capacity)
);
COMMENT ON TABLE scaler.policy IS
    'scaling policies (change them with scaler.create_policy, alter_policy, drop_policy; read scaler.policies)';
SELECT pg_catalog.pg_extension_config_dump('scaler.policy', '');

CREATE TABLE scaler.policy_state (
    policy            text PRIMARY KEY
                      REFERENCES scaler.policy (name) ON DELETE CASCADE ON UPDATE CASCADE,
    capacity          integer NOT NULL CHECK (capacity >= 0),
    capacity_set_at   timestamptz,
    last_value        float8,
    last_evaluated_at timestamptz,
    last_decision_id  bigint,
    last_error        text,
    last_error_at     timestamptz,
    panic_at          timestamptz,
    panic_capacity    integer,
    history_at        timestamptz[] NOT NULL DEFAULT '{}',
    history_desired   integer[] NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE scaler.policy_state IS
    'per-policy runtime state: capacity, last value and error, panic mode and the scale-in stabilization history; evaluation locks a policy''s row';

-- No SET search_path: the body names nothing, and a SET clause would stop
-- the planner from inlining it into every tick's policy query.
CREATE FUNCTION scaler.active_floor(policy text, at timestamptz)
RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT 0 $$;
COMMENT ON FUNCTION scaler.active_floor(text, timestamptz) IS
    'the capacity floor active for a policy at a time (0 = none); evaluation clamps to it. Capacity floors replace this function';

-- The calling-role trampoline (see src/policy.c): public C functions pass
-- the caller to these SECURITY DEFINER internals, which nobody may call.

CREATE FUNCTION scaler._may_manage(invoker oid, owner oid)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE oid = invoker AND rolsuper)
        OR (EXISTS (SELECT FROM pg_catalog.pg_roles WHERE oid = owner)
            AND pg_catalog.pg_has_role(invoker, owner, 'USAGE'))
$$;
COMMENT ON FUNCTION scaler._may_manage(oid, oid) IS
    'internal: whether a role may change a policy (superuser, or has the privileges of its owner)';

CREATE FUNCTION scaler._check_policy(p scaler.policy)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    col    text;
    typ    regtype;
    needed text[] := ARRAY['ts'];
BEGIN
    IF p.name IS NULL OR p.name = '' OR octet_length(p.name) > 63 THEN
        RAISE EXCEPTION 'policy name must be 1 to 63 bytes long'
            USING ERRCODE = '22023';
    END IF;
    IF p.target IS NULL OR p.target = 'NaN' OR p.target <= 0 OR p.target = 'infinity' THEN
        RAISE EXCEPTION 'target must be a finite number greater than zero'
            USING ERRCODE = '22023';
    END IF;
    IF p.metric IS NULL OR p.metric NOT IN ('concurrency', 'rps', 'p95_ms', 'error_rate') THEN
        RAISE EXCEPTION 'unknown metric "%"', p.metric
            USING ERRCODE = '22023',
                  HINT = 'Valid metrics are concurrency, rps, p95_ms and error_rate.';
    END IF;
    IF p.function_name = '' THEN
        RAISE EXCEPTION 'function_name must not be empty'
            USING ERRCODE = '22023',
                  HINT = 'Use NULL for a policy over all functions.';
    END IF;
    IF p.source IS NULL THEN
        RAISE EXCEPTION 'source must not be null' USING ERRCODE = '22023';
    END IF;
    IF p.stable_window IS NULL OR p.stable_window <= '0' THEN
        RAISE EXCEPTION 'stable_window must be greater than zero'
            USING ERRCODE = '22023';
    END IF;
    IF p.min_capacity IS NULL OR p.min_capacity < 0 THEN
        RAISE EXCEPTION 'min_capacity must not be negative' USING ERRCODE = '22023';
    END IF;
    IF p.max_capacity IS NULL OR p.max_capacity < p.min_capacity THEN
        RAISE EXCEPTION 'max_capacity must not be less than min_capacity'
            USING ERRCODE = '22023',
                  DETAIL = format('min_capacity is %s, max_capacity is %s.',
                                  p.min_capacity, p.max_capacity);
    END IF;
    IF p.tolerance IS NULL OR p.tolerance = 'NaN' OR p.tolerance < 0 OR p.tolerance >= 1 THEN
        RAISE EXCEPTION 'tolerance must be at least 0 and less than 1'
            USING ERRCODE = '22023';
    END IF;
    IF p.scale_in_stabilization IS NULL OR p.scale_in_stabilization < '0' THEN
        RAISE EXCEPTION 'scale_in_stabilization must not be negative'
            USING ERRCODE = '22023';
    END IF;
    IF p.panic_threshold IS NULL OR p.panic_threshold = 'NaN' OR p.panic_threshold < 1
       OR p.panic_threshold = 'infinity' THEN
        RAISE EXCEPTION 'panic_threshold must be a finite number of at least 1'
            USING ERRCODE = '22023';
    END IF;
    IF p.channel IS NULL OR p.channel = '' OR octet_length(p.channel) > 63 THEN
        RAISE EXCEPTION 'channel must be 1 to 63 bytes long' USING ERRCODE = '22023';
    END IF;

    -- the source must have the columns this metric reads
    IF p.function_name IS NOT NULL THEN
        needed := needed || 'function_name'::text;
    END IF;
    IF p.metric IN ('concurrency', 'p95_ms') THEN
        needed := needed || 'duration_ms'::text;
    ELSIF p.metric = 'error_rate' THEN
        needed := needed || 'status'::text;
    END IF;
    FOREACH col IN ARRAY needed LOOP
        SELECT a.atttypid::regtype INTO typ
          FROM pg_catalog.pg_attribute a
         WHERE a.attrelid = p.source AND a.attname = col
           AND a.attnum > 0 AND NOT a.attisdropped;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'source % has no column "%"', p.source, col
                USING ERRCODE = '42703',
                      DETAIL = format('A policy with metric %s reads columns %s.',
                                      p.metric, array_to_string(needed, ', ')),
                      HINT = 'Create a view that renames your columns to ts, function_name, duration_ms and status.';
        END IF;
        IF (col = 'ts' AND typ <> 'timestamptz'::regtype)
           OR (col = 'function_name' AND typ NOT IN ('text'::regtype, 'varchar'::regtype))
           OR (col = 'duration_ms' AND typ NOT IN ('float8'::regtype, 'float4'::regtype,
                   'numeric'::regtype, 'int2'::regtype, 'int4'::regtype, 'int8'::regtype))
           OR (col = 'status' AND typ NOT IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)) THEN
            RAISE EXCEPTION 'column "%" of source % has type %', col, p.source, typ
                USING ERRCODE = '22023',
                      DETAIL = CASE col
                          WHEN 'ts' THEN 'ts must be timestamp with time zone.'
                          WHEN 'function_name' THEN 'function_name must be text.'
                          WHEN 'duration_ms' THEN 'duration_ms must be a number.'
                          ELSE 'status must be an integer.' END;
        END IF;
        -- the policy reads its source as its owner
        IF NOT pg_catalog.has_column_privilege(p.owner::oid, p.source, col, 'SELECT') THEN
            RAISE EXCEPTION 'permission denied for table %', p.source
                USING ERRCODE = '42501',
                      DETAIL = format('Policy owner %s cannot read column "%s"; a policy reads its source with its owner''s privileges.',
                                      p.owner, col);
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION scaler._check_policy(scaler.policy) IS
    'internal: validate a policy row, naming the offending field';

CREATE FUNCTION scaler._create_policy(
    invoker oid, name text, target float8, metric text, function_name text,
    source regclass, stable_window interval, min_capacity integer,
    max_capacity integer, tolerance float8, scale_in_stabilization interval,
    panic_threshold float8, channel text, enabled boolean)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p scaler.policy;
BEGIN
    p.name := name;
    p.owner := invoker::regrole;
    p.metric := metric;
    p.target := target;
    p.function_name := function_name;
    p.source := source;
    p.stable_window := stable_window;
    p.min_capacity := min_capacity;
    p.max_capacity := max_capacity;
    p.tolerance := tolerance;
    p.scale_in_stabilization := scale_in_stabilization;
    p.panic_threshold := panic_threshold;
    p.channel := channel;
    p.enabled := coalesce(enabled, true);
    p.created_at := now();
    PERFORM scaler._check_policy(p);

    IF EXISTS (SELECT FROM scaler.policy q WHERE q.name = p.name) THEN
        RAISE EXCEPTION 'policy "%" already exists', p.name
            USING ERRCODE = '42710';
    END IF;
    INSERT INTO scaler.policy SELECT p.*;
    INSERT INTO scaler.policy_state (policy, capacity) VALUES (p.name, p.min_capacity);
END
$$;
COMMENT ON FUNCTION scaler._create_policy(oid, text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean) IS
    'internal: body of scaler.create_policy, called with the calling role';

CREATE FUNCTION scaler.create_policy(
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
    enabled                boolean DEFAULT true)
RETURNS void
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.create_policy(text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean) IS
    'create a scaling policy owned by the calling role, which must be able to read the source';

CREATE FUNCTION scaler._alter_policy(
    invoker oid, name text, target float8, metric text, function_name text,
    source regclass, stable_window interval, min_capacity integer,
    max_capacity integer, tolerance float8, scale_in_stabilization interval,
    panic_threshold float8, channel text, enabled boolean)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p scaler.policy;
BEGIN
    SELECT * INTO p FROM scaler.policy q WHERE q.name = _alter_policy.name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'policy "%" does not exist', _alter_policy.name
            USING ERRCODE = '42704';
    END IF;
    IF NOT scaler._may_manage(invoker, p.owner) THEN
        RAISE EXCEPTION 'must be able to act as role % to alter policy "%"', p.owner, p.name
            USING ERRCODE = '42501';
    END IF;
    p.target := coalesce(target, p.target);
    p.metric := coalesce(metric, p.metric);
    -- '' switches the policy to all functions
    p.function_name := CASE WHEN function_name = '' THEN NULL
                            ELSE coalesce(function_name, p.function_name) END;
    p.source := coalesce(source, p.source);
    p.stable_window := coalesce(stable_window, p.stable_window);
    p.min_capacity := coalesce(min_capacity, p.min_capacity);
    p.max_capacity := coalesce(max_capacity, p.max_capacity);
    p.tolerance := coalesce(tolerance, p.tolerance);
    p.scale_in_stabilization := coalesce(scale_in_stabilization, p.scale_in_stabilization);
    p.panic_threshold := coalesce(panic_threshold, p.panic_threshold);
    p.channel := coalesce(channel, p.channel);
    p.enabled := coalesce(enabled, p.enabled);
    PERFORM scaler._check_policy(p);

    UPDATE scaler.policy q
       SET metric = p.metric, target = p.target, function_name = p.function_name,
           source = p.source, stable_window = p.stable_window,
           min_capacity = p.min_capacity, max_capacity = p.max_capacity,
           tolerance = p.tolerance, scale_in_stabilization = p.scale_in_stabilization,
           panic_threshold = p.panic_threshold, channel = p.channel, enabled = p.enabled
     WHERE q.name = p.name;
END
$$;
COMMENT ON FUNCTION scaler._alter_policy(oid, text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean) IS
    'internal: body of scaler.alter_policy, called with the calling role';

CREATE FUNCTION scaler.alter_policy(
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
    enabled                boolean DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.alter_policy(text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean) IS
    'change the given settings of a policy (NULL keeps a setting; function_name => '''' means all functions)';

CREATE FUNCTION scaler._drop_policy(invoker oid, name text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    owner regrole;
BEGIN
    SELECT q.owner INTO owner FROM scaler.policy q WHERE q.name = _drop_policy.name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'policy "%" does not exist', _drop_policy.name
            USING ERRCODE = '42704';
    END IF;
    IF NOT scaler._may_manage(invoker, owner) THEN
        RAISE EXCEPTION 'must be able to act as role % to drop policy "%"', owner, _drop_policy.name
            USING ERRCODE = '42501';
    END IF;
    DELETE FROM scaler.policy q WHERE q.name = _drop_policy.name;
END
$$;
COMMENT ON FUNCTION scaler._drop_policy(oid, text) IS
    'internal: body of scaler.drop_policy, called with the calling role';

CREATE FUNCTION scaler.drop_policy(name text)
RETURNS void
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.drop_policy(text) IS
    'drop a policy and its state (its decisions stay in scaler.decision)';

CREATE FUNCTION scaler._set_capacity(invoker oid, policy text, capacity integer)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    owner regrole;
BEGIN
    SELECT q.owner INTO owner FROM scaler.policy q WHERE q.name = _set_capacity.policy;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'policy "%" does not exist', _set_capacity.policy
            USING ERRCODE = '42704';
    END IF;
    IF capacity IS NULL OR capacity < 0 THEN
        RAISE EXCEPTION 'capacity must not be null or negative' USING ERRCODE = '22023';
    END IF;
    IF NOT scaler._may_manage(invoker, owner) THEN
        RAISE EXCEPTION 'must be able to act as role % to set the capacity of policy "%"',
            owner, _set_capacity.policy
            USING ERRCODE = '42501';
    END IF;
    INSERT INTO scaler.policy_state AS s (policy, capacity, capacity_set_at)
    VALUES (_set_capacity.policy, capacity, now())
    ON CONFLICT ON CONSTRAINT policy_state_pkey DO UPDATE
        SET capacity = excluded.capacity, capacity_set_at = excluded.capacity_set_at;
END
$$;
COMMENT ON FUNCTION scaler._set_capacity(oid, text, integer) IS
    'internal: body of scaler.set_capacity, called with the calling role';

CREATE FUNCTION scaler.set_capacity(policy text, capacity integer)
RETURNS void
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.set_capacity(text, integer) IS
    'record the capacity actually running for a policy; the next evaluation starts from it';

CREATE FUNCTION scaler._evaluate(policy text)
RETURNS bigint[]
AS 'MODULE_PATHNAME', 'scaler_evaluate_internal'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler._evaluate(text) IS
    'internal: evaluate policies, return the ids of the decisions made';

-- enable_bitmapscan = off: each policy reads a narrow window through the
-- (function_name, ts) index.  Generic plans estimate the range at 0.5% of
-- the rows, so on a big table the planner picks a bitmap scan, whose set-up
-- (a TID bitmap, a file size lookup) costs more than the window's few rows
-- and made a tick's cost grow with the table.  The worker sets the same.
CREATE FUNCTION scaler.evaluate(policy text DEFAULT NULL)
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

CREATE VIEW scaler.policies AS
SELECT p.name, p.owner, p.metric, p.target, p.function_name, p.source,
       p.stable_window, p.min_capacity, p.max_capacity, p.tolerance,
       p.scale_in_stabilization, p.panic_threshold, p.channel, p.enabled,
       s.capacity, s.capacity_set_at, s.last_value, s.last_evaluated_at,
       s.last_decision_id, s.panic_at IS NOT NULL AS panicking,
       s.last_error, s.last_error_at,
       (s.last_error_at IS NOT NULL
        AND (s.last_evaluated_at IS NULL OR s.last_error_at > s.last_evaluated_at)) AS failing,
       p.created_at
  FROM scaler.policy p
  LEFT JOIN scaler.policy_state s ON s.policy = p.name;
COMMENT ON VIEW scaler.policies IS
    'each policy with its capacity now, last value and last error: SELECT capacity FROM scaler.policies WHERE name = ''api'' is the one number an autoscaler (KEDA) needs';

COMMENT ON COLUMN scaler.policies.capacity IS 'capacity running now: the last decision, or what scaler.set_capacity recorded';
COMMENT ON COLUMN scaler.policies.capacity_set_at IS 'when scaler.set_capacity last recorded the capacity';
COMMENT ON COLUMN scaler.policies.last_value IS 'the metric over the stable window at the last successful evaluation (NULL: no data)';
COMMENT ON COLUMN scaler.policies.last_evaluated_at IS 'the last successful evaluation';
COMMENT ON COLUMN scaler.policies.last_decision_id IS 'scaler.decision.id of the policy''s last decision';
COMMENT ON COLUMN scaler.policies.panicking IS 'whether the policy is in panic mode (no scale in)';
COMMENT ON COLUMN scaler.policies.last_error IS 'the error of the last failed evaluation';
COMMENT ON COLUMN scaler.policies.failing IS 'whether the last evaluation failed';
COMMENT ON COLUMN scaler.policy_state.history_at IS 'scale-in stabilization history: times, a monotonic queue with history_desired';
COMMENT ON COLUMN scaler.policy_state.history_desired IS 'scale-in stabilization history: desired capacities, strictly decreasing';
COMMENT ON COLUMN scaler.policy_state.panic_at IS 'last time the panic condition held; NULL when not panicking';
COMMENT ON COLUMN scaler.policy_state.panic_capacity IS 'highest capacity chosen during the current panic';

-- Privileges.  Managing policies is the EXECUTE right on these functions;
-- grant it per role.  The internals are reached only through the
-- trampoline, which skips the EXECUTE check, so nobody needs them.
REVOKE ALL ON FUNCTION scaler.create_policy(text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.alter_policy(text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.drop_policy(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.set_capacity(text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.evaluate(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._create_policy(oid, text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._alter_policy(oid, text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._drop_policy(oid, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._set_capacity(oid, text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._evaluate(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._check_policy(scaler.policy) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._may_manage(oid, oid) FROM PUBLIC;

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

-- The policy a caller names, provided the caller may manage it: one place
-- for the "does not exist" (42704) and "must be able to act as" (42501)
-- checks that every management function starts with.
CREATE FUNCTION scaler._managed_policy(invoker oid, policy text, action text)
RETURNS scaler.policy
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p scaler.policy;
BEGIN
    SELECT * INTO p FROM scaler.policy q WHERE q.name = _managed_policy.policy;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'policy "%" does not exist', _managed_policy.policy
            USING ERRCODE = '42704';
    END IF;
    IF NOT scaler._may_manage(invoker, p.owner) THEN
        RAISE EXCEPTION 'must be able to act as role % to % policy "%"', p.owner, action, p.name
            USING ERRCODE = '42501';
    END IF;
    RETURN p;
END
$$;
REVOKE ALL ON FUNCTION scaler._managed_policy(oid, text, text) FROM PUBLIC;
COMMENT ON FUNCTION scaler._managed_policy(oid, text, text) IS
    'internal: the named policy, after checking that it exists and that invoker may manage it';

-- The settings a replay or forecast uses: the policy's, with overrides.
-- Called only from C (src/backtest.c) through fmgr with the real caller as
-- invoker; nobody may EXECUTE it.
CREATE FUNCTION scaler._policy_settings(invoker oid, policy text, overrides jsonb)
RETURNS scaler.policy
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p    scaler.policy;
    key  text;
    val  jsonb;
    txt  text;
    known CONSTANT text[] := ARRAY['target', 'metric', 'function_name', 'source',
        'stable_window', 'min_capacity', 'max_capacity', 'tolerance',
        'scale_in_stabilization', 'panic_threshold', 'channel', 'enabled'];
BEGIN
    p := scaler._managed_policy(invoker, _policy_settings.policy, 'replay or forecast');

    overrides := coalesce(overrides, '{}');
    IF jsonb_typeof(overrides) <> 'object' THEN
        RAISE EXCEPTION 'overrides must be a JSON object'
            USING ERRCODE = '22023',
                  DETAIL = format('Got a JSON %s.', jsonb_typeof(overrides)),
                  HINT = 'Name the settings to change, e.g. ''{"target": 8, "scale_in_stabilization": "10 minutes"}''.';
    END IF;

    FOR key, val IN SELECT e.key, e.value FROM jsonb_each(overrides) e LOOP
        IF NOT key = ANY (known) THEN
            RAISE EXCEPTION 'unknown override "%"', key
                USING ERRCODE = '22023',
                      HINT = 'Overrides are policy settings: ' || array_to_string(known, ', ') || '.';
        END IF;
        IF jsonb_typeof(val) IN ('object', 'array')
           OR (jsonb_typeof(val) = 'null' AND key <> 'function_name') THEN
            RAISE EXCEPTION 'invalid value for override "%": %', key, val
                USING ERRCODE = '22023',
                      HINT = CASE WHEN key = 'function_name' THEN NULL
                                  ELSE 'Give a number or a string.' END;
        END IF;
        txt := val #>> '{}';
        BEGIN
            CASE key
                WHEN 'target' THEN p.target := txt::float8;
                WHEN 'metric' THEN p.metric := txt;
                -- null or '' replays over all functions, as in alter_policy
                WHEN 'function_name' THEN p.function_name := nullif(txt, '');
                WHEN 'source' THEN p.source := txt::regclass;
                WHEN 'stable_window' THEN p.stable_window := txt::interval;
                WHEN 'min_capacity' THEN p.min_capacity := txt::integer;
                WHEN 'max_capacity' THEN p.max_capacity := txt::integer;
                WHEN 'tolerance' THEN p.tolerance := txt::float8;
                WHEN 'scale_in_stabilization' THEN p.scale_in_stabilization := txt::interval;
                WHEN 'panic_threshold' THEN p.panic_threshold := txt::float8;
                WHEN 'channel' THEN p.channel := txt;
                WHEN 'enabled' THEN p.enabled := txt::boolean;
            END CASE;
        EXCEPTION WHEN OTHERS THEN
            RAISE EXCEPTION 'invalid value for override "%": %', key, SQLERRM
                USING ERRCODE = '22023';
        END;
    END LOOP;

    -- the same checks as create_policy, naming the field; the replay reads
    -- the source as the policy owner, who must be able to read it
    PERFORM scaler._check_policy(p);
    RETURN p;
END
$$;
COMMENT ON FUNCTION scaler._policy_settings(oid, text, jsonb) IS
    'internal: a policy''s settings with overrides applied and checked, for a caller who may manage it';
REVOKE ALL ON FUNCTION scaler._policy_settings(oid, text, jsonb) FROM PUBLIC;

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
    OUT shortfall     integer)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'scaler_backtest'
LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 1440;
COMMENT ON FUNCTION scaler.backtest(text, timestamptz, timestamptz, jsonb) IS
    'replay a policy over (since, until] with the decision code of live evaluation, one row per stable_window: the metric value, the instances it needed (demand), the capacity running (from_capacity) and decided (capacity), why, and the shortfall (demand - from_capacity when positive); overrides change settings for the replay only';

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
    OUT peak_capacity          integer)
RETURNS record
AS 'MODULE_PATHNAME', 'scaler_backtest_summary'
LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION scaler.backtest_summary(text, timestamptz, timestamptz, jsonb) IS
    'the totals of scaler.backtest(): scale-out and scale-in events, instance-hours run, minutes with a shortfall, the worst shortfall, demand over running capacity, the highest capacity';

-- ---------------------------------------------------------------------------
-- Capacity floors, the forecast that writes them, and scheduled capacity
-- through pg_cron (optional: only these functions need it).
-- ---------------------------------------------------------------------------

-- A floor keeps a policy at or above min_capacity from starts to ends.
-- Live evaluation and backtests clamp to the highest active floor (and
-- then to max_capacity, which stays the hard ceiling).
CREATE TABLE scaler.capacity_floor (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    policy       text NOT NULL
                 REFERENCES scaler.policy (name) ON DELETE CASCADE ON UPDATE CASCADE,
    starts       timestamptz NOT NULL,
    ends         timestamptz NOT NULL,
    min_capacity integer NOT NULL CHECK (min_capacity >= 0),
    origin       text NOT NULL CHECK (origin <> ''),
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CHECK (ends > starts)
);
-- Active floors are found among the floors that have not ended (few: a
-- forecast writes one per hour ahead); with starts and min_capacity in the
-- index that is an index-only scan.
CREATE INDEX capacity_floor_policy_ends_idx ON scaler.capacity_floor (policy, ends)
    INCLUDE (starts, min_capacity);
COMMENT ON TABLE scaler.capacity_floor IS
    'capacity floors: policy runs at least min_capacity (never above max_capacity) in [starts, ends); origin is forecast, schedule or manual';
SELECT pg_catalog.pg_extension_config_dump('scaler.capacity_floor', '');
SELECT pg_catalog.pg_extension_config_dump('scaler.capacity_floor_id_seq', '');

-- Evaluation (src/evaluate.c) asks this function for the floor of every
-- policy it evaluates; until now it answered 0.  No SET search_path (every
-- name is qualified): a SET clause would make each call save and restore
-- the setting, once per policy per tick.
CREATE OR REPLACE FUNCTION scaler.active_floor(policy text, at timestamptz)
RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT COALESCE(pg_catalog.max(f.min_capacity), 0)
      FROM scaler.capacity_floor f
     WHERE f.policy OPERATOR(pg_catalog.=) $1
       AND f.ends OPERATOR(pg_catalog.>) $2
       AND f.starts OPERATOR(pg_catalog.<=) $2
$$;
COMMENT ON FUNCTION scaler.active_floor(text, timestamptz) IS
    'the highest capacity floor active for a policy at a time (0 = none); evaluation clamps to it';

-- The floors of a policy overlapping [since, until], for the replay.
-- Called only from C (src/backtest.c) through fmgr, after the caller was
-- checked by scaler._policy_settings.
CREATE FUNCTION scaler._policy_floors(policy text, since timestamptz, until timestamptz,
    OUT starts timestamptz[], OUT ends timestamptz[], OUT min_capacity integer[])
RETURNS record
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.array_agg(f.starts ORDER BY f.id),
           pg_catalog.array_agg(f.ends ORDER BY f.id),
           pg_catalog.array_agg(f.min_capacity ORDER BY f.id)
      FROM scaler.capacity_floor f
     WHERE f.policy = $1
       AND f.ends OPERATOR(pg_catalog.>) $2
       AND f.starts OPERATOR(pg_catalog.<=) $3
$$;
COMMENT ON FUNCTION scaler._policy_floors(text, timestamptz, timestamptz) IS
    'internal: the capacity floors of a policy overlapping [since, until], as parallel arrays';
REVOKE ALL ON FUNCTION scaler._policy_floors(text, timestamptz, timestamptz) FROM PUBLIC;

CREATE FUNCTION scaler.forecast(
    policy   text,
    horizon  interval DEFAULT '48 hours',
    lookback interval DEFAULT '14 days',
    OUT hour     timestamptz,
    OUT expected float8,
    OUT high     float8,
    OUT capacity integer)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'scaler_forecast'
LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 48;
COMMENT ON FUNCTION scaler.forecast(text, interval, interval) IS
    'per local hour from now to now + horizon: the expected value of the policy''s metric and its 95th percentile (high), from the same hour of the week over lookback (hour of the day with under a week of history), and the capacity high needs at the policy''s target (load metrics)';

-- Opening a floor: by hand, or from a scheduled pg_cron job.
CREATE FUNCTION scaler._open_floor(invoker oid, policy text, min_capacity integer,
                                   duration interval, origin text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p  scaler.policy;
    id bigint;
BEGIN
    p := scaler._managed_policy(invoker, _open_floor.policy, 'open a floor for');
    IF min_capacity IS NULL OR min_capacity < 0 THEN
        RAISE EXCEPTION 'min_capacity must not be null or negative' USING ERRCODE = '22023';
    END IF;
    IF duration IS NULL OR duration <= '0' THEN
        RAISE EXCEPTION 'duration must be greater than zero' USING ERRCODE = '22023';
    END IF;
    IF origin IS NULL OR origin = '' THEN
        RAISE EXCEPTION 'origin must not be empty' USING ERRCODE = '22023';
    END IF;
    -- max_capacity stays the ceiling (it may have been lowered since scheduling)
    INSERT INTO scaler.capacity_floor AS f (policy, starts, ends, min_capacity, origin)
    VALUES (p.name, now(), now() + duration, least(min_capacity, p.max_capacity), origin)
    RETURNING f.id INTO id;
    RETURN id;
END
$$;
COMMENT ON FUNCTION scaler._open_floor(oid, text, integer, interval, text) IS
    'internal: body of scaler.open_floor, called with the calling role';

CREATE FUNCTION scaler.open_floor(policy text, min_capacity integer, duration interval,
                                  origin text DEFAULT 'manual')
RETURNS bigint
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.open_floor(text, integer, interval, text) IS
    'keep a policy at min_capacity or more (never above max_capacity) from now for duration; returns the floor id';

CREATE FUNCTION scaler._apply_forecast(invoker oid, policy text, lead interval)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p         scaler.policy;
    n         integer;
    retention text;
BEGIN
    p := scaler._managed_policy(invoker, _apply_forecast.policy, 'apply a forecast to');
    IF lead IS NULL OR lead < '0' THEN
        RAISE EXCEPTION 'lead must not be null or negative' USING ERRCODE = '22023';
    END IF;
    IF p.metric NOT IN ('concurrency', 'rps') THEN
        RAISE EXCEPTION 'policy "%" scales on %, which a forecast cannot turn into capacity', p.name, p.metric
            USING ERRCODE = '22023',
                  DETAIL = 'For quality metrics the capacity needed depends on the capacity running.',
                  HINT = 'Forecast floors need a load metric (concurrency or rps); scaler.forecast() still shows the expected values.';
    END IF;

    -- the new forecast replaces what is left of the previous one
    DELETE FROM scaler.capacity_floor f
     WHERE f.policy = p.name AND f.origin = 'forecast' AND f.ends > now();

    INSERT INTO scaler.capacity_floor (policy, starts, ends, min_capacity, origin)
    SELECT p.name, fc.hour - lead, fc.hour + interval '1 hour',
           least(fc.capacity, p.max_capacity), 'forecast'
      FROM scaler.forecast(p.name) fc
     WHERE fc.capacity > 0 AND fc.hour + interval '1 hour' > now();
    GET DIAGNOSTICS n = ROW_COUNT;

    -- floors are kept as long as decisions, so backtests see them
    retention := current_setting('scaler.decision_retention', true);
    IF retention IS NOT NULL AND retention <> '0' THEN
        DELETE FROM scaler.capacity_floor f
         WHERE f.policy = p.name AND f.ends < now() - retention::interval;
    END IF;
    RETURN n;
END
$$;
COMMENT ON FUNCTION scaler._apply_forecast(oid, text, interval) IS
    'internal: body of scaler.apply_forecast, called with the calling role';

CREATE FUNCTION scaler.apply_forecast(policy text, lead interval DEFAULT '5 minutes')
RETURNS integer
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.apply_forecast(text, interval) IS
    'replace a policy''s forecast floors: for each hour of scaler.forecast() a floor of its capacity from lead before the hour to its end; returns the number of floors written';

-- ---------------------------------------------------------------------------
-- Scheduled capacity and forecast refresh, with pg_cron as the clock.
-- ---------------------------------------------------------------------------

-- The pg_cron jobs scaler made, so they go with their policy.
CREATE TABLE scaler.capacity_schedule (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    policy       text NOT NULL
                 REFERENCES scaler.policy (name) ON DELETE CASCADE ON UPDATE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('capacity', 'forecast')),
    schedule     text NOT NULL,
    min_capacity integer,
    duration     interval,
    lead         interval,
    jobid        bigint UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE scaler.capacity_schedule IS
    'pg_cron jobs made by schedule_capacity and schedule_forecast (job name scaler_<kind>_<id>); deleting a row, or its policy, unschedules the job';
-- dumped, like pg_cron dumps cron.job, so restored jobs stay tied to their policy
SELECT pg_catalog.pg_extension_config_dump('scaler.capacity_schedule', '');
SELECT pg_catalog.pg_extension_config_dump('scaler.capacity_schedule_id_seq', '');

CREATE FUNCTION scaler._require_cron()
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
        RAISE EXCEPTION 'pg_cron is not installed in this database'
            USING ERRCODE = '55000',
                  DETAIL = 'Scheduled capacity and forecast refresh use pg_cron as their clock.',
                  HINT = 'Add pg_cron to shared_preload_libraries, set cron.database_name to this database and run CREATE EXTENSION pg_cron; or call scaler.open_floor() and scaler.apply_forecast() from another scheduler.';
    END IF;
END
$$;
COMMENT ON FUNCTION scaler._require_cron() IS
    'internal: raise a clear error when pg_cron is not installed here';

CREATE FUNCTION scaler._capacity_schedule_deleted()
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

CREATE TRIGGER capacity_schedule_unschedule
    AFTER DELETE ON scaler.capacity_schedule
    FOR EACH ROW EXECUTE FUNCTION scaler._capacity_schedule_deleted();
COMMENT ON TRIGGER capacity_schedule_unschedule ON scaler.capacity_schedule IS
    'a schedule row that goes (also with its policy) takes its pg_cron job with it';

-- Make or update the job of a schedule row; the job runs as the extension
-- owner and only ever runs the fixed command built here.
CREATE FUNCTION scaler._schedule_job(row_id bigint, schedule text, command text)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s      scaler.capacity_schedule;
    new_id bigint;
BEGIN
    SELECT * INTO STRICT s FROM scaler.capacity_schedule c WHERE c.id = row_id;
    IF s.jobid IS NOT NULL THEN
        PERFORM cron.unschedule(j.jobid) FROM cron.job j WHERE j.jobid = s.jobid;
    END IF;
    new_id := cron.schedule(format('scaler_%s_%s', s.kind, s.id), schedule, command);
    UPDATE scaler.capacity_schedule c SET jobid = new_id WHERE c.id = row_id;
    RETURN new_id;
END
$$;
COMMENT ON FUNCTION scaler._schedule_job(bigint, text, text) IS
    'internal: (re)create the pg_cron job of a scaler.capacity_schedule row';

CREATE FUNCTION scaler._schedule_capacity(invoker oid, policy text, schedule text,
                                          min_capacity integer, duration interval)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p      scaler.policy;
    row_id bigint;
BEGIN
    p := scaler._managed_policy(invoker, _schedule_capacity.policy, 'schedule capacity for');
    IF schedule IS NULL OR btrim(schedule) = '' THEN
        RAISE EXCEPTION 'schedule must not be empty' USING ERRCODE = '22023',
            HINT = 'Give a cron expression, e.g. ''55 8 * * 1-5'' for 08:55 on weekdays.';
    END IF;
    IF min_capacity IS NULL OR min_capacity < 0 THEN
        RAISE EXCEPTION 'min_capacity must not be null or negative' USING ERRCODE = '22023';
    END IF;
    IF min_capacity > p.max_capacity THEN
        RAISE EXCEPTION 'min_capacity must not exceed max_capacity of policy "%"', p.name
            USING ERRCODE = '22023',
                  DETAIL = format('min_capacity is %s, max_capacity is %s.', min_capacity, p.max_capacity);
    END IF;
    IF duration IS NULL OR duration <= '0' THEN
        RAISE EXCEPTION 'duration must be greater than zero' USING ERRCODE = '22023';
    END IF;
    PERFORM scaler._require_cron();

    -- one job per policy and schedule: scheduling again updates it
    SELECT c.id INTO row_id FROM scaler.capacity_schedule c
     WHERE c.policy = p.name AND c.kind = 'capacity' AND c.schedule = _schedule_capacity.schedule
     FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO scaler.capacity_schedule AS c (policy, kind, schedule, min_capacity, duration)
        VALUES (p.name, 'capacity', schedule, min_capacity, duration)
        RETURNING c.id INTO row_id;
    ELSE
        UPDATE scaler.capacity_schedule c
           SET min_capacity = _schedule_capacity.min_capacity,
               duration = _schedule_capacity.duration
         WHERE c.id = row_id;
    END IF;
    RETURN scaler._schedule_job(row_id, schedule,
        format('SELECT scaler.open_floor(%L, %s, %L, %L)', p.name, min_capacity, duration, 'schedule'));
END
$$;
COMMENT ON FUNCTION scaler._schedule_capacity(oid, text, text, integer, interval) IS
    'internal: body of scaler.schedule_capacity, called with the calling role';

CREATE FUNCTION scaler.schedule_capacity(policy text, schedule text, min_capacity integer,
                                         duration interval)
RETURNS bigint
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.schedule_capacity(text, text, integer, interval) IS
    'a pg_cron job that, whenever the cron schedule fires, keeps the policy at min_capacity or more for duration; returns the cron job id (needs pg_cron)';

CREATE FUNCTION scaler._unschedule_capacity(invoker oid, policy text, schedule text)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p scaler.policy;
    n integer;
BEGIN
    p := scaler._managed_policy(invoker, _unschedule_capacity.policy, 'unschedule capacity for');
    PERFORM scaler._require_cron();
    DELETE FROM scaler.capacity_schedule c
     WHERE c.policy = p.name AND c.kind = 'capacity'
       AND (_unschedule_capacity.schedule IS NULL OR c.schedule = _unschedule_capacity.schedule);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
COMMENT ON FUNCTION scaler._unschedule_capacity(oid, text, text) IS
    'internal: body of scaler.unschedule_capacity, called with the calling role';

CREATE FUNCTION scaler.unschedule_capacity(policy text, schedule text DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.unschedule_capacity(text, text) IS
    'remove the scheduled-capacity jobs of a policy (only the one with this cron schedule when given); returns how many';

CREATE FUNCTION scaler._schedule_forecast(invoker oid, policy text, every text, lead interval)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p      scaler.policy;
    row_id bigint;
BEGIN
    p := scaler._managed_policy(invoker, _schedule_forecast.policy, 'schedule forecasts for');
    IF every IS NULL OR btrim(every) = '' THEN
        RAISE EXCEPTION 'every must not be empty' USING ERRCODE = '22023',
            HINT = 'Give a cron expression, e.g. ''0 */6 * * *''.';
    END IF;
    IF lead IS NULL OR lead < '0' THEN
        RAISE EXCEPTION 'lead must not be null or negative' USING ERRCODE = '22023';
    END IF;
    IF p.metric NOT IN ('concurrency', 'rps') THEN
        RAISE EXCEPTION 'policy "%" scales on %, which a forecast cannot turn into capacity', p.name, p.metric
            USING ERRCODE = '22023',
                  HINT = 'Forecast floors need a load metric (concurrency or rps).';
    END IF;
    PERFORM scaler._require_cron();

    -- one forecast job per policy: scheduling again updates it
    SELECT c.id INTO row_id FROM scaler.capacity_schedule c
     WHERE c.policy = p.name AND c.kind = 'forecast' FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO scaler.capacity_schedule AS c (policy, kind, schedule, lead)
        VALUES (p.name, 'forecast', every, lead)
        RETURNING c.id INTO row_id;
    ELSE
        UPDATE scaler.capacity_schedule c SET schedule = every, lead = _schedule_forecast.lead
         WHERE c.id = row_id;
    END IF;
    RETURN scaler._schedule_job(row_id, every,
        format('SELECT scaler.apply_forecast(%L, %L)', p.name, lead));
END
$$;
COMMENT ON FUNCTION scaler._schedule_forecast(oid, text, text, interval) IS
    'internal: body of scaler.schedule_forecast, called with the calling role';

CREATE FUNCTION scaler.schedule_forecast(policy text, every text DEFAULT '0 */6 * * *',
                                         lead interval DEFAULT '5 minutes')
RETURNS bigint
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.schedule_forecast(text, text, interval) IS
    'a pg_cron job that refreshes the policy''s forecast floors (scaler.apply_forecast) on the cron schedule every; returns the cron job id (needs pg_cron)';

CREATE FUNCTION scaler._unschedule_forecast(invoker oid, policy text)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p scaler.policy;
    n integer;
BEGIN
    p := scaler._managed_policy(invoker, _unschedule_forecast.policy, 'unschedule forecasts for');
    PERFORM scaler._require_cron();
    DELETE FROM scaler.capacity_schedule c WHERE c.policy = p.name AND c.kind = 'forecast';
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
COMMENT ON FUNCTION scaler._unschedule_forecast(oid, text) IS
    'internal: body of scaler.unschedule_forecast, called with the calling role';

CREATE FUNCTION scaler.unschedule_forecast(policy text)
RETURNS integer
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.unschedule_forecast(text) IS
    'remove the forecast-refresh job of a policy; returns how many (0 or 1)';

-- Privileges: writing floors and schedules is a right to grant per role,
-- like managing policies; the internals are reached only through the
-- trampoline.  Reading (backtest, forecast) checks inside that the caller
-- may manage the policy.
REVOKE ALL ON FUNCTION scaler.open_floor(text, integer, interval, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.apply_forecast(text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.schedule_capacity(text, text, integer, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.unschedule_capacity(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.schedule_forecast(text, text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.unschedule_forecast(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._open_floor(oid, text, integer, interval, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._apply_forecast(oid, text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._schedule_capacity(oid, text, text, integer, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._unschedule_capacity(oid, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._schedule_forecast(oid, text, text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._unschedule_forecast(oid, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._schedule_job(bigint, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._capacity_schedule_deleted() FROM PUBLIC;

-- Subscriptions of scaler-listen: how far each named listener has acted on
-- the decision log, kept server-side so a restarted listener resumes exactly
-- where it stopped.
--
-- A listener acknowledges a decision only after acting on it (its command
-- exited 0) or after skipping it because a newer decision of the same policy
-- superseded it.  Decisions of one policy are acted on in id order, so the
-- newest acknowledged id per (subscription, policy) is a watermark: nothing at
-- or below it is ever run again.  Decisions of different policies finish out
-- of order, which is why one id per subscription would not be enough.
--
-- The listener calls these functions; nobody else needs to.  EXECUTE on the
-- functions that change state is not granted to PUBLIC: a role that should run
-- scaler-listen is granted it explicitly (see docs/scaler-listen.md).

CREATE TABLE scaler.subscription (
    id           integer GENERATED ALWAYS AS IDENTITY UNIQUE,
    name         text PRIMARY KEY CHECK (name <> ''),
    channel      text NOT NULL,
    low_id       bigint NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    seen_at      timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE scaler.subscription IS
    'one row per scaler-listen --name: where its catch-up starts; maintained by scaler.listen_subscribe and scaler.listen_ack';
COMMENT ON COLUMN scaler.subscription.id IS 'second key of the advisory lock a running listener holds on its subscription';
COMMENT ON COLUMN scaler.subscription.name IS 'the listener''s --name';
COMMENT ON COLUMN scaler.subscription.channel IS 'the channel the listener last LISTENed on';
COMMENT ON COLUMN scaler.subscription.low_id IS 'every decision with id <= low_id has been acted on or superseded; catch-up reads after it';
COMMENT ON COLUMN scaler.subscription.created_at IS 'when the subscription was first used; decisions made before it are not delivered';
COMMENT ON COLUMN scaler.subscription.seen_at IS 'the last time its listener subscribed or acknowledged';

CREATE TABLE scaler.subscription_ack (
    subscription text NOT NULL
        REFERENCES scaler.subscription (name) ON UPDATE CASCADE ON DELETE CASCADE,
    decision_id  bigint NOT NULL,
    policy       text NOT NULL,
    outcome      text NOT NULL CHECK (outcome IN ('done', 'superseded')),
    acked_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (subscription, decision_id)
);
CREATE INDEX subscription_ack_policy_idx
    ON scaler.subscription_ack (subscription, policy, decision_id);
COMMENT ON TABLE scaler.subscription_ack IS
    'decisions a subscription has acknowledged: run by its command (done) or skipped for a newer one of the same policy (superseded); rows of decisions that retention removed are pruned when the listener subscribes';
COMMENT ON COLUMN scaler.subscription_ack.decision_id IS 'scaler.decision.id of the acknowledged decision';
COMMENT ON COLUMN scaler.subscription_ack.policy IS 'the decision''s policy; the newest decision_id per policy is the listener''s watermark';
COMMENT ON COLUMN scaler.subscription_ack.outcome IS 'done: the command exited 0; superseded: skipped because a newer decision of the policy was queued';

SELECT pg_catalog.pg_extension_config_dump('scaler.subscription', '');
SELECT pg_catalog.pg_extension_config_dump('scaler.subscription_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('scaler.subscription_ack', '');

-- Create the subscription on first use, or take it over, and lock it for this
-- session: two listeners acting on one subscription would run decisions twice.
-- A new subscription starts after the newest decision that exists now.
CREATE FUNCTION scaler.listen_subscribe(subscription text, channel text)
RETURNS bigint
LANGUAGE plpgsql
VOLATILE STRICT SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    sub scaler.subscription;
BEGIN
    IF listen_subscribe.subscription = '' THEN
        RAISE EXCEPTION 'subscription name must not be empty'
            USING ERRCODE = '22023';
    END IF;

    INSERT INTO scaler.subscription AS s (name, channel, low_id)
    VALUES (listen_subscribe.subscription, listen_subscribe.channel,
            COALESCE((SELECT max(d.id) FROM scaler.decision d), 0))
    ON CONFLICT (name) DO UPDATE
        SET channel = excluded.channel, seen_at = now()
    RETURNING s.* INTO sub;

    IF NOT pg_try_advisory_lock(380446, sub.id) THEN
        RAISE EXCEPTION 'subscription "%" is in use by another listener',
                        listen_subscribe.subscription
            USING ERRCODE = '55006',
                  DETAIL = 'Another session holds its lock.',
                  HINT = 'Stop the other scaler-listen, or choose a different --name.';
    END IF;

    -- Acknowledgements of decisions that retention has removed can no longer
    -- matter: nothing at or below them is left to deliver.
    DELETE FROM scaler.subscription_ack a
    WHERE a.subscription = sub.name
      AND a.decision_id < COALESCE((SELECT min(d.id) FROM scaler.decision d),
                                   9223372036854775807);

    RETURN sub.low_id;
END
$$;
COMMENT ON FUNCTION scaler.listen_subscribe(text, text) IS
    'used by scaler-listen: create or resume a subscription, lock it for this session, and return the id after which catch-up reads';
REVOKE ALL ON FUNCTION scaler.listen_subscribe(text, text) FROM PUBLIC;

-- The watermark of each policy: the newest acknowledged decision.
CREATE FUNCTION scaler.listen_acked(subscription text)
RETURNS TABLE (policy text, decision_id bigint)
LANGUAGE sql
STABLE STRICT SECURITY DEFINER PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT a.policy, max(a.decision_id)
    FROM scaler.subscription_ack a
    WHERE a.subscription = listen_acked.subscription
    GROUP BY a.policy
$$;
COMMENT ON FUNCTION scaler.listen_acked(text) IS
    'used by scaler-listen: per policy, the newest decision the subscription has acknowledged';
REVOKE ALL ON FUNCTION scaler.listen_acked(text) FROM PUBLIC;

-- Record one acknowledgement.  Idempotent, so a listener that lost its
-- connection while acknowledging simply sends it again.  Only the session
-- holding the subscription's lock may acknowledge.
CREATE FUNCTION scaler.listen_ack(subscription text, decision_id bigint,
                                  outcome text, acked_through bigint)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE STRICT SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    sub_id integer;
    inserted integer;
BEGIN
    IF listen_ack.outcome NOT IN ('done', 'superseded') THEN
        RAISE EXCEPTION 'invalid outcome "%"', listen_ack.outcome
            USING ERRCODE = '22023',
                  HINT = 'The outcome is "done" or "superseded".';
    END IF;

    SELECT s.id INTO sub_id
    FROM scaler.subscription s
    WHERE s.name = listen_ack.subscription
    FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'subscription "%" does not exist', listen_ack.subscription
            USING ERRCODE = '42704';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_locks l
                   WHERE l.locktype = 'advisory' AND l.pid = pg_backend_pid()
                     AND l.classid = 380446 AND l.objid = sub_id::oid
                     AND l.objsubid = 2 AND l.granted) THEN
        RAISE EXCEPTION 'subscription "%" is not held by this session',
                        listen_ack.subscription
            USING ERRCODE = '55000',
                  HINT = 'Call scaler.listen_subscribe first.';
    END IF;

    -- A decision removed meanwhile (retention) has nothing left to record.
    INSERT INTO scaler.subscription_ack AS a
        (subscription, decision_id, policy, outcome)
    SELECT listen_ack.subscription, d.id, d.policy, listen_ack.outcome
    FROM scaler.decision d
    WHERE d.id = listen_ack.decision_id
    ON CONFLICT ON CONSTRAINT subscription_ack_pkey DO NOTHING;
    GET DIAGNOSTICS inserted = ROW_COUNT;

    UPDATE scaler.subscription s
    SET low_id = GREATEST(s.low_id, listen_ack.acked_through), seen_at = now()
    WHERE s.id = sub_id;

    RETURN inserted > 0;
END
$$;
COMMENT ON FUNCTION scaler.listen_ack(text, bigint, text, bigint) IS
    'used by scaler-listen: record that a decision was done or superseded, and that every decision up to acked_through is settled; returns false when it was already recorded';
REVOKE ALL ON FUNCTION scaler.listen_ack(text, bigint, text, bigint) FROM PUBLIC;

-- The policies announced on channels other than the given one: a listener on
-- one channel must not act on another channel's decisions.  Decision rows do
-- not record their channel, so the policy's current channel decides; the
-- decisions of a policy that no longer exists go to every listener (nothing
-- says where they belong, and skipping them could lose one).  The policy
-- table is read dynamically so that this file does not depend on the order
-- in which the policy fragment defines it.
CREATE FUNCTION scaler.listen_foreign_policies(channel text)
RETURNS SETOF text
LANGUAGE plpgsql
STABLE STRICT SECURITY DEFINER PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF to_regclass('scaler.policy') IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE
        'SELECT p.name FROM scaler.policy p WHERE p.channel OPERATOR(pg_catalog.<>) $1'
        USING listen_foreign_policies.channel;
END
$$;
COMMENT ON FUNCTION scaler.listen_foreign_policies(text) IS
    'used by scaler-listen: the policies that notify on a channel other than the given one, whose decisions its listeners skip';
REVOKE ALL ON FUNCTION scaler.listen_foreign_policies(text) FROM PUBLIC;

-- The decisions after an id, as the listener hands them to its command.  Runs
-- with the caller's privileges: reading decisions needs SELECT on
-- scaler.decision.  With a channel, for_channel says whether a decision is
-- meant for it; the others are returned too, so that the listener's position
-- moves past them instead of reading them again on every wake-up.
CREATE FUNCTION scaler.listen_decisions(after_id bigint, max_rows integer DEFAULT 1000,
                                        channel text DEFAULT NULL)
RETURNS TABLE (id bigint, policy text, from_capacity integer,
               to_capacity integer, payload text, for_channel boolean)
LANGUAGE sql
STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT d.id, d.policy, d.from_capacity, d.to_capacity,
           json_build_object('id', d.id, 'policy', d.policy,
                             'decided_at', d.decided_at, 'metric', d.metric,
                             'value', d.value, 'target', d.target,
                             'from', d.from_capacity, 'to', d.to_capacity,
                             'reason', d.reason)::text,
           listen_decisions.channel IS NULL
           OR d.policy NOT IN (SELECT f.f
                               FROM scaler.listen_foreign_policies(listen_decisions.channel) f)
    FROM scaler.decision d
    WHERE d.id OPERATOR(pg_catalog.>) listen_decisions.after_id
    ORDER BY d.id
    LIMIT listen_decisions.max_rows
$$;
COMMENT ON FUNCTION scaler.listen_decisions(bigint, integer, text) IS
    'the decisions after an id in id order, each with the JSON document scaler-listen hands to its command, and whether it is meant for the channel (its policy notifies there, or no longer exists)';

-- What an operator asks: how far is each listener, and what did it do.
CREATE VIEW scaler.subscriptions AS
SELECT s.name, s.channel, s.low_id AS acked_through,
       (SELECT count(*) FROM scaler.subscription_ack a
        WHERE a.subscription = s.name AND a.outcome = 'done') AS done,
       (SELECT count(*) FROM scaler.subscription_ack a
        WHERE a.subscription = s.name AND a.outcome = 'superseded') AS superseded,
       s.created_at, s.seen_at
FROM scaler.subscription s;
COMMENT ON VIEW scaler.subscriptions IS
    'each scaler-listen subscription: the id through which every decision is settled, and how many decisions it ran (done) or skipped for a newer one (superseded)';
