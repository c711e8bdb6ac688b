-- keep_alive on policies: the setting (create_policy, alter_policy,
-- overrides, scaler.policies), and its replay worked out by hand: a fixed
-- keep-alive, and 'auto' learning a timer's idle times in the warm-up day
-- before since and pre-warming just before each call.
--
-- Requests last 6 s and sit mid-minute: each makes its one-minute step's
-- concurrency 0.1, a demand of one instance; scale_in_stabilization is 0 so
-- that the keep-alive alone decides when the last instance goes.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS scaler;
SET search_path = scaler, public;
SET client_min_messages = warning;
SET TimeZone = 'UTC';
SELECT plan(25);

CREATE TABLE public.ka_log (LIKE scaler.request_log INCLUDING ALL);
CREATE FUNCTION pg_temp.req(fn text, t timestamptz) RETURNS void LANGUAGE sql AS $$
    INSERT INTO public.ka_log (ts, function_name, duration_ms, status)
    VALUES (t + interval '30 seconds', fn, 6000, 200)
$$;
-- capacity:reason per step, runs of the same collapsed to 'capacity:reason*n'
CREATE FUNCTION pg_temp.caps(p text, since timestamptz, minutes int, overrides jsonb DEFAULT '{}')
RETURNS text LANGUAGE sql AS $$
    WITH s AS (
        SELECT at, capacity || ':' || reason AS cr FROM scaler.backtest(p, since, since + minutes * interval '1 minute', overrides)),
    g AS (
        SELECT at, cr, count(*) FILTER (WHERE changed) OVER (ORDER BY at) AS grp
          FROM (SELECT at, cr, cr IS DISTINCT FROM lag(cr) OVER (ORDER BY at) AS changed FROM s) x)
    SELECT string_agg(cr || CASE WHEN n > 1 THEN '*' || n ELSE '' END, ',' ORDER BY first)
      FROM (SELECT grp, min(cr) AS cr, count(*) AS n, min(at) AS first FROM g GROUP BY grp) r
$$;

-- ---------------------------------------------------------------- the setting
SELECT scaler.create_policy('ka', 1, function_name => 'ka', source => 'public.ka_log',
                            scale_in_stabilization => '0', keep_alive => '10 minutes');
SELECT is((SELECT keep_alive FROM scaler.policies WHERE name = 'ka'), '00:10:00', 'create_policy takes keep_alive');
SELECT scaler.alter_policy('ka', target => 1);
SELECT is((SELECT keep_alive FROM scaler.policies WHERE name = 'ka'), '00:10:00', 'alter_policy without keep_alive keeps it');
SELECT scaler.alter_policy('ka', keep_alive => 'auto');
SELECT is((SELECT row(keep_alive, keep_alive_auto)::text FROM scaler.policy WHERE name = 'ka'), row(NULL::interval, true)::text,
          'keep_alive => auto');
SELECT is((SELECT keep_alive FROM scaler.policies WHERE name = 'ka'), 'auto', 'scaler.policies shows auto');
SELECT scaler.alter_policy('ka', keep_alive => 'none');
SELECT is((SELECT row(keep_alive, keep_alive_auto)::text FROM scaler.policy WHERE name = 'ka'), row(NULL::interval, false)::text,
          'keep_alive => none removes it');
SELECT throws_ok($$SELECT scaler.alter_policy('ka', keep_alive => 'soon')$$, '22023', 'invalid keep_alive: "soon"',
                 'a keep_alive that is no interval is refused');
SELECT throws_ok($$SELECT scaler.create_policy('ka2', 1, source => 'public.ka_log', keep_alive => '-5 minutes')$$,
                 '22023', 'keep_alive must be greater than zero', 'so is a negative one');
-- one evaluation could not count (about 3,000 years and more) used to be
-- taken, and then fail every evaluation and replay of the policy
SELECT throws_ok($$SELECT scaler.create_policy('ka3', 1, source => 'public.ka_log', keep_alive => '5000 years')$$,
                 '22023', 'keep_alive must be at most 100 years', 'a keep_alive of millennia is refused when set');
SELECT throws_ok($$SELECT * FROM scaler.backtest('ka', '2026-01-05', '2026-01-05 01:00', '{"keep_alive": "101 years"}')$$,
                 '22023', 'invalid value for override "keep_alive": keep_alive must be at most 100 years', 'also as an override');
SELECT throws_ok($$SELECT * FROM scaler.backtest('ka', '2026-01-05', '2026-01-05 01:00', '{"keep_alive": "x"}')$$,
                 '22023', NULL, 'and a bad override');
SELECT throws_ok($$UPDATE scaler.policy SET keep_alive = '1 minute', keep_alive_auto = true WHERE name = 'ka'$$,
                 '23514', NULL, 'the table refuses an interval together with auto');

-- ---------------------------------------------------------------- fixed
-- requests at minutes 0, 10 and 25 (steps 1, 11 and 26 have them)
SELECT pg_temp.req('ka', '2026-01-05 00:00+00'::timestamptz + m * interval '1 minute') FROM unnest(ARRAY[0, 10, 25]) m;

-- none: back to zero after each request, so all three start cold
SELECT is(pg_temp.caps('ka', '2026-01-05 00:00+00', 40),
          '1:target,0:no_traffic*9,1:target,0:no_traffic*14,1:target,0:no_traffic*14',
          'no keep-alive: scale to zero one step after each request');
SELECT is((SELECT cold_starts FROM scaler.backtest_summary('ka', '2026-01-05 00:00+00', '2026-01-05 00:40+00')), 3::bigint,
          'no keep-alive: 3 cold starts');

-- 10 minutes: the instance decided at step 1 is held at steps 2..10 (idle
-- 1..9 minutes after the step with the request), so the request of step 11
-- finds it warm; step 21 is 10 minutes on and scales to zero; the request
-- of step 26 starts cold
SELECT is(pg_temp.caps('ka', '2026-01-05 00:00+00', 40, '{"keep_alive": "10 minutes"}'),
          '1:target,1:keep_alive*9,1:target,1:keep_alive*9,0:no_traffic*5,1:target,1:keep_alive*9,0:no_traffic*5',
          'keep_alive 10 minutes: one instance held 10 minutes after each step with requests');
SELECT is((SELECT row(requests, cold_starts, round(instance_hours::numeric, 9), round(warm_idle_instance_hours::numeric, 9))::text
             FROM scaler.backtest_summary('ka', '2026-01-05 00:00+00', '2026-01-05 00:40+00', '{"keep_alive": "10 minutes"}')),
          -- capacity runs in steps 2..21 and 27..36 = 30 instance-minutes,
          -- busy 0.1 in step 11 only
          row(3::bigint, 2::bigint, round(30 / 60.0, 9), round(29.9 / 60, 9))::text,
          'keep_alive 10 minutes: 2 cold starts, 30 instance-minutes of which 29.9 idle');

-- auto without history falls back to a fixed 10 minutes
SELECT is(pg_temp.caps('ka', '2026-01-05 00:00+00', 40, '{"keep_alive": "auto"}'),
          pg_temp.caps('ka', '2026-01-05 00:00+00', 40, '{"keep_alive": "10 minutes"}'),
          'auto with too few idle times: the fixed fallback of 10 minutes');

-- floors and demand are not lowered; max_capacity 0 is respected
SELECT is(pg_temp.caps('ka', '2026-01-05 00:00+00', 12, '{"keep_alive": "10 minutes", "max_capacity": 0}'),
          '0:max_capacity,0:no_traffic*9,0:max_capacity,0:no_traffic',
          'keep-alive never exceeds max_capacity');

-- ---------------------------------------------------------------- auto
-- a timer: one call every 30 minutes, at minute 10 of each half hour, from
-- a day before since to the end of the replay.  The idle time between the
-- steps with requests is 29 minutes (bin 29), so head = tail = bin 29: warm
-- from 29 min - 1.45 min (5%) = 27.55 min to 30 min + 3 min (10%) = 33 min
-- after a step with requests.  In the replay the previous call's step ended
-- 19 minutes before since, so the decisions at steps 9 and 10 (28 and 29
-- minutes on) pre-warm one instance, the call of step 11 finds it warm, the
-- step after it keeps it (demand), and step 12 unloads.
SELECT pg_temp.req('timer', t)
  FROM generate_series('2026-01-04 00:10+00'::timestamptz, '2026-01-05 01:40+00', '30 minutes') t;
SELECT scaler.create_policy('timer', 1, function_name => 'timer', source => 'public.ka_log',
                            scale_in_stabilization => '0', keep_alive => 'auto');
SELECT is(pg_temp.caps('timer', '2026-01-05 00:00+00', 120),
          '0:no_traffic*8,1:prewarm*2,1:target,0:no_traffic*27,1:prewarm*2,1:target,0:no_traffic*27,'
          '1:prewarm*2,1:target,0:no_traffic*27,1:prewarm*2,1:target,0:no_traffic*19',
          'auto: unload after each call, pre-warm two steps before the next');
SELECT is((SELECT row(requests, cold_starts, cold_start_pct, round(instance_hours::numeric, 9),
                      round(warm_idle_instance_hours::numeric, 9))::text
             FROM scaler.backtest_summary('timer', '2026-01-05 00:00+00', '2026-01-05 02:00+00')),
          -- per call: a pre-warmed idle step, the call's step (busy 0.1), the step after
          row(4::bigint, 0::bigint, 0::float8, round(12 / 60.0, 9), round(4 * 2.9 / 60, 9))::text,
          'auto on a timer: no cold start, 12 instance-minutes, 11.6 of them idle');
SELECT is((SELECT row(requests, cold_starts, cold_start_pct, round(warm_idle_instance_hours::numeric, 9))::text
             FROM scaler.backtest_summary('timer', '2026-01-05 00:00+00', '2026-01-05 02:00+00',
                                          '{"keep_alive": "10 minutes"}')),
          row(4::bigint, 4::bigint, 100::float8, round(40 / 60.0, 9))::text,
          'a fixed 10 minutes on the same timer: every call cold, 40 idle instance-minutes');
SELECT is((SELECT cold_starts FROM scaler.backtest_summary('timer', '2026-01-05 00:00+00', '2026-01-05 02:00+00',
                                                           '{"keep_alive": "1 hour"}')),
          0::bigint, 'a fixed hour also avoids the cold starts (the call before since counts) ...');
SELECT is((SELECT round(warm_idle_instance_hours::numeric, 9) FROM scaler.backtest_summary('timer', '2026-01-05 00:00+00', '2026-01-05 02:00+00',
                                                                        '{"keep_alive": "1 hour"}')),
          round(118.6 / 60, 9), '... by keeping the instance warm all the time (steps 2..120, busy 0.4)');

-- ---------------------------------------------------------------- tiny steps
-- The warm-up is a day of steps, or the last million of them: a day of
-- 1-microsecond steps (86 billion) used to fail allocating (XX000), and a
-- window of 87 microseconds to allocate a gigabyte, for a replay of 10 steps.
SELECT is((SELECT steps FROM scaler.backtest_summary('ka', '2026-01-05 00:40+00',
                                                      '2026-01-05 00:40+00'::timestamptz + interval '10 microseconds',
                                                      '{"stable_window": "1 microsecond", "keep_alive": "auto"}')),
          10::bigint, 'a replay of 1-microsecond steps warms up over its last million steps');
-- the request at 00:25:30 is in the 1,000 s of 1-millisecond steps before
-- 00:40 but not in those before 00:45; 100-millisecond steps see the whole day
SELECT is((SELECT string_agg(DISTINCT capacity || ':' || reason, ',')
             FROM scaler.backtest('ka', '2026-01-05 00:40+00', '2026-01-05 00:40+00'::timestamptz + interval '10 milliseconds',
                                  '{"stable_window": "1 millisecond", "keep_alive": "1 hour"}')),
          '1:keep_alive', 'a request within the last million steps before since keeps the instance');
SELECT is((SELECT string_agg(DISTINCT capacity || ':' || reason, ',')
             FROM scaler.backtest('ka', '2026-01-05 00:45+00', '2026-01-05 00:45+00'::timestamptz + interval '10 milliseconds',
                                  '{"stable_window": "1 millisecond", "keep_alive": "1 hour"}'))
          || ' / ' ||
          (SELECT string_agg(DISTINCT capacity || ':' || reason, ',')
             FROM scaler.backtest('ka', '2026-01-05 00:45+00', '2026-01-05 00:45:01+00',
                                  '{"stable_window": "100 milliseconds", "keep_alive": "1 hour"}')),
          '0:no_traffic / 1:keep_alive', 'one before them is not seen by 1-millisecond steps, but is in the day of 100-millisecond ones');

SELECT * FROM finish();
ROLLBACK;
