-- scaler.request_log, as both scripts create it: a fresh install, and the
-- update from 0.1, which renames the 0.1 table out of the way first
-- (src/update/0.1--0.2/20_migrate_tables.sql) and copies its rows over
-- afterwards (23_request_log_rows.sql).
--
-- The default source: one row per request.  Any table or view with these
-- columns can serve as a source (a view renames yours).
--
-- Partitioned by UTC day (range on ts), with a DEFAULT partition so that no
-- INSERT ever fails for want of a partition.  The worker creates the
-- partitions of the next days (scaler.request_log_pYYYYMMDD), moves rows
-- that landed in the DEFAULT partition into daily ones, and drops the daily
-- partitions older than scaler.log_retention once the rollup of
-- scaler.request_log covers them (scaler._maintain_request_log).
CREATE TABLE scaler.request_log (
    ts            timestamptz,
    function_name text,
    duration_ms   float8 CHECK (duration_ms >= 0),
    status        integer,
    cold_start    boolean
) PARTITION BY RANGE (ts);

CREATE TABLE scaler.request_log_default PARTITION OF scaler.request_log DEFAULT;

-- Each partition has its own indexes (the daily ones get them from
-- scaler._request_log_partition), not an index of the parent: pg_dump
-- dumps the daily partitions, which are not the extension's, with their
-- indexes, and a parent's index (which CREATE EXTENSION makes in the
-- restore) would build one of the same name on each partition as the
-- restore attaches it, so that the dumped CREATE INDEX then fails.
-- (function_name, ts) is what a policy's window reads; the refresh of a
-- rollup reads rows by time alone, and a BRIN index costs ingest next to
-- nothing.
CREATE INDEX request_log_default_function_name_ts_idx ON scaler.request_log_default (function_name, ts);
CREATE INDEX request_log_default_ts_idx ON scaler.request_log_default USING brin (ts);

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
