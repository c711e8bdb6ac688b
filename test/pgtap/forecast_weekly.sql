-- scaler.forecast() on two weeks of traffic with a weekly pattern: each hour
-- within 10% of the generating pattern; hour-of-day seasonality with under a
-- week of history; apply_forecast() floors raised `lead` early, honoured by
-- live evaluation and never above max_capacity; bad input.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS scaler;
SET search_path = scaler, public;
SET client_min_messages = warning;
-- local hours, and a zone whose offset is not whole hours
SET TimeZone = 'Asia/Kolkata';
SELECT plan(28);

CREATE TABLE public.wk_log (LIKE scaler.request_log INCLUDING ALL);
-- requests a minute in each local hour of the week: 3 .. 12
CREATE FUNCTION pg_temp.pattern(t timestamptz) RETURNS int LANGUAGE sql STABLE AS $$
    SELECT 3 + ((extract(dow FROM t)::int * 24 + extract(hour FROM t)::int) * 7) % 10
$$;

-- two weeks up to now, every minute pattern +-1 requests (noise), 0.5 s each
SELECT setseed(0.7);
INSERT INTO public.wk_log (ts, function_name, duration_ms, status)
SELECT m + (i - 1) * interval '1 second' * (60.0 / n), 'wk', 500, 200
  FROM generate_series(date_trunc('minute', now()) - interval '14 days',
                       date_trunc('minute', now()) - interval '1 minute', interval '1 minute') m,
       LATERAL (SELECT pg_temp.pattern(m) + floor(random() * 3)::int - 1 AS n) k,
       generate_series(1, n) i;

-- 3 requests a minute per instance
SELECT scaler.create_policy('wk', 0.05, metric => 'rps', function_name => 'wk', source => 'public.wk_log');
CREATE TEMP TABLE fc AS SELECT * FROM scaler.forecast('wk', '168 hours');

SELECT ok((SELECT count(*) FROM fc) BETWEEN 168 AND 169, 'one row per hour of the horizon');
SELECT is((SELECT count(*)::int FROM fc WHERE abs(expected * 60 - pg_temp.pattern(hour)) > 0.1 * pg_temp.pattern(hour)),
          0, 'every hour of the week within 10% of the generating pattern');
SELECT ok((SELECT avg(abs(expected * 60 - pg_temp.pattern(hour)) / pg_temp.pattern(hour)) FROM fc) < 0.03,
          'and within 3% on average (the noise is +-1 request a minute)');
SELECT is((SELECT count(*)::int FROM fc WHERE high < expected OR high * 60 > pg_temp.pattern(hour) + 1.0001), 0,
          'high (the 95th percentile of the minutes) lies between expected and the noisiest minute');
SELECT is((SELECT count(*)::int FROM fc WHERE capacity <> least(greatest(ceil(high / 0.05 - 1e-9)::int, 0), 100)), 0,
          'capacity = ceil(high / target) within [min_capacity, max_capacity]');
SELECT is((SELECT count(*)::int FROM fc WHERE hour <> date_trunc('hour', hour)), 0,
          'hours are local hours (Asia/Kolkata, +05:30)');
SELECT is((SELECT min(hour) FROM fc), date_trunc('hour', now()), 'from the current hour');
SELECT is((SELECT count(*)::int FROM scaler.forecast('wk')), (SELECT count(*)::int FROM fc WHERE hour < now() + interval '48 hours'),
          'horizon defaults to 48 hours');

-- under a week of history: hour of the day
SELECT is((SELECT count(*)::int FROM (
              SELECT extract(hour FROM hour) FROM scaler.forecast('wk', '72 hours', '3 days')
               GROUP BY 1 HAVING count(DISTINCT expected) > 1) x), 0,
          'lookback of 3 days: the same forecast for an hour of the day on every day');
SELECT ok((SELECT count(*) FROM (
              SELECT extract(hour FROM hour) FROM fc GROUP BY 1 HAVING count(DISTINCT expected) > 1) x) > 0,
          'while a week of history tells the days apart');

-- rows without a duration: concurrency is over the rows that have one, as
-- live evaluation measures it (4 requests a minute, 2 of 3 s and 2 without
-- a duration: 4 x 3 s / 60 s = 0.2, not 2 x 3 s / 60 s).  The rows start
-- inside the lookback: a minute the lookback cuts would change its hour's
-- share of rows with a duration.
INSERT INTO public.wk_log (ts, function_name, duration_ms, status)
SELECT m + i * interval '10 seconds', 'half', CASE WHEN i % 2 = 0 THEN 3000 END, 200
  FROM generate_series(date_trunc('minute', now()) - interval '47 hours',
                       date_trunc('minute', now()) - interval '1 minute', interval '1 minute') m,
       generate_series(0, 3) i;
SELECT scaler.create_policy('half', 0.1, function_name => 'half', source => 'public.wk_log');
SELECT is((SELECT count(*)::int FROM scaler.forecast('half', '24 hours', '2 days')
            WHERE abs(expected - 0.2) < 1e-9 AND abs(high - 0.2) < 1e-9 AND capacity = 2),
          (SELECT count(*)::int FROM scaler.forecast('half', '24 hours', '2 days')),
          'concurrency over the rows with a duration: 0.2 every hour, capacity 2');
SELECT is((SELECT value FROM scaler.backtest('half', now() - interval '1 day', now() - interval '1 day' + interval '1 minute')),
          0.2::float8, 'which is what the policy measures');
-- no durations at all: no concurrency to forecast, no floor
UPDATE public.wk_log SET duration_ms = NULL WHERE function_name = 'half';
SELECT is((SELECT count(*)::int FROM scaler.forecast('half', '24 hours', '2 days')
            WHERE expected IS NULL AND high IS NULL AND capacity IS NULL),
          (SELECT count(*)::int FROM scaler.forecast('half', '24 hours', '2 days')),
          'rows without durations: no forecast concurrency (live evaluation has no value either)');
SELECT is(scaler.apply_forecast('half'), 0, 'and no floors');

-- not enough history, bad input
SELECT throws_ok($$SELECT * FROM scaler.forecast('wk', '1 hour', '20 hours')$$, '22023',
                 'not enough history to forecast policy "wk"', 'under 24 hours of lookback');
SELECT scaler.create_policy('quiet', 1, metric => 'rps', function_name => 'nothing', source => 'public.wk_log');
SELECT throws_ok($$SELECT * FROM scaler.forecast('quiet')$$, '22023',
                 'not enough history to forecast policy "quiet"', 'no history at all');
SELECT throws_ok($$SELECT * FROM scaler.forecast('wk', '0')$$, '22023',
                 'horizon must be greater than zero', 'horizon 0');
SELECT throws_ok($$SELECT * FROM scaler.forecast('wk', '-1 hour')$$, '22023',
                 'horizon must be greater than zero', 'negative horizon');
SELECT throws_ok($$SELECT * FROM scaler.forecast('nope')$$, '42704',
                 'policy "nope" does not exist', 'unknown policy');

-- apply_forecast: floors from `lead` before each hour to its end
SELECT is(scaler.apply_forecast('wk', '10 minutes'), (SELECT count(*)::int FROM scaler.forecast('wk') WHERE capacity > 0),
          'a floor for every forecast hour that needs capacity');
SELECT is((SELECT count(*)::int FROM scaler.capacity_floor f JOIN scaler.forecast('wk') c
             ON f.starts = c.hour - interval '10 minutes' AND f.ends = c.hour + interval '1 hour'
            AND f.min_capacity = c.capacity
            WHERE f.policy = 'wk' AND f.origin = 'forecast'),
          (SELECT count(*)::int FROM scaler.capacity_floor WHERE policy = 'wk'),
          'each floor starts lead (10 minutes) before its hour, ends with it, at the forecast capacity');
SELECT is(scaler.apply_forecast('wk', '10 minutes'), (SELECT count(*)::int FROM scaler.capacity_floor WHERE policy = 'wk'),
          'applying again replaces the floors instead of adding to them');

-- the first forecast hour that needs more than the one before it, far
-- enough ahead that the policy's window at its lead time holds no rows (the
-- history ends now), so the floor alone sets the capacity
CREATE TEMP TABLE rise AS
SELECT hour, capacity, prev FROM (
    SELECT hour, capacity, lag(capacity) OVER (ORDER BY hour) AS prev FROM scaler.forecast('wk')) x
 WHERE capacity > prev AND hour - interval '10 minutes' - interval '1 minute' > now()
 ORDER BY hour LIMIT 1;
SELECT is((SELECT scaler.active_floor('wk', hour - interval '10 minutes' - interval '1 second') FROM rise),
          (SELECT prev FROM rise), 'just before the lead time the previous hour''s floor holds');
CREATE TEMP TABLE ev AS SELECT scaler._evaluate_at('wk', hour - interval '10 minutes') AS ids FROM rise;
SELECT is((SELECT to_capacity || ' ' || reason FROM ev, scaler.decision d WHERE d.id = ANY (ev.ids)),
          (SELECT capacity || ' floor' FROM rise),
          'live evaluation lead early: at hour - lead the capacity is already the hour''s floor');

-- floors never exceed max_capacity
SELECT scaler.alter_policy('wk', max_capacity => 2);
SELECT scaler.apply_forecast('wk');
SELECT is((SELECT max(min_capacity) FROM scaler.capacity_floor WHERE policy = 'wk' AND ends > now()), 2,
          'forecast floors are cut to max_capacity');
INSERT INTO scaler.capacity_floor (policy, starts, ends, min_capacity, origin)
VALUES ('wk', '-infinity', 'infinity', 50, 'manual');
CREATE TEMP TABLE ev2 AS SELECT scaler._evaluate_at('wk', now() + interval '3 days') AS ids;
SELECT is((SELECT to_capacity FROM ev2, scaler.decision d WHERE d.id = ANY (ev2.ids)), 2,
          'live evaluation never goes above max_capacity for a floor');

SELECT throws_ok($$SELECT scaler.apply_forecast('wk', '-5 minutes')$$, '22023',
                 'lead must not be null or negative', 'negative lead');
SELECT scaler.create_policy('lat', 100, metric => 'p95_ms', function_name => 'wk', source => 'public.wk_log');
SELECT throws_ok($$SELECT scaler.apply_forecast('lat')$$, '22023',
                 'policy "lat" scales on p95_ms, which a forecast cannot turn into capacity',
                 'floors need a load metric');

SELECT * FROM finish();
ROLLBACK;
