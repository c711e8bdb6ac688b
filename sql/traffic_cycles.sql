-- hour_of_day and hour_of_week agree with grouping the gap-filled hourly rows
-- by local hour (and day of week); a state's size depends on hours, not rows.
SET timezone = 'Europe/Berlin';
SELECT setseed(0.21);
CREATE TABLE cyc AS
SELECT timestamptz '2026-03-20 00:00+00' + random() * interval '20 days' AS ts,
       random() * 50 AS duration_ms
FROM generate_series(1, 30000);
CREATE TABLE cyc_state AS SELECT scaler.traffic_agg(ts, duration_ms) AS t FROM cyc;

SELECT count(*) AS rows,
       NOT EXISTS (
           SELECT hour_of_day, days, requests, avg_requests, peak_requests
           FROM scaler.hour_of_day((SELECT t FROM cyc_state)) WHERE days > 0
           EXCEPT
           SELECT extract(hour FROM hour)::int, count(*)::int, sum(requests), avg(requests), max(requests)
           FROM scaler.hourly_requests((SELECT t FROM cyc_state)) GROUP BY 1) AS matches
FROM scaler.hour_of_day((SELECT t FROM cyc_state));

SELECT count(*) AS rows,
       NOT EXISTS (
           SELECT dow, hour_of_day, days, requests, avg_requests, peak_requests
           FROM scaler.hour_of_week((SELECT t FROM cyc_state)) WHERE days > 0
           EXCEPT
           SELECT extract(dow FROM hour)::int, extract(hour FROM hour)::int, count(*)::int,
                  sum(requests), avg(requests), max(requests)
           FROM scaler.hourly_requests((SELECT t FROM cyc_state)) GROUP BY 1, 2) AS matches
FROM scaler.hour_of_week((SELECT t FROM cyc_state));

-- the busiest hour of the day, as a user would ask
SELECT hour_of_day FROM scaler.hour_of_day((SELECT t FROM cyc_state))
ORDER BY avg_requests DESC NULLS LAST, hour_of_day LIMIT 0;

-- Size: a 30-day value with durations spread over every bin the sketch
-- keeps (its worst case) stays under 4.2 KB per quarter hour (1,024 bins of
-- 4 bytes, and the minutes), and adding rows of the same shape does not
-- grow it.
SET timezone = 'UTC';
CREATE TABLE wide AS
SELECT timestamptz '2026-01-01 00:00+00' + h * interval '1 hour' + (k % 60) * interval '1 minute' AS ts,
       power(2, k / 38.0) * 0.0001 AS duration_ms
FROM generate_series(0, 719) h, generate_series(0, 1100) k;
SELECT count(*) AS hours,
       pg_column_size((SELECT scaler.traffic_agg(ts, duration_ms) FROM wide)) < 720 * 4 * 4200 AS under_4200_per_quarter,
       pg_column_size((SELECT scaler.traffic_agg(ts, duration_ms) FROM wide)) =
       pg_column_size((SELECT scaler.traffic_agg(ts, duration_ms) FROM (SELECT * FROM wide UNION ALL SELECT * FROM wide) w))
           AS size_independent_of_rows
FROM scaler.hourly_requests((SELECT scaler.traffic_agg(ts, duration_ms) FROM wide));
