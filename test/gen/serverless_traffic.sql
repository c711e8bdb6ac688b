-- serverless_traffic.sql: generated serverless-shaped request rows, shared
-- by the cold-start bench (test/bench/coldstart.sh) and its smaller pgTAP
-- copy (test/pgtap/coldstart_generated.sql).
--
-- psql variables: log, the table to fill (the scaler.request_log shape);
-- nfn, the number of functions (f0 .. f<nfn-1>, kinds http, timer, bursty
-- and rare in the proportions 6:6:5:3), over 3 days from 2026-01-01 UTC,
-- with a fixed seed.  Leaves a temporary table fn (i, name, kind, u, v).
DO $$ BEGIN PERFORM setseed(0.1); END $$;
CREATE TEMP TABLE fn AS
SELECT i, 'f' || i AS name,
       CASE WHEN i % 20 < 6 THEN 'http' WHEN i % 20 < 12 THEN 'timer'
            WHEN i % 20 < 17 THEN 'bursty' ELSE 'rare' END AS kind,
       random() AS u, random() AS v
  FROM generate_series(0, :nfn - 1) i;

-- http: floor(rate + U) requests a minute (mean: the rate), daily wave
INSERT INTO :log (ts, function_name, duration_ms, status)
SELECT '2026-01-01 00:00+00'::timestamptz + (m + random()) * interval '1 minute',
       name, 50 + 950 * random(), 200
  FROM fn, generate_series(0, 3 * 1440 - 1) m,
       LATERAL (SELECT 0.02 * 1000 ^ u * (1 + 0.6 * sin(2 * pi() * m / 1440 + 6.28 * v)) AS rate) r,
       LATERAL generate_series(1, floor(r.rate + random())::int) k
 WHERE kind = 'http';

-- timer: a call every p minutes from a random offset, a few seconds late
INSERT INTO :log (ts, function_name, duration_ms, status)
SELECT '2026-01-01 00:00+00'::timestamptz + (o + n * p) * interval '1 minute'
       + 5 * random() * interval '1 second', name, 50 + 450 * random(), 200
  FROM (SELECT name, p, floor(u * p)::int AS o
          FROM fn, LATERAL (SELECT (ARRAY[1, 2, 5, 10, 15, 30, 60, 120])[1 + floor(v * 8)::int] AS p) x
         WHERE kind = 'timer') t,
       generate_series(0, 3 * 1440 / p) n
 WHERE o + n * p < 3 * 1440;

-- bursty: burst starts are cumulative log-normal gaps (sigma 0.3)
INSERT INTO :log (ts, function_name, duration_ms, status)
SELECT '2026-01-01 00:00+00'::timestamptz + (s + 2 * random()) * interval '1 minute',
       name, 50 + 950 * random(), 200
  FROM (SELECT name, sum(gap) OVER (PARTITION BY name ORDER BY n) AS s,
               2 + floor(9 * random())::int AS k
          FROM (SELECT name, n, med * exp(0.3 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) AS gap
                  FROM (SELECT name, 5 * 36 ^ u AS med FROM fn WHERE kind = 'bursty') f,
                       LATERAL generate_series(1, ceil(3 * 1440 / med * 1.5)::int + 2) n) g) b,
       LATERAL generate_series(1, b.k) j
 WHERE s < 3 * 1440 - 3;

-- rare: a request in a minute with probability 0.002 - 0.02
INSERT INTO :log (ts, function_name, duration_ms, status)
SELECT '2026-01-01 00:00+00'::timestamptz + (m + random()) * interval '1 minute',
       name, 50 + 950 * random(), 200
  FROM fn, generate_series(0, 3 * 1440 - 1) m
 WHERE kind = 'rare' AND random() < 0.002 * 10 ^ u;
