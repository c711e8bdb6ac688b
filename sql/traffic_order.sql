-- A value depends on its rows, not on their order: rows in time order take
-- the in-order path, rows in random order are buffered and folded by
-- quarter in batches (traffic.c, compact_rows), and rows without an error
-- are counted in a tally once they are dense (rows with a duration in its
-- timed part, where their quarter has a summary).  Each case compares the
-- text of the value built from the rows in time order, in reverse, in two
-- random orders and in time order with jitter, and checks what it reports
-- against plain SQL.
SET timezone = 'UTC';
SET max_parallel_workers_per_gather = 0;

-- 300,000 rows over two days: quarters busy enough for summaries, some
-- with errors; many batches of random rows.  Then the same span with every
-- fourth hour sparse (a few rows a quarter, kept as rows while the busy
-- quarters around them get summaries), and a span too wide for the
-- quarter-by-quarter sort (a few rows a day over ten years).
CREATE TABLE shapes AS
SELECT 'busy' AS shape, i AS n, timestamptz '2026-03-01 00:00+00' + (i * 0.576) * interval '1 second' AS ts,
       ((i::bigint * 7919) % 1000) / 10.0::float8 AS duration_ms,
       CASE WHEN i % 97 = 0 THEN 503 ELSE 200 END AS status
FROM generate_series(0, 299999) i
UNION ALL
SELECT 'mixed', i, timestamptz '2026-03-01 00:00+00' + (i * 0.576) * interval '1 second',
       ((i::bigint * 104729) % 5000) / 7.0, CASE WHEN i % 31 = 0 THEN 500 ELSE 204 END
FROM generate_series(0, 299999) i
WHERE (i * 0.576 / 3600)::int % 4 <> 0 OR i % 200 = 0
UNION ALL
SELECT 'wide', i, timestamptz '2016-01-01 00:00+00' + (i * 2) * interval '1 day' + (i % 13) * interval '1 hour',
       (i % 50) * 3.5, CASE WHEN i % 9 = 0 THEN 500 ELSE 200 END
FROM generate_series(0, 1799) i
UNION ALL
-- rows without durations (some with errors or durations among them), every
-- fourth hour sparse: a tally's quarters become summaries or rows
SELECT 'plain', i, timestamptz '2026-03-01 00:00+00' + (i * 0.576) * interval '1 second',
       CASE WHEN i % 11 = 0 THEN (i % 300) / 3.0 END, CASE WHEN i % 53 = 0 THEN 500 ELSE 200 END
FROM generate_series(0, 299999) i
WHERE (i * 0.576 / 3600)::int % 4 <> 0 OR i % 200 = 0
UNION ALL
-- 70,000 rows in one minute among 30,000 over a day: in random order, that
-- minute's count in the tally wraps past 65,535
SELECT 'hot minute', i,
       CASE WHEN i % 10 < 7 THEN timestamptz '2026-03-01 12:34:56+00'
            ELSE timestamptz '2026-03-01 00:00+00' + (i * 0.864) * interval '1 second' END,
       NULL, 200
FROM generate_series(0, 99999) i
UNION ALL
-- plain rows over four hours across 2000-01-01 00:00 UTC, where the minutes
-- a value counts from turn negative
SELECT 'epoch', i, timestamptz '1999-12-31 22:00+00' + (i * 0.36) * interval '1 second',
       NULL, CASE WHEN i % 101 = 0 THEN 500 ELSE 200 END
FROM generate_series(0, 39999) i
UNION ALL
-- rows with durations, dense, counted in the tally's timed part in random
-- order: 60,000 of one duration in one quarter (a byte of its bins wraps),
-- minutes of 1,000-second requests (a minute's busy time passes 2^32
-- microseconds), zero durations, and durations from 10 ns to 11 days (more
-- sketch keys than a sketch keeps), a few of them far above the rest (the
-- part's keys grow after it is laid out)
SELECT 'timed', i,
       CASE WHEN i % 5 < 3 THEN timestamptz '2026-03-01 12:30+00' + (i % 900) * interval '1 second'
            ELSE timestamptz '2026-03-01 00:00+00' + (i * 0.864) * interval '1 second' END,
       CASE WHEN i % 5 < 3 THEN 42.0
            WHEN i % 50 = 3 THEN 0.0
            WHEN i % 50 = 4 THEN 1.0e6
            WHEN i % 25000 = 8 THEN 1.0e9
            ELSE 1.0e-5 * 10 ^ ((i % 997) / 997.0 * 11) END,
       CASE WHEN i % 89 = 0 THEN 500 ELSE 200 END
FROM generate_series(0, 99999) i
UNION ALL
-- in the order of n: rows with durations in no order over a day, then
-- plain rows in no order over the two days before (the tally grows back
-- past what its timed part may cover, which is counted out first)
SELECT 'grown', i,
       CASE WHEN i < 100000 THEN timestamptz '2026-03-03 00:00+00'
            ELSE timestamptz '2026-03-01 00:00+00' END +
       (abs(hashint4(i)) % 86400000) * interval '1 millisecond' * (CASE WHEN i < 100000 THEN 1 ELSE 2 END),
       CASE WHEN i < 100000 THEN 1.0 + i % 700 END, 200
FROM generate_series(0, 299999) i;

CREATE TABLE orders AS
SELECT shape, kind,
       (SELECT scaler.traffic_agg(ts, duration_ms, status)::text
          FROM (SELECT ts, duration_ms, status FROM shapes s
                 WHERE s.shape = k.shape
                 ORDER BY CASE kind
                          WHEN 'time' THEN n
                          WHEN 'reverse' THEN -n
                          WHEN 'random 1' THEN hashint4(n)
                          WHEN 'random 2' THEN hashint4(n + 1)
                          -- time order, each row up to about 5,000 rows off
                          ELSE n + abs(hashint4(n)) % 5000 END) o) AS t
FROM (SELECT DISTINCT shape FROM shapes) k,
     unnest(ARRAY['time', 'reverse', 'random 1', 'random 2', 'jittered']) kind;

-- one value per shape, whatever the order
SELECT shape, count(*) AS orders, count(DISTINCT t) AS distinct_values
FROM orders GROUP BY shape ORDER BY shape;

-- and the value counts what plain SQL counts, hour by hour
WITH reported AS MATERIALIZED (
    SELECT o.shape, h.hour, h.requests, h.errors
      FROM orders o, scaler.hourly_requests(o.t::scaler.traffic) h
     WHERE o.kind = 'random 1' AND h.requests > 0),
plain AS MATERIALIZED (
    SELECT shape, date_trunc('hour', ts) AS hour, count(*) AS requests,
           count(*) FILTER (WHERE status >= 500) AS errors
      FROM shapes GROUP BY 1, 2)
SELECT shape, count(*) FILTER (WHERE r IS NULL OR p IS NULL) AS hours_missing,
       count(*) FILTER (WHERE r.requests <> p.requests OR r.errors <> p.errors) AS hours_differing,
       count(*) AS hours_with_rows
FROM reported r FULL JOIN plain p USING (shape, hour)
GROUP BY shape ORDER BY shape;

-- a value of random rows merged with one of ordered rows equals one value
-- of all of them
SELECT (SELECT scaler.traffic_merge(t::scaler.traffic)::text FROM orders
         WHERE shape <> 'wide' AND kind IN ('time', 'random 2')) =
       (SELECT scaler.traffic_merge(v)::text
          FROM (SELECT o.t::scaler.traffic AS v FROM orders o
                 WHERE o.shape <> 'wide' AND o.kind IN ('random 1', 'reverse')) x)
       AS merges_match;

DROP TABLE orders, shapes;
