
-- The end of 10_request_log_partitioned.sql: every function whose default
-- named the 0.1 request_log has been re-created by now (create_policy by
-- 40_coldstart.sql, hourly_requests and hourly_chart by 10_...), so the old
-- table can go.
ALTER EXTENSION scaler DROP TABLE scaler.request_log_0_1;
DROP TABLE scaler.request_log_0_1;
