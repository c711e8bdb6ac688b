-- Cold-start accounting of scaler.backtest() and backtest_summary() on a
-- trace worked out by hand, every column checked; reading only the needed
-- columns (a role with column-level SELECT can replay); the bound on the
-- steps of one replay, and interrupts during a long one.
--
-- Rows are placed in the middle of their minute, so each one-minute step
-- holds exactly one minute's rows and the panic tail (the last six seconds)
-- holds none.  Concurrency of a step = sum of durations / 60 s.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS scaler;
SET search_path = scaler, public;
SET client_min_messages = warning;
SET TimeZone = 'UTC';
SELECT plan(16);

CREATE TABLE public.cs_log (LIKE scaler.request_log INCLUDING ALL);

-- n requests of ms milliseconds each in minute m (from t0), mid-minute
CREATE FUNCTION pg_temp.req(m int, n int, ms float8, fn text DEFAULT 'cs')
RETURNS void LANGUAGE sql AS $$
    INSERT INTO public.cs_log (ts, function_name, duration_ms, status)
    SELECT '2026-01-05 00:00+00'::timestamptz + m * interval '1 minute' + interval '30 seconds',
           fn, ms, 200
      FROM generate_series(1, n)
$$;

-- The trace, per minute: requests x duration -> concurrency
--   0: 1 x 6 s    -> 0.1     5: 1 x 120 s -> 2
--   1: 2 x 6 s    -> 0.2     6: 1 x 120 s -> 2
--   2: none                  7, 8: none
--   3: 3 x 60 s   -> 3       9: 1 x 300 s -> 5
--   4: 2 x 150 s  -> 5      10: none
SELECT pg_temp.req(0, 1, 6000), pg_temp.req(1, 2, 6000), pg_temp.req(3, 3, 60000),
       pg_temp.req(4, 2, 150000), pg_temp.req(5, 1, 120000), pg_temp.req(6, 1, 120000),
       pg_temp.req(9, 1, 300000);

SELECT scaler.create_policy('cs', 1, function_name => 'cs', source => 'public.cs_log',
                            scale_in_stabilization => '0');

-- Per step (at = end of the minute): from_capacity c, demand (ceil of the
-- concurrency), the need (demand, at least 1 with requests), cold starts
-- min(requests, max(0, need - c)):
--   1: c 0, 1 req, need 1        -> 1 cold; decides 1 (target)
--   2: c 1, 2 req, need 1        -> 0;      decides 1
--   3: c 1, none                 -> 0;      decides 0 (no_traffic)
--   4: c 0, 3 req, need 3        -> 3;      decides 3
--   5: c 3, 2 req, need 5        -> 2;      decides 5
--   6: c 5, 1 req, need 2        -> 0;      decides 2
--   7: c 2, 1 req, need 2        -> 0;      decides 2
--   8: c 2, none                 -> 0;      decides 0
--   9: c 0, none                 -> 0;      stays 0
--  10: c 0, 1 req, need 5        -> 1 (capped by the one request); decides 5
--  11: c 5, none                 -> 0;      decides 0
SELECT is((SELECT string_agg(format('%s:%s/%s/%s>%s %s r%s c%s', to_char(at, 'MI'), from_capacity, demand,
                                    shortfall, capacity, reason, requests, cold_starts), ', ' ORDER BY at)
             FROM scaler.backtest('cs', '2026-01-05 00:00+00', '2026-01-05 00:11+00')),
          '01:0/1/1>1 target r1 c1, 02:1/1/0>1 target r2 c0, 03:1/0/0>0 no_traffic r0 c0, '
          '04:0/3/3>3 target r3 c3, 05:3/5/2>5 target r2 c2, 06:5/2/0>2 target r1 c0, '
          '07:2/2/0>2 target r1 c0, 08:2/0/0>0 no_traffic r0 c0, 09:0/0/0>0 no_traffic r0 c0, '
          '10:0/5/5>5 target r1 c1, 11:5/0/0>0 no_traffic r0 c0',
          'every step: from, demand, shortfall, capacity, reason, requests and cold starts');

SELECT is((SELECT pg_catalog.pg_get_function_result('scaler.backtest(text,timestamptz,timestamptz,jsonb)'::regprocedure)),
          'SETOF record', 'backtest returns rows');
SELECT is((SELECT array_agg(a.attname::text ORDER BY a.attnum)
             FROM pg_catalog.pg_proc p, unnest(p.proargnames, p.proargmodes) WITH ORDINALITY a(attname, mode, attnum)
            WHERE p.oid = 'scaler.backtest_summary(text,timestamptz,timestamptz,jsonb)'::regprocedure AND a.mode = 'o'),
          ARRAY['steps', 'scale_out_events', 'scale_in_events', 'instance_hours', 'minutes_under_capacity',
                'worst_shortfall', 'mean_utilisation', 'peak_capacity', 'requests', 'cold_starts',
                'cold_start_pct', 'warm_idle_instance_hours'],
          'the summary''s columns, the cold-start ones last');

-- Summary, by hand:
--   steps 11; scale-outs at 1, 4, 5, 10; scale-ins at 3, 6, 8, 11
--   instance-hours: from_capacity summed = 0+1+1+0+3+5+2+2+0+0+5 = 19 minutes
--   minutes under capacity: steps 1, 4, 5, 10; worst shortfall 5
--   utilisation: demand over capacity where capacity > 0:
--     (0.2 + 0 + 5 + 2 + 2 + 0 + 0) / (1 + 1 + 3 + 5 + 2 + 2 + 5) = 9.2 / 19
--   peak 5; requests 11; cold starts 1 + 3 + 2 + 1 = 7 -> 700 / 11 %
--   warm idle (capacity - concurrency, when positive), instance-minutes:
--     step 2: 1 - 0.2, 3: 1, 6: 5 - 2, 8: 2, 11: 5  -> 11.8 (steps 1, 4, 5, 7, 10: none)
SELECT is((SELECT row(steps, scale_out_events, scale_in_events, round(instance_hours::numeric, 9),
                      minutes_under_capacity, worst_shortfall, round(mean_utilisation::numeric, 9),
                      peak_capacity, requests, cold_starts, round(cold_start_pct::numeric, 9),
                      round(warm_idle_instance_hours::numeric, 9))::text
             FROM scaler.backtest_summary('cs', '2026-01-05 00:00+00', '2026-01-05 00:11+00')),
          row(11::bigint, 4::bigint, 4::bigint, round(19 / 60.0, 9), 4::float8, 5, round(9.2 / 19, 9),
              5, 11::bigint, 7::bigint, round(700 / 11.0, 9), round(11.8 / 60, 9))::text,
          'summary: every column, including requests, cold starts, their share and warm-idle instance-hours');

-- The summary is the sum of the steps.
SELECT is((SELECT row(sum(requests), sum(cold_starts))::text
             FROM scaler.backtest('cs', '2026-01-05 00:00+00', '2026-01-05 00:11+00')),
          (SELECT row(requests, cold_starts)::text
             FROM scaler.backtest_summary('cs', '2026-01-05 00:00+00', '2026-01-05 00:11+00')),
          'summary requests and cold starts are the sums over the steps');

-- No requests at all: no share of cold starts; running capacity is all idle.
SELECT is((SELECT row(requests, cold_starts, cold_start_pct, round(warm_idle_instance_hours::numeric, 9))::text
             FROM scaler.backtest_summary('cs', '2026-01-05 01:00+00', '2026-01-05 01:30+00',
                                          '{"min_capacity": 2}')),
          row(0::bigint, 0::bigint, NULL::float8, round(1::numeric, 9))::text,
          'no requests: cold_start_pct is NULL; 2 idle instances for 30 minutes = 1 instance-hour');

-- A load metric other than concurrency: rps target 1 per instance: 1 request
-- in a minute is 1/60 rps, a need of one instance, busy 1/60.
SELECT is((SELECT row(requests, cold_starts, round(warm_idle_instance_hours::numeric, 9))::text
             FROM scaler.backtest_summary('cs', '2026-01-05 00:00+00', '2026-01-05 00:03+00',
                                          '{"metric": "rps"}')),
          -- step 1: c 0, 1 req -> 1 cold; step 2: c 1, 2 req (2/60 rps) -> idle 58/60; step 3: c 1 idle 1
          row(3::bigint, 1::bigint, round((58 / 60.0 + 1) / 60, 9))::text,
          'rps: busy instances are rps / target');

-- A quality metric measures no load: a step with requests keeps its whole
-- capacity busy, one without is all idle; each request needs one instance.
SELECT is((SELECT row(requests, cold_starts, cold_start_pct, round(warm_idle_instance_hours::numeric, 9))::text
             FROM scaler.backtest_summary('cs', '2026-01-05 00:00+00', '2026-01-05 00:11+00',
                                          '{"metric": "error_rate", "target": 0.5, "min_capacity": 1}')),
          row(11::bigint, 0::bigint, 0::float8, round(4 / 60.0, 9))::text,
          'error_rate with one instance always running: no cold start, idle in the 4 steps without requests');
SELECT is((SELECT string_agg(cold_starts::text, '' ORDER BY at)
             FROM scaler.backtest('cs', '2026-01-05 00:00+00', '2026-01-05 00:11+00',
                                  '{"metric": "error_rate", "target": 0.5}')),
          '11011110010',
          'error_rate from zero: no errors decide zero instances, so every step with requests starts cold');

-- ------------------------------------------------ column-level privileges
-- The owner may read only the columns the policy needs; backtest must not
-- read the others (it used to SELECT *).
CREATE ROLE scaler_cs_cols;
GRANT USAGE ON SCHEMA scaler TO scaler_cs_cols;
GRANT EXECUTE ON FUNCTION scaler.create_policy TO scaler_cs_cols;
CREATE TABLE public.cs_wide (LIKE scaler.request_log INCLUDING ALL);
ALTER TABLE public.cs_wide ADD COLUMN secret text;
INSERT INTO public.cs_wide SELECT *, 'hidden' FROM public.cs_log;
GRANT SELECT (ts, function_name, duration_ms) ON public.cs_wide TO scaler_cs_cols;

SET ROLE scaler_cs_cols;
SELECT scaler.create_policy('cs_cols', 1, function_name => 'cs', source => 'public.cs_wide',
                            scale_in_stabilization => '0');
SELECT throws_ok($$SELECT * FROM public.cs_wide$$, '42501', NULL,
                 'the owner may not read the whole table');
SELECT is((SELECT row(requests, cold_starts)::text
             FROM scaler.backtest_summary('cs_cols', '2026-01-05 00:00+00', '2026-01-05 00:11+00')),
          row(11::bigint, 7::bigint)::text,
          'with SELECT on ts, function_name and duration_ms only, the owner can replay (the same result)');
SELECT is((SELECT count(*)::int
             FROM scaler.backtest('cs_cols', '2026-01-05 00:00+00', '2026-01-05 00:11+00',
                                  '{"metric": "p95_ms", "target": 1000}')),
          11, 'and replay p95_ms over the same columns');
RESET ROLE;
SELECT is((SELECT count(*)::int
             FROM scaler.backtest('cs_cols', '2026-01-05 00:00+00', '2026-01-05 00:11+00')),
          11, 'a superuser replays it too, reading as the owner');

-- ------------------------------------------------ runaway replays
SELECT throws_ok($$SELECT * FROM scaler.backtest_summary('cs', '2026-01-01 00:00+00', '4026-01-01 00:00+00')$$,
                 '22023', 'backtest of policy "cs" would take more than 1000000 steps',
                 'a replay of too many steps is refused, naming the limit');
SELECT throws_ok($$SELECT * FROM scaler.backtest('cs', '2026-01-05 00:00+00', '2026-01-06 00:00+00',
                                                 '{"stable_window": "0.01 seconds"}')$$,
                 '22023', 'backtest of policy "cs" would take more than 1000000 steps',
                 'also when a short stable_window makes the steps many');

-- a million steps with 2,000 floors over all of them: the replay honours
-- statement_timeout (it used to loop over floors x steps without checking)
INSERT INTO scaler.capacity_floor (policy, starts, ends, min_capacity, origin)
SELECT 'cs', '2026-01-05 00:00+00'::timestamptz + i * interval '1 minute', 'infinity', 1 + i % 50, 'manual'
  FROM generate_series(1, 2000) i;
-- (statement_timeout is armed when a statement starts: set it before the
-- statement that calls this, which catches the cancel pgTAP cannot)
CREATE FUNCTION pg_temp.cancelled_within(q text, within interval)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
BEGIN
    EXECUTE q;
    RETURN 'finished';
EXCEPTION WHEN query_canceled THEN
    RETURN CASE WHEN clock_timestamp() - t0 < within THEN 'cancelled in time'
                ELSE format('cancelled after %s', clock_timestamp() - t0) END;
END
$$;
SET LOCAL statement_timeout = '200ms';
SELECT is(pg_temp.cancelled_within($$SELECT count(*) FROM scaler.backtest('cs', '2026-01-05 00:00+00',
                                       '2026-01-05 00:00+00'::timestamptz + interval '999999 minutes')$$,
                                   '1 second'),
          'cancelled in time', 'a long replay with many floors is cancelled by statement_timeout');
SET LOCAL statement_timeout = 0;

SELECT * FROM finish();
ROLLBACK;
