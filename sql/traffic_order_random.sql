-- traffic_order checks chosen shapes; this draws 100 at random (from a fixed
-- seed): 10 to 60,000 rows over a minute to 70 days, with or without a hot
-- minute, errors, NULL durations, and durations of one value, of a wide
-- range, with zeros, rounded or huge.  Each value is built from its rows in
-- time order, in reverse, in two random orders and jittered, and merged
-- from two values of half its rows each: the six must be one value, and it
-- must count what plain SQL counts.
SET timezone = 'UTC';
SET max_parallel_workers_per_gather = 0;

CREATE FUNCTION pg_temp.random_shapes(shapes int)
RETURNS TABLE (shape int, orders int, distinct_values int, requests_match boolean)
LANGUAGE plpgsql AS $$
DECLARE
    nrows      int;
    span       float8;
    error_rate float8;
    null_rate  float8;
    durations  int;
    hot        float8;
BEGIN
    FOR shape IN 1 .. shapes LOOP
        nrows := (10 ^ (1 + random() * 3.78))::int;
        span := 10 ^ (random() * 5);
        error_rate := CASE WHEN random() < 0.3 THEN 0 ELSE random() * 0.2 END;
        null_rate := CASE WHEN random() < 0.4 THEN 0 WHEN random() < 0.5 THEN 1 ELSE random() END;
        durations := floor(random() * 5)::int;
        hot := random() * 0.8;
        DROP TABLE IF EXISTS drawn;
        CREATE TEMP TABLE drawn AS
        SELECT k,
               timestamptz '2026-03-01 00:00+00' +
               CASE WHEN random() < hot THEN random() * interval '3 minutes'
                    ELSE random() * span * interval '1 minute' END AS ts,
               CASE WHEN random() < null_rate THEN NULL
                    WHEN durations = 0 THEN 42.0
                    WHEN durations = 1 THEN exp(random() * 7)
                    WHEN durations = 2 THEN CASE WHEN random() < 0.1 THEN 0.0
                                                 ELSE 10 ^ (random() * 12 - 4) END
                    WHEN durations = 3 THEN round(random() * 1000)
                    ELSE 1.0e6 * random() END AS duration_ms,
               CASE WHEN random() < error_rate THEN 503 ELSE 200 END AS status
        FROM generate_series(1, nrows) k;

        RETURN QUERY
        WITH v AS (
            SELECT (SELECT scaler.traffic_agg(ts, duration_ms, status)
                      FROM (SELECT * FROM drawn
                             ORDER BY CASE kind
                                      WHEN 0 THEN extract(epoch FROM ts)
                                      WHEN 1 THEN -extract(epoch FROM ts)
                                      WHEN 2 THEN hashint4(k)
                                      WHEN 3 THEN hashint4(k + 7)
                                      ELSE extract(epoch FROM ts) + random() * 600 END) o) AS t
            FROM generate_series(0, 4) kind
            UNION ALL
            -- the merge of two values of half the rows each, in random order
            SELECT scaler.traffic_merge(h)
            FROM (SELECT (SELECT scaler.traffic_agg(ts, duration_ms, status)
                            FROM (SELECT * FROM drawn WHERE k % 2 = half
                                   ORDER BY hashint4(k + half)) o) AS h
                  FROM generate_series(0, 1) half) halves)
        SELECT shape, count(*)::int, count(DISTINCT t::text)::int,
               (SELECT (sum(h.requests), sum(h.errors)) =
                       (SELECT count(*)::numeric, count(*) FILTER (WHERE status >= 500)::numeric FROM drawn)
                  FROM scaler.hourly_requests((SELECT t FROM v LIMIT 1)) h)
        FROM v;
    END LOOP;
END
$$;

SET client_min_messages = warning;
SELECT setseed(0.42);
SELECT count(*) AS shapes,
       count(*) FILTER (WHERE orders = 6 AND distinct_values = 1) AS one_value,
       count(*) FILTER (WHERE requests_match) AS counts_match
FROM pg_temp.random_shapes(100);
