
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
