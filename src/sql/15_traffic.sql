
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
    'traffic statistics of a group of request rows, per UTC quarter hour that has rows (sparse quarters as rows, busy ones as per-minute counts, errors and a latency sketch); read in the session TimeZone';

-- A traffic value is independent of time zones (it keeps UTC quarter hours),
-- so building one is IMMUTABLE; the readers bucket into the session's
-- TimeZone and are STABLE.
CREATE FUNCTION scaler.traffic_agg_trans(scaler.traffic, pg_catalog.timestamptz)
    RETURNS scaler.traffic
    AS 'MODULE_PATHNAME', 'traffic_agg_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION scaler.traffic_agg_trans(scaler.traffic, pg_catalog.timestamptz, pg_catalog.float8)
    RETURNS scaler.traffic
    AS 'MODULE_PATHNAME', 'traffic_agg_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION scaler.traffic_agg_trans(scaler.traffic, pg_catalog.timestamptz, pg_catalog.float8, pg_catalog.int4)
    RETURNS scaler.traffic
    AS 'MODULE_PATHNAME', 'traffic_agg_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
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
    SSPACE = 2048,
    PARALLEL = SAFE
);
CREATE AGGREGATE scaler.traffic_agg(pg_catalog.timestamptz, pg_catalog.float8) (
    SFUNC = scaler.traffic_agg_trans,
    STYPE = scaler.traffic,
    FINALFUNC = scaler.traffic_agg_final,
    FINALFUNC_MODIFY = READ_ONLY,
    COMBINEFUNC = scaler.traffic_agg_combine,
    SSPACE = 2048,
    PARALLEL = SAFE
);
CREATE AGGREGATE scaler.traffic_agg(pg_catalog.timestamptz, pg_catalog.float8, pg_catalog.int4) (
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
COMMENT ON AGGREGATE scaler.traffic_agg(pg_catalog.timestamptz, pg_catalog.float8) IS
    'request counts and latency, reported per local hour of the session TimeZone';
COMMENT ON AGGREGATE scaler.traffic_agg(pg_catalog.timestamptz, pg_catalog.float8, pg_catalog.int4) IS
    'request counts, errors (status >= 500) and latency, reported per local hour of the session TimeZone';

CREATE AGGREGATE scaler.traffic_merge(scaler.traffic) (
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

CREATE FUNCTION scaler.hourly_requests(t scaler.traffic,
    OUT hour pg_catalog.timestamptz, OUT requests pg_catalog.int8, OUT errors pg_catalog.int8,
    OUT error_rate pg_catalog.float8, OUT p50_ms pg_catalog.float8, OUT p95_ms pg_catalog.float8,
    OUT p99_ms pg_catalog.float8, OUT max_ms pg_catalog.float8, OUT peak_rpm pg_catalog.int8,
    OUT avg_concurrency pg_catalog.float8, OUT peak_concurrency pg_catalog.float8)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'traffic_hourly_requests'
    LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 24;
COMMENT ON FUNCTION scaler.hourly_requests(scaler.traffic) IS
    'one row per local hour of the session TimeZone from the first to the last hour of a traffic value, hours without traffic included';

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
    LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 24;
COMMENT ON FUNCTION scaler.hour_of_day(scaler.traffic) IS
    '24 rows: per local hour of the day, how many such hours the value spans, their requests, average and busiest';

CREATE FUNCTION scaler.hour_of_week(t scaler.traffic,
    OUT dow pg_catalog.int4, OUT hour_of_day pg_catalog.int4, OUT days pg_catalog.int4,
    OUT requests pg_catalog.int8, OUT avg_requests pg_catalog.float8, OUT peak_requests pg_catalog.int8)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'traffic_hour_of_week'
    LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 168;
COMMENT ON FUNCTION scaler.hour_of_week(scaler.traffic) IS
    '168 rows: per day of week (0 = Sunday) and local hour, how many such hours the value spans, their requests, average and busiest';
