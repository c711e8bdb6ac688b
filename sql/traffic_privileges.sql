-- Reading a source goes through the executor as the caller: table and
-- column privileges and row-level security apply.
SET timezone = 'UTC';
CREATE TABLE secret_log (ts timestamptz, function_name text, duration_ms float8, status int, tenant text);
INSERT INTO secret_log
SELECT timestamptz '2026-02-01 10:00+00' + i * interval '1 minute', 'api', 10, 200,
       CASE WHEN i % 3 = 0 THEN 'a' ELSE 'b' END
FROM generate_series(0, 59) i;
CREATE ROLE regress_scaler_reader;

SET ROLE regress_scaler_reader;
SELECT * FROM scaler.hourly_requests('2026-02-01 10:00+00', '2026-02-01 11:00+00', NULL, 'secret_log');
\echo :LAST_ERROR_SQLSTATE
-- nor does the default source leak to a role without SELECT on it
SELECT * FROM scaler.hourly_requests();
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- column privileges on exactly the needed columns are enough
GRANT SELECT (ts, duration_ms, status) ON secret_log TO regress_scaler_reader;
SET ROLE regress_scaler_reader;
SELECT requests FROM scaler.hourly_requests('2026-02-01 10:00+00', '2026-02-01 11:00+00', NULL, 'secret_log');
-- filtering by function needs function_name too
SELECT requests FROM scaler.hourly_requests('2026-02-01 10:00+00', '2026-02-01 11:00+00', 'api', 'secret_log');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- row-level security filters what the caller counts
GRANT SELECT ON secret_log TO regress_scaler_reader;
ALTER TABLE secret_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_a ON secret_log FOR SELECT TO regress_scaler_reader USING (tenant = 'a');
SET ROLE regress_scaler_reader;
SELECT requests FROM scaler.hourly_requests('2026-02-01 10:00+00', '2026-02-01 11:00+00', 'api', 'secret_log');
RESET ROLE;
SELECT requests FROM scaler.hourly_requests('2026-02-01 10:00+00', '2026-02-01 11:00+00', 'api', 'secret_log');

DROP POLICY tenant_a ON secret_log;
REVOKE ALL ON secret_log FROM regress_scaler_reader;
DROP ROLE regress_scaler_reader;
