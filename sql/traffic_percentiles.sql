-- Latency percentiles are within 1% of percentile_disc, also for
-- heavy-tailed durations; the maximum is exact; no durations, no percentiles.
SET timezone = 'UTC';
SELECT setseed(0.7);
CREATE TABLE latency AS
SELECT timestamptz '2026-05-01 00:00+00' + random() * interval '6 hours' AS ts,
       CASE WHEN random() < 0.85 THEN exp(random() * 5)            -- body: 1 .. 150 ms
            WHEN random() < 0.5 THEN 0.0                          -- some instant replies
            ELSE 50.0 / power(random() + 1e-6, 1.5) END AS duration_ms  -- Pareto tail
FROM generate_series(1, 60000);

WITH mine AS (
    SELECT * FROM scaler.hourly_requests((SELECT scaler.traffic_agg(ts, duration_ms) FROM latency))),
ref AS (
    SELECT date_trunc('hour', ts) AS hour,
           percentile_disc(0.50) WITHIN GROUP (ORDER BY duration_ms) AS p50,
           percentile_disc(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95,
           percentile_disc(0.99) WITHIN GROUP (ORDER BY duration_ms) AS p99,
           max(duration_ms) AS max_ms
    FROM latency GROUP BY 1)
SELECT count(*) AS hours,
       max(greatest(abs(m.p50_ms / r.p50 - 1), abs(m.p95_ms / r.p95 - 1),
                    abs(m.p99_ms / r.p99 - 1))) <= 0.01 AS within_1_percent,
       max(r.p99 / r.p50) > 100 AS heavy_tailed,
       bool_and(m.max_ms = r.max_ms) AS max_exact
FROM mine m JOIN ref r USING (hour);

-- The same accuracy at every scale, from microseconds to minutes.
WITH rows AS (
    SELECT scale, timestamptz '2026-05-01 00:00+00' + (i % 60) * interval '1 minute' AS ts,
           scale * power(10, 3 * (i::float8 / 5000)) AS duration_ms
    FROM unnest(ARRAY[0.001, 1, 60000]) AS scale, generate_series(1, 5000) i),
mine AS (
    SELECT scale, h.*
    FROM (SELECT scale, scaler.traffic_agg(ts, duration_ms) AS t FROM rows GROUP BY scale) g,
         scaler.hourly_requests(g.t) h),
ref AS (
    SELECT scale,
           percentile_disc(0.50) WITHIN GROUP (ORDER BY duration_ms) AS p50,
           percentile_disc(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95,
           percentile_disc(0.99) WITHIN GROUP (ORDER BY duration_ms) AS p99
    FROM rows GROUP BY scale)
SELECT scale,
       greatest(abs(m.p50_ms / r.p50 - 1), abs(m.p95_ms / r.p95 - 1),
                abs(m.p99_ms / r.p99 - 1)) <= 0.01 AS within_1_percent
FROM mine m JOIN ref r USING (scale)
ORDER BY scale;

-- Rows without a duration count as requests but leave the percentiles NULL.
SELECT requests, p50_ms, p95_ms, p99_ms, max_ms, avg_concurrency
FROM scaler.hourly_requests((
    SELECT scaler.traffic_agg(ts, NULL::float8, 200)
    FROM generate_series(timestamptz '2026-05-01 00:00+00', '2026-05-01 00:59+00', '1 minute') ts));

-- Concurrency: Little's law over the hour, and the busiest minute.
SELECT requests, peak_rpm, avg_concurrency, peak_concurrency
FROM scaler.hourly_requests((
    SELECT scaler.traffic_agg(ts, 1000.0)
    FROM (SELECT timestamptz '2026-05-01 00:00+00' + (i % 30) * interval '1 minute' AS ts
          FROM generate_series(1, 600) i
          UNION ALL
          SELECT timestamptz '2026-05-01 00:45:10+00' FROM generate_series(1, 120)) s));
