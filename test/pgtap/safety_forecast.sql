-- Issue 8.9 and 8.7 (forecast part): the forecast counts only whole minutes
-- inside its lookback, so with a perfectly even history every hour,
-- including the one the lookback starts in, forecasts exactly the rate
-- logged; unreasonable horizons, lookbacks, leads and durations are
-- refused with 22023 and a message naming the limit.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_cron;
CREATE EXTENSION IF NOT EXISTS scaler;
SET search_path = scaler, public;
SET TimeZone = 'UTC';
SELECT plan(19);

-- two clean weeks and an hour: 12 requests in every minute (one each 5 s),
-- up to the last whole minute before now
CREATE TABLE public.edge_log (LIKE scaler.request_log INCLUDING ALL);
INSERT INTO public.edge_log (ts, function_name, duration_ms, status)
SELECT m + k * interval '5 seconds', 'edge', 100, 200
  FROM generate_series(date_trunc('minute', now()) - interval '14 days 1 hour',
                       date_trunc('minute', now()) - interval '1 minute', interval '1 minute') m,
       generate_series(0, 11) k;
SELECT scaler.create_policy('edge', 0.05, metric => 'rps', function_name => 'edge', source => 'public.edge_log',
                            max_capacity => 1000);

-- now() is not on a minute boundary (to the microsecond), so the lookback
-- of 14 days starts inside a minute of the hour now is in, a week of hours
-- earlier: that minute is only partly inside, and so is its hour
SELECT isnt(now(), date_trunc('minute', now()), 'the lookback starts inside a minute');
CREATE TEMP TABLE fc AS SELECT * FROM scaler.forecast('edge', '48 hours');
SELECT is((SELECT count(*)::int FROM fc WHERE abs(expected - 0.2) > 1e-9 OR abs(high - 0.2) > 1e-9), 0,
          'every hour forecasts the 0.2 rps logged (12 requests a minute)');
SELECT is((SELECT round(expected::numeric, 9) FROM fc WHERE hour = date_trunc('hour', now() - interval '14 days') + interval '14 days'),
          0.2::numeric, 'the hour that starts the lookback forecasts right');
SELECT is((SELECT capacity FROM fc WHERE hour = date_trunc('hour', now())), 4,
          'and so needs 4 instances at 0.05 rps each, not fewer');
-- a lookback starting in another hour, half-way through it
CREATE TEMP TABLE fc2 AS SELECT * FROM scaler.forecast('edge', '24 hours', '13 days 23 hours 30 minutes');
SELECT is((SELECT count(*)::int FROM fc2 WHERE abs(expected - 0.2) > 1e-9), 0,
          'a lookback starting half-way through an hour: that hour forecasts right too');

-- 8.7: limits
SELECT throws_ok($$SELECT * FROM scaler.forecast('edge', '3000 years')$$, '22023',
                 'horizon must not exceed 366 days', 'a 3000-year horizon is refused, naming the limit');
SELECT throws_ok($$SELECT * FROM scaler.forecast('edge', '367 days')$$, '22023',
                 'horizon must not exceed 366 days', 'just over the limit');
SELECT lives_ok($$SELECT * FROM scaler.forecast('edge', '366 days')$$, 'the limit itself is allowed');
SELECT throws_ok($$SELECT * FROM scaler.forecast('edge', '1 hour', '540 years')$$, '22023',
                 'lookback must not exceed 366 days', 'a 540-year lookback is refused');
SELECT throws_ok($$SELECT scaler.apply_forecast('edge', '3000 years')$$, '22023',
                 'lead must not exceed 24 hours', 'apply_forecast: lead');
SELECT throws_ok($$SELECT scaler.open_floor('edge', 1, '3000 years')$$, '22023',
                 'duration must not exceed 366 days', 'open_floor: duration');
SELECT lives_ok($$SELECT scaler.open_floor('edge', 1, '366 days')$$, 'open_floor: a year is fine');
-- a floor ends at now() + duration in calendar months, which the limits
-- count as 30 days: 12 months and 6 days used to pass and last 371 days
SELECT throws_ok($$SELECT scaler.open_floor('edge', 1, '12 mons 6 days')$$, '22023',
                 'duration must not have months or years', 'open_floor: a duration in months');
SELECT throws_ok($$SELECT scaler.schedule_capacity('edge', '0 9 * * *', 1, '-2 mons 61 days')$$, '22023',
                 'duration must not have months or years', 'schedule_capacity: a duration in months');
SELECT throws_ok($$SELECT scaler.schedule_capacity('edge', '0 9 * * *', 1, '3000 years')$$, '22023',
                 'duration must not exceed 366 days', 'schedule_capacity: duration');
SELECT throws_ok($$SELECT scaler.schedule_capacity('edge', repeat('1', 101), 1, '1 hour')$$, '22023',
                 'schedule must not exceed 100 characters', 'schedule_capacity: schedule');
SELECT throws_ok($$SELECT scaler.schedule_forecast('edge', '0 */6 * * *', '3000 years')$$, '22023',
                 'lead must not exceed 24 hours', 'schedule_forecast: lead');
SELECT throws_ok($$SELECT scaler.schedule_forecast('edge', repeat('1', 101))$$, '22023',
                 'every must not exceed 100 characters', 'schedule_forecast: every');

-- the bound is on the wall-clock time: a year-long horizon is quick
SET LOCAL statement_timeout = '5s';
SELECT lives_ok($$SELECT count(*) FROM scaler.forecast('edge', '366 days', '366 days')$$,
                'the largest forecast allowed finishes within a 5 s statement_timeout');

SELECT * FROM finish();
ROLLBACK;
