
-- scaler.request_log becomes partitioned by UTC day, with its rows.  A
-- table cannot be partitioned in place: the 0.1 table is renamed, the new
-- one created exactly as a fresh 0.2 install creates it, the rows copied
-- (into the DEFAULT partition; the worker moves them into daily partitions,
-- one day a tick), the privileges granted on the old table granted on the
-- new one, and the old table dropped.  What pointed at the old table by
-- OID is pointed at the new one: the policies' sources and the defaults of
-- the 0.1 functions that take a source.  A user's view on the old table
-- makes the update fail (DROP TABLE names it): drop the view, update, and
-- create it again.
ALTER TABLE scaler.request_log RENAME TO request_log_0_1;
ALTER INDEX scaler.request_log_function_ts_idx RENAME TO request_log_0_1_function_ts_idx;
ALTER TABLE scaler.request_log_0_1 RENAME CONSTRAINT request_log_duration_ms_check TO request_log_0_1_duration_ms_check;
-- The default source: one row per request.  Any table or view with these
-- columns can serve as a source (a view renames yours).
--
-- Partitioned by UTC day (range on ts), with a DEFAULT partition so that no
-- INSERT ever fails for want of a partition.  The worker creates the
-- partitions of the next days (scaler.request_log_pYYYYMMDD), moves rows
-- that landed in the DEFAULT partition into daily ones, and drops the daily
-- partitions older than scaler.log_retention once the rollup of
-- scaler.request_log covers them (src/sql/60_rollup.sql).
CREATE TABLE scaler.request_log (
    ts            timestamptz,
    function_name text,
    duration_ms   float8 CHECK (duration_ms >= 0),
    status        integer,
    cold_start    boolean
) PARTITION BY RANGE (ts);
CREATE TABLE scaler.request_log_default PARTITION OF scaler.request_log DEFAULT;
CREATE INDEX request_log_function_ts_idx ON scaler.request_log (function_name, ts);
-- The refresh of a rollup reads rows by time alone; a BRIN index costs
-- ingest next to nothing.
CREATE INDEX request_log_ts_idx ON scaler.request_log USING brin (ts);
-- The rows are the user's data, not the extension's: pg_dump must keep them
-- (the daily partitions the worker creates are ordinary tables, dumped as such).
SELECT pg_catalog.pg_extension_config_dump('scaler.request_log_default', '');
COMMENT ON TABLE scaler.request_log IS
    'request log rows: ts (request start), function_name, duration_ms (NULL = unknown), status (>= 500 is an error), cold_start';
COMMENT ON COLUMN scaler.request_log.ts IS 'when the request started';
COMMENT ON COLUMN scaler.request_log.duration_ms IS 'how long it ran, in milliseconds; NULL when unknown';
COMMENT ON COLUMN scaler.request_log.status IS 'response status; 500 and above count as errors; NULL when unknown';
COMMENT ON COLUMN scaler.request_log.cold_start IS 'whether the request started a new instance';
COMMENT ON TABLE scaler.request_log_default IS
    'rows of scaler.request_log for which no daily partition exists (yet); the worker moves them into daily partitions';

INSERT INTO scaler.request_log (ts, function_name, duration_ms, status, cold_start)
SELECT ts, function_name, duration_ms, status, cold_start FROM scaler.request_log_0_1;

DO $$
DECLARE
    g record;
BEGIN
    FOR g IN
        SELECT a.grantee, a.privilege_type, a.is_grantable
          FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
         WHERE c.oid = 'scaler.request_log_0_1'::pg_catalog.regclass AND a.grantee <> c.relowner
    LOOP
        EXECUTE pg_catalog.format('GRANT %s ON scaler.request_log TO %s%s', g.privilege_type,
                                  CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(g.grantee::regrole::text) END,
                                  CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
END
$$;
UPDATE scaler.policy SET source = 'scaler.request_log'::pg_catalog.regclass
 WHERE source = 'scaler.request_log_0_1'::pg_catalog.regclass;
-- The old table is dropped by 99_request_log_partitioned_drop.sql, once
-- the functions whose defaults name it have been re-created.

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
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 24;

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
    SELECT pg_catalog.to_char(h.hour, 'Dy MM-DD HH24:MI'), h.requests,
           pg_catalog.round(h.p95_ms::pg_catalog.numeric, 1),
           scaler.chart_bar(h.requests, pg_catalog.max(h.requests) OVER (), width)
    FROM scaler.hourly_requests(since, until, function_name, source) h
    ORDER BY h.hour;
END;
