-- hourly_requests over a source equals the traffic form over the same rows,
-- gap-filled over [since, until), and uses the (function_name, ts) index.
SET timezone = 'America/New_York';
SELECT setseed(0.11);
INSERT INTO scaler.request_log (ts, function_name, duration_ms, status)
SELECT timestamptz '2026-03-07 12:00+00' + random() * interval '30 hours',
       'f' || (random() * 2)::int, random() * 100,
       CASE WHEN random() < 0.05 THEN 503 ELSE 200 END
FROM generate_series(1, 5000);
-- a window with empty hours at both ends, across the spring-forward night
SELECT count(*) AS hours, sum(requests) AS requests,
       min(hour) = date_trunc('hour', timestamptz '2026-03-07 05:30 EST') AS first_hour_ok,
       max(hour) = date_trunc('hour', timestamptz '2026-03-09 02:59 EDT') AS last_hour_ok
FROM scaler.hourly_requests('2026-03-07 05:30 EST', '2026-03-09 03:00 EDT', 'f1');

SELECT NOT EXISTS (
    SELECT * FROM scaler.hourly_requests('2026-03-07 05:30 EST', '2026-03-09 03:00 EDT', 'f1')
    WHERE requests > 0
    EXCEPT ALL
    SELECT * FROM scaler.hourly_requests((
        SELECT scaler.traffic_agg(ts, duration_ms, status) FROM scaler.request_log
        WHERE function_name = 'f1' AND ts >= '2026-03-07 05:30 EST' AND ts < '2026-03-09 03:00 EDT'))
    WHERE requests > 0) AS same_as_traffic_form;

SELECT (SELECT sum(requests) FROM scaler.hourly_requests('2026-03-01', '2026-03-20')) =
       (SELECT count(*) FROM scaler.request_log WHERE ts >= '2026-03-01' AND ts < '2026-03-20') AS all_functions;

-- the default call: the last 24 hours of scaler.request_log
INSERT INTO scaler.request_log (ts, function_name, duration_ms, status)
SELECT now() - i * interval '10 minutes', 'recent', 5, 200 FROM generate_series(1, 12) i;
SELECT count(*) BETWEEN 24 AND 25 AS a_day_of_hours, sum(requests) AS requests
FROM scaler.hourly_requests();

-- the source is read with an index range scan, not the whole table
CREATE FUNCTION plan_of_source_query() RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
    SET LOCAL enable_seqscan = off;
    RETURN QUERY EXPLAIN (COSTS OFF)
        SELECT scaler.traffic_agg(ts, duration_ms, status) FROM scaler.request_log
        WHERE ts >= now() - interval '1 hour' AND ts < now() AND function_name = 'f1';
END $$;
SELECT * FROM plan_of_source_query();
