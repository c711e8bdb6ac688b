-- The chart: one row per hour, bars proportional to requests, busiest hour
-- full width, rows within 80 columns.
SET timezone = 'UTC';
SET client_encoding = 'UTF8';
CREATE TABLE chart_rows AS
SELECT timestamptz '2026-06-01 00:00+00' + h * interval '1 hour' + i * interval '1 second' AS ts,
       10.0 + h AS duration_ms
FROM generate_series(0, 5) h, generate_series(1, (ARRAY[80, 40, 0, 20, 1, 79])[h + 1]) i;

SELECT * FROM scaler.hourly_chart((SELECT scaler.traffic_agg(ts, duration_ms) FROM chart_rows));

-- bars are requests / busiest * width characters, in eighths
SELECT bool_and(char_length(replace(bar, U&'\2588', '')) <= 1) AS one_partial_block_at_most,
       bool_and(abs(char_length(bar) - requests / 80.0 * 20) <= 1) AS proportional,
       max(char_length(bar)) AS widest
FROM scaler.hourly_chart((SELECT scaler.traffic_agg(ts) FROM chart_rows), 20);

-- the source form, and the widest row of psql's aligned output fits 80 columns
INSERT INTO scaler.request_log (ts, function_name, duration_ms, status)
SELECT ts, 'chart', duration_ms, 200 FROM chart_rows;
SELECT count(*) AS hours,
       max(char_length(format('%s | %8s | %7s | %s', hour, requests, p95_ms, bar))) <= 80 AS fits_80
FROM scaler.hourly_chart('2026-06-01 00:00+00', '2026-06-02 00:00+00', 'chart');
SELECT scaler.chart_bar(5, 0) = '' AS empty_without_traffic, scaler.chart_bar(3, 2, 4) AS capped;

-- a bar is built in memory: its width is 1 to 1000 characters
\set VERBOSITY default
SELECT count(*) FROM scaler.hourly_chart((SELECT scaler.traffic_agg(ts) FROM chart_rows), 0);
SELECT count(*) FROM scaler.hourly_chart((SELECT scaler.traffic_agg(ts) FROM chart_rows), 1001);
SELECT count(*) FROM scaler.hourly_chart((SELECT scaler.traffic_agg(ts) FROM chart_rows), NULL);
SELECT count(*) FROM scaler.hourly_chart('2026-06-01 00:00+00', '2026-06-02 00:00+00', 'chart', width => -5);
SELECT scaler.chart_bar(0, 0, 2000000000);
SELECT max(char_length(bar)) AS widest_at_1000
FROM scaler.hourly_chart((SELECT scaler.traffic_agg(ts) FROM chart_rows), 1000);

-- where the UTC offset changes, the hour carries the new zone's abbreviation:
-- the two 01:00 of New York's 25-hour day, and Lord Howe's half-hour shift
SET timezone = 'America/New_York';
SELECT hour, requests FROM scaler.hourly_chart((SELECT scaler.traffic_agg(t)
    FROM generate_series(timestamptz '2026-11-01 04:00+00', '2026-11-01 07:59+00', '1 minute') t));
SET timezone = 'Australia/Lord_Howe';
SELECT hour, requests FROM scaler.hourly_chart((SELECT scaler.traffic_agg(t)
    FROM generate_series(timestamptz '2026-10-03 14:00+00', '2026-10-03 16:59+00', '1 minute') t));
SET timezone = 'UTC';
