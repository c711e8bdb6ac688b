-- Hourly buckets agree with date_trunc('hour', ts) in every zone, with DST
-- changes, :30 and :45 offsets and Lord Howe's 30-minute shift, and hours
-- without traffic are reported with zeros.
SELECT setseed(0.42);
CREATE TABLE tz_rows AS
SELECT ts, (random() * 300)::float8 AS duration_ms,
       CASE WHEN random() < 0.05 THEN 503 ELSE 200 END AS status
FROM (SELECT timestamptz '2026-02-20 00:00+00' + random() * interval '60 days' AS ts
      FROM generate_series(1, 15000)
      UNION ALL
      SELECT timestamptz '2026-09-25 00:00+00' + random() * interval '45 days'
      FROM generate_series(1, 15000)) s
-- a few hours without any traffic inside the range
WHERE ts NOT BETWEEN '2026-03-01 03:00+00' AND '2026-03-01 09:00+00';

-- Rows of hourly_requests(traffic_agg(...)) that differ from the plain-SQL
-- reference: every bucket date_trunc makes between the first and the last
-- row (found by stepping quarter hours), with counts from GROUP BY.
CREATE FUNCTION tz_mismatches(zone text) RETURNS TABLE (buckets bigint, mismatches bigint)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('timezone', zone, true);
    RETURN QUERY
    WITH mine AS (
        SELECT h.hour, h.requests, h.errors
        FROM scaler.hourly_requests((SELECT scaler.traffic_agg(ts, duration_ms, status) FROM tz_rows)) h),
    bounds AS (SELECT min(ts) AS lo, max(ts) AS hi FROM tz_rows),
    every_bucket AS (
        SELECT DISTINCT date_trunc('hour', q) AS hour
        FROM bounds, generate_series(date_trunc('hour', lo), hi, interval '15 minutes') q),
    counted AS (
        SELECT date_trunc('hour', ts) AS hour, count(*) AS requests,
               count(*) FILTER (WHERE status >= 500) AS errors
        FROM tz_rows GROUP BY 1),
    reference AS (
        SELECT b.hour, coalesce(c.requests, 0) AS requests, coalesce(c.errors, 0) AS errors
        FROM every_bucket b LEFT JOIN counted c USING (hour))
    SELECT (SELECT count(*) FROM reference),
           (SELECT count(*) FROM ((SELECT * FROM mine EXCEPT ALL SELECT * FROM reference)
                                  UNION ALL
                                  (SELECT * FROM reference EXCEPT ALL SELECT * FROM mine)) d);
END
$$;

SELECT zone, m.buckets > 5000 AS many_buckets, m.mismatches
FROM unnest(ARRAY['UTC', 'America/New_York', 'Asia/Kolkata', 'Asia/Kathmandu',
                  'Australia/Lord_Howe']) AS zone,
     LATERAL tz_mismatches(zone) m;

-- The gap is there, with zeros.
SET timezone = 'UTC';
SELECT hour, requests, errors, error_rate, p50_ms, max_ms, peak_rpm, avg_concurrency
FROM scaler.hourly_requests((SELECT scaler.traffic_agg(ts, duration_ms, status) FROM tz_rows))
WHERE hour BETWEEN '2026-03-01 04:00+00' AND '2026-03-01 08:00+00';

-- Local days with a DST change have 23, 25 or (Lord Howe) 24 buckets of
-- uneven length, exactly as many as date_trunc makes.
CREATE FUNCTION day_buckets(zone text, day date)
RETURNS TABLE (mine bigint, reference bigint, minutes_match boolean)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('timezone', zone, true);
    RETURN QUERY
    WITH minutes AS (
        SELECT generate_series(day::timestamptz, (day + 1)::timestamptz - interval '1 minute',
                               interval '1 minute') AS ts),
    mine AS (SELECT * FROM scaler.hourly_requests((SELECT scaler.traffic_agg(ts) FROM minutes))),
    ref AS (SELECT date_trunc('hour', ts) AS hour, count(*) AS requests FROM minutes GROUP BY 1)
    SELECT (SELECT count(*) FROM mine), (SELECT count(*) FROM ref),
           NOT EXISTS (SELECT hour, requests FROM mine EXCEPT SELECT * FROM ref);
END
$$;

SELECT zone, day, b.*
FROM (VALUES ('America/New_York', date '2026-03-08'), ('America/New_York', '2026-11-01'),
             ('Australia/Lord_Howe', '2026-04-05'), ('Australia/Lord_Howe', '2026-10-04'),
             ('Asia/Kathmandu', '2026-06-01')) AS d(zone, day),
     LATERAL day_buckets(zone, day) b;

-- A value is read in the session's zone, whatever zone it was built in: a
-- value stored under Kathmandu reads as Kathmandu hours there (the hours
-- start at :15 UTC) and as UTC hours in UTC, each matching date_trunc.
SET timezone = 'Asia/Kathmandu';
CREATE TABLE kathmandu AS
SELECT scaler.traffic_agg(ts) AS t FROM tz_rows WHERE ts < '2026-02-21';
SELECT hour, requests,
       requests = (SELECT count(*) FROM tz_rows
                   WHERE ts < '2026-02-21' AND date_trunc('hour', ts) = h.hour) AS matches
FROM scaler.hourly_requests((SELECT t FROM kathmandu)) h LIMIT 3;
SET timezone = 'UTC';
SELECT hour, requests,
       requests = (SELECT count(*) FROM tz_rows
                   WHERE ts < '2026-02-21' AND date_trunc('hour', ts) = h.hour) AS matches
FROM scaler.hourly_requests((SELECT t FROM kathmandu)) h LIMIT 3;

-- On a Citus worker (a session Citus opened, application_name
-- "citus_internal gpid=..."), a report would bucket in the worker's zone,
-- not the user's: refused (22023, with a hint) unless the transaction set
-- TimeZone, as Citus does with citus.propagate_set_commands = 'local'.
-- The aggregate itself carries no zone and runs there as anywhere.
\set VERBOSITY default
SET application_name = 'citus_internal gpid=10000000001';
RESET timezone;
SELECT scaler.traffic_agg(ts) IS NOT NULL AS aggregates FROM tz_rows;
SELECT count(*) FROM scaler.hourly_requests((SELECT t FROM kathmandu));
SELECT count(*) FROM scaler.hour_of_day((SELECT t FROM kathmandu));
SELECT count(*) FROM scaler.hour_of_week((SELECT t FROM kathmandu));
SELECT count(*) FROM scaler.hourly_requests('2026-02-20', '2026-02-21', NULL, 'tz_rows');
BEGIN;
SET LOCAL timezone = 'Asia/Kathmandu';
SELECT hour, requests FROM scaler.hourly_requests((SELECT t FROM kathmandu)) h LIMIT 1;
ROLLBACK;
RESET application_name;
SELECT count(*) > 0 AS reports_again FROM scaler.hourly_requests((SELECT t FROM kathmandu));
