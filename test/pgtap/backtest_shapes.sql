-- scaler.backtest() on traffic of known shapes (flat, step, daily wave,
-- short spike): capacities, reasons and events worked out by hand from the
-- rules; overrides; floors; the summary; bad input.
--
-- Rows are placed in the middle of their minute (or hour), so each step's
-- window holds exactly one minute's (hour's) rows and the panic tail (the
-- last tenth of the window) holds none, unless a test puts rows there.
-- N rows lasting a whole window each make a concurrency of exactly N.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS scaler;
SET search_path = scaler, public;
SET client_min_messages = warning;
SET TimeZone = 'UTC';
SELECT plan(45);

CREATE TABLE public.bt_log (LIKE scaler.request_log INCLUDING ALL);

-- n requests of window length each, mid-minute, in minutes [m0, m1] (from t0)
CREATE FUNCTION pg_temp.minutes(fn text, m0 int, m1 int, n int,
                                t0 timestamptz DEFAULT '2026-01-05 00:00+00')
RETURNS void LANGUAGE sql AS $$
    INSERT INTO public.bt_log (ts, function_name, duration_ms, status)
    SELECT t0 + m * interval '1 minute' + interval '30 seconds', fn, 60000, 200
      FROM generate_series(m0, m1) m, generate_series(1, n)
$$;
-- the capacities of a backtest, as 'capacity:reason' per step, comma separated
CREATE FUNCTION pg_temp.caps(p text, minutes int, overrides jsonb DEFAULT '{}')
RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(capacity || ':' || reason, ',' ORDER BY at)
      FROM scaler.backtest(p, '2026-01-05 00:00+00',
                           '2026-01-05 00:00+00'::timestamptz + minutes * interval '1 minute',
                           overrides)
$$;
-- repeat 'c:r' n times
CREATE FUNCTION pg_temp.rep(c int, r text, n int) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(c || ':' || r, ',') FROM generate_series(1, n)
$$;

-- ---------------------------------------------------------------- flat
-- concurrency 3 for 30 minutes at target 1: 0 -> 3 at the first step, then hold
SELECT scaler.create_policy('flat', 1, function_name => 'flat', source => 'public.bt_log');
SELECT pg_temp.minutes('flat', 0, 29, 3);
SELECT is(pg_temp.caps('flat', 30), pg_temp.rep(3, 'target', 30), 'flat: 3 instances from the first step on');
SELECT is((SELECT row(at, value, demand, from_capacity, capacity, reason, shortfall)::text
             FROM scaler.backtest('flat', '2026-01-05 00:00+00', '2026-01-05 00:30+00') ORDER BY at LIMIT 1),
          row('2026-01-05 00:01+00'::timestamptz, 3::float8, 3, 0, 3, 'target', 3)::text,
          'flat: the first step reads (since, since + window], needs 3, had 0: shortfall 3');
SELECT is((SELECT row(steps, scale_out_events, scale_in_events, instance_hours, minutes_under_capacity, worst_shortfall, mean_utilisation, peak_capacity)::text FROM scaler.backtest_summary('flat', '2026-01-05 00:00+00', '2026-01-05 00:30+00') s),
          row(30::bigint, 1::bigint, 0::bigint, 1.45::float8, 1::float8, 3, 1::float8, 3)::text,
          'flat summary: 30 steps, 1 scale-out, 29 min x 3 = 1.45 instance-hours, 1 minute under, utilisation 1');
SELECT is((SELECT count(*)::int FROM scaler.backtest('flat', '2026-01-05 00:00+00', '2026-01-05 00:30:59+00')), 30,
          'only whole steps: a partial last window is not replayed');

-- a floor of 5 over [00:03, 00:06) holds steps 3..5, then back to 3
INSERT INTO scaler.capacity_floor (policy, starts, ends, min_capacity, origin)
VALUES ('flat', '2026-01-05 00:03+00', '2026-01-05 00:06+00', 5, 'manual');
SELECT is(pg_temp.caps('flat', 8), '3:target,3:target,5:floor,5:floor,5:floor,3:target,3:target,3:target',
          'floors apply at the steps where they are active (starts <= at < ends)');
INSERT INTO scaler.capacity_floor (policy, starts, ends, min_capacity, origin)
VALUES ('flat', '2026-01-05 00:01+00', 'infinity', 500, 'manual');
SELECT is(pg_temp.caps('flat', 2), '100:max_capacity,100:max_capacity',
          'a floor above max_capacity is cut to max_capacity; infinite floors work');
DELETE FROM scaler.capacity_floor WHERE policy = 'flat';
-- at the end of the timestamp range a step's end plus a window is past int64
INSERT INTO scaler.capacity_floor (policy, starts, ends, min_capacity, origin)
VALUES ('flat', '294276-01-01+00', 'infinity', 5, 'manual');
SELECT is((SELECT string_agg(capacity || ':' || reason, ',' ORDER BY at)
             FROM scaler.backtest('flat', '294276-11-01+00', '294276-12-31+00', '{"stable_window": "20 days"}')),
          '5:floor,5:floor,5:floor',
          'a floor holds the steps at the end of the timestamp range, with a window longer than what is left of it');
DELETE FROM scaler.capacity_floor WHERE policy = 'flat';

-- ---------------------------------------------------------------- step
-- concurrency 2 (minutes 0-9), 6 (10-29), 2 (30-44), nothing (45-49)
SELECT scaler.create_policy('step', 1, function_name => 'step', source => 'public.bt_log');
SELECT pg_temp.minutes('step', 0, 9, 2);
SELECT pg_temp.minutes('step', 10, 29, 6);
SELECT pg_temp.minutes('step', 30, 44, 2);
-- scale-in waits until the 6s are older than scale_in_stabilization (5 min):
-- the last 6 was desired at step 30, so 6 holds through step 34 and 2 runs
-- from step 35; traffic stops after step 45, 2 holds until step 50.
SELECT is(pg_temp.caps('step', 50),
          pg_temp.rep(2, 'target', 10) || ',' || pg_temp.rep(6, 'target', 20) || ',' ||
          pg_temp.rep(6, 'stabilization', 4) || ',' || pg_temp.rep(2, 'target', 11) || ',' ||
          pg_temp.rep(2, 'stabilization', 4) || ',0:no_traffic',
          'step: up at once, down only after the stabilization window, to zero when traffic stops');
SELECT is((SELECT row(steps, scale_out_events, scale_in_events, worst_shortfall, peak_capacity)::text
             FROM scaler.backtest_summary('step', '2026-01-05 00:00+00', '2026-01-05 00:50+00')),
          row(50, 2, 2, 4, 6)::text, 'step summary: 2 scale-outs, 2 scale-ins, worst shortfall 6 - 2 = 4');
SELECT is(pg_temp.caps('step', 50, '{"scale_in_stabilization": "0"}'),
          pg_temp.rep(2, 'target', 10) || ',' || pg_temp.rep(6, 'target', 20) || ',' ||
          pg_temp.rep(2, 'target', 15) || ',' || pg_temp.rep(0, 'no_traffic', 5),
          'override scale_in_stabilization 0: down at the first quiet step');
SELECT is(pg_temp.caps('step', 12, '{"target": 3}'),
          pg_temp.rep(1, 'target', 10) || ',2:target,2:target',
          'override target 3: ceil(2/3) = 1, ceil(6/3) = 2');
-- target 5: 2 -> ceil(0.4) = 1; then 6 asks 1.2 instances, 20% over 1
SELECT is(pg_temp.caps('step', 12, '{"target": 5}'),
          pg_temp.rep(1, 'target', 10) || ',2:target,2:target',
          'override target 5: demand 1.2 is beyond the 10% tolerance of 1 -> 2');
SELECT is(pg_temp.caps('step', 12, '{"target": 5, "tolerance": 0.5}'),
          pg_temp.rep(1, 'target', 10) || ',1:tolerance,1:tolerance',
          'override tolerance 0.5 as well: 1.2 is within 50% of 1 -> hold');
SELECT is((SELECT count(*)::int FROM scaler.policies WHERE name = 'step' AND target = 1 AND tolerance = 0.1), 1,
          'overrides change nothing stored');

-- ------------------------------------------------------------ daily wave
-- stable_window 1 hour: concurrency by hour of day, two days
CREATE TEMP TABLE wave (h int PRIMARY KEY, n int);
INSERT INTO wave VALUES (0,2),(1,2),(2,2),(3,2),(4,2),(5,2),(6,4),(7,6),(8,8),(9,8),(10,8),(11,8),
    (12,8),(13,8),(14,8),(15,8),(16,6),(17,4),(18,2),(19,2),(20,2),(21,2),(22,2),(23,2);
SELECT scaler.create_policy('wave', 1, function_name => 'wave', source => 'public.bt_log',
                            stable_window => '1 hour');
INSERT INTO public.bt_log (ts, function_name, duration_ms, status)
SELECT '2026-01-05 00:00+00'::timestamptz + (d * 24 + w.h) * interval '1 hour' + interval '30 minutes',
       'wave', 3600000, 200
  FROM generate_series(0, 1) d, wave w, generate_series(1, w.n);
SELECT is((SELECT string_agg(capacity::text, ',' ORDER BY at)
             FROM scaler.backtest('wave', '2026-01-05 00:00+00', '2026-01-07 00:00+00')),
          (SELECT string_agg(n::text, ',' ORDER BY d, h) FROM wave, generate_series(0, 1) d),
          'daily wave: capacity follows the hourly load, step = stable_window = 1 hour');
-- outs: 0->2 once, 2->4->6->8 daily; ins: 8->6->4->2 daily; instance-hours:
-- the load of the first 47 hours (216 - 2); under capacity: the first step
-- and the three rising hours a day, 60 minutes each
SELECT is((SELECT row(steps, scale_out_events, scale_in_events, instance_hours, minutes_under_capacity, worst_shortfall, mean_utilisation, peak_capacity)::text FROM scaler.backtest_summary('wave', '2026-01-05 00:00+00', '2026-01-07 00:00+00') s),
          row(48::bigint, 7::bigint, 6::bigint, 214::float8, 420::float8, 2, 1::float8, 8)::text,
          'daily wave summary');
SELECT is((SELECT string_agg(capacity::text, ',' ORDER BY at)
             FROM scaler.backtest('wave', '2026-01-05 00:00+00', '2026-01-05 12:00+00', '{"max_capacity": 5}')),
          '2,2,2,2,2,2,4,5,5,5,5,5', 'override max_capacity 5 caps the wave');

-- ----------------------------------------------------------------- spike
-- concurrency 2 for 20 minutes; in minute 10, 10 more requests in its last
-- 6 seconds (the panic tail): the window reads 12, the tail 10 x 60 s / 6 s
-- = 100 >= 2 x current -> panic; 100 is cut to max_capacity 20.  Panic
-- desired 100 stays in the stabilization history 5 minutes.
SELECT scaler.create_policy('spike', 1, function_name => 'spike', source => 'public.bt_log',
                            max_capacity => 20);
SELECT pg_temp.minutes('spike', 0, 19, 2);
INSERT INTO public.bt_log (ts, function_name, duration_ms, status)
SELECT '2026-01-05 00:10:57+00', 'spike', 60000, 200 FROM generate_series(1, 10);
SELECT is(pg_temp.caps('spike', 20),
          pg_temp.rep(2, 'target', 10) || ',20:max_capacity,' || pg_temp.rep(20, 'stabilization', 4) || ',' ||
          pg_temp.rep(2, 'target', 5),
          'spike: panic scales out at once (to max_capacity), stabilization holds 5 minutes');
SELECT is((SELECT row(value, demand, from_capacity, capacity, shortfall)::text
             FROM scaler.backtest('spike', '2026-01-05 00:00+00', '2026-01-05 00:20+00')
            WHERE at = '2026-01-05 00:11+00'),
          row(12::float8, 12, 2, 20, 10)::text, 'spike step: value 12, demand 12, shortfall 10');
SELECT is(pg_temp.caps('spike', 20, '{"panic_threshold": 100}'),
          pg_temp.rep(2, 'target', 10) || ',12:target,' || pg_temp.rep(12, 'stabilization', 4) || ',' ||
          pg_temp.rep(2, 'target', 5),
          'override panic_threshold 100: no panic, target tracking to 12');
-- comparing overrides is one query
SELECT is((SELECT string_agg(o.label || '=' || s.peak_capacity || '/' || round(s.instance_hours::numeric, 4), ' ' ORDER BY o.label)
             FROM (VALUES ('a', '{}'::jsonb), ('b', '{"panic_threshold": 100}')) o(label, overrides),
                  scaler.backtest_summary('spike', '2026-01-05 00:00+00', '2026-01-05 00:20+00', o.overrides) s),
          'a=20/2.1333 b=12/1.4667',
          'two overrides compared in one query: (10 x 2 + 5 x 20 + 4 x 2) / 60 vs (10 x 2 + 5 x 12 + 4 x 2) / 60 instance-hours');

-- ------------------------------------------------------- other metrics
SELECT scaler.create_policy('rate', 1, metric => 'rps', function_name => 'step', source => 'public.bt_log');
SELECT is(pg_temp.caps('rate', 11), pg_temp.rep(1, 'target', 10) || ',1:target',
          'rps: 2 or 6 requests a minute are 0.03 and 0.1 rps: 1 instance at target 1');
SELECT is(pg_temp.caps('rate', 2, '{"target": 0.02, "function_name": "flat"}'), '3:target,3:target',
          'override function_name: 3 requests a minute = 0.05 rps / 0.02 -> 3');
SELECT is(pg_temp.caps('rate', 2, '{"function_name": null, "target": 0.1}'), '2:target,2:target',
          'override function_name null replays every function: flat 3 + step 2 + spike 2 = 7 a minute, 0.117 rps / 0.1 -> 2');

-- sources with other column types (a view can rename and retype columns)
CREATE TABLE public.bt_typed (ts timestamptz, function_name varchar, duration_ms numeric, status smallint);
INSERT INTO public.bt_typed
SELECT '2026-01-05 00:00:30+00'::timestamptz + m * interval '1 minute', 'typed', 60000,
       CASE WHEN i = 1 THEN 503 ELSE 200 END
  FROM generate_series(0, 1) m, generate_series(1, 4) i;
SELECT scaler.create_policy('typed', 1, function_name => 'typed', source => 'public.bt_typed');
SELECT is(pg_temp.caps('typed', 2), '4:target,4:target', 'numeric durations: 4 requests of 60 s = concurrency 4');
SELECT is(pg_temp.caps('typed', 2, '{"metric": "error_rate", "target": 0.1, "min_capacity": 1}'),
          '3:target,8:target',
          'smallint status: error rate 1/4 at target 0.1 scales the capacity by 2.5: 1 -> 3, then 3 -> ceil(7.5) = 8');
-- every other type a duration and a status may have: 4 requests of 30 s a
-- minute are a concurrency of 2 in each
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['real', 'smallint', 'integer', 'bigint'] LOOP
        EXECUTE format('CREATE VIEW public.%I AS SELECT ts, function_name, (duration_ms / 2)::%s AS duration_ms,
                               status::bigint AS status FROM public.bt_typed', 'bt_' || t, t);
        PERFORM scaler.create_policy('typed_' || t, 1, function_name => 'typed', source => 'public.bt_' || t);
    END LOOP;
END
$$;
SELECT is((SELECT string_agg(t || ' ' || pg_temp.caps('typed_' || t, 2), '; ' ORDER BY t)
             FROM unnest(ARRAY['real', 'smallint', 'integer', 'bigint']) t),
          'bigint 2:target,2:target; integer 2:target,2:target; real 2:target,2:target; smallint 2:target,2:target',
          'real, smallint, integer and bigint durations: 4 requests of 30 s = concurrency 2');
SELECT is(pg_temp.caps('typed_bigint', 2, '{"metric": "error_rate", "target": 0.1, "min_capacity": 1}'),
          '3:target,8:target', 'bigint status: the same error rates as smallint');

-- ------------------------------------------------------------ bad input
SELECT throws_ok($$SELECT * FROM scaler.backtest('flat', '2026-01-05 01:00+00', '2026-01-05 00:00+00')$$,
                 '22023', 'since must be earlier than until', 'since after until');
SELECT throws_ok($$SELECT * FROM scaler.backtest('flat', '2026-01-05 00:00+00', '2026-01-05 00:00+00')$$,
                 '22023', 'since must be earlier than until', 'since = until');
SELECT throws_ok($$SELECT * FROM scaler.backtest_summary('flat', '2026-01-05 01:00+00', '2026-01-05 00:00+00')$$,
                 '22023', 'since must be earlier than until', 'the summary checks the same');
SELECT throws_ok($$SELECT * FROM scaler.backtest('flat', '4713-01-01 BC', '294000-01-01')$$,
                 '22008', 'the range from since to until is too long', 'a range beyond int64 microseconds');
SELECT throws_ok($$SELECT * FROM scaler.backtest('flat', '2026-01-01', '2028-01-01')$$,
                 '22023', NULL, 'over a million steps: an error with a hint, not an allocation failure');
SELECT throws_ok($$SELECT * FROM scaler.backtest('nope', '2026-01-05 00:00+00', '2026-01-05 01:00+00')$$,
                 '42704', 'policy "nope" does not exist', 'unknown policy');
SELECT throws_ok($$SELECT * FROM scaler.backtest('flat', '2026-01-05 00:00+00', '2026-01-05 01:00+00', '[1]')$$,
                 '22023', 'overrides must be a JSON object', 'overrides not an object (array)');
SELECT throws_ok($$SELECT * FROM scaler.backtest('flat', '2026-01-05 00:00+00', '2026-01-05 01:00+00', '8')$$,
                 '22023', 'overrides must be a JSON object', 'overrides not an object (number)');
SELECT throws_ok($$SELECT * FROM scaler.backtest('flat', '2026-01-05 00:00+00', '2026-01-05 01:00+00', '{"targit": 8}')$$,
                 '22023', 'unknown override "targit"', 'unknown key, named');
SELECT throws_ok($$SELECT * FROM scaler.backtest('flat', '2026-01-05 00:00+00', '2026-01-05 01:00+00', '{"target": "lots"}')$$,
                 '22023', 'invalid value for override "target": invalid input syntax for type double precision: "lots"',
                 'bad value, named');
SELECT throws_ok($$SELECT * FROM scaler.backtest('flat', '2026-01-05 00:00+00', '2026-01-05 01:00+00', '{"target": -1}')$$,
                 '22023', 'target must be a finite number greater than zero', 'out-of-range value, named');
SELECT throws_ok($$SELECT * FROM scaler.backtest('flat', '2026-01-05 00:00+00', '2026-01-05 01:00+00', '{"min_capacity": 2.5}')$$,
                 '22023', 'invalid value for override "min_capacity": invalid input syntax for type integer: "2.5"',
                 'a fraction for an integer setting');
SELECT throws_ok($$SELECT * FROM scaler.backtest('flat', '2026-01-05 00:00+00', '2026-01-05 01:00+00', '{"stable_window": "0"}')$$,
                 '22023', 'stable_window must be greater than zero', 'zero stable_window');
SELECT throws_ok($$SELECT * FROM scaler.backtest('flat', '2026-01-05 00:00+00', '2026-01-05 01:00+00', '{"max_capacity": null}')$$,
                 '22023', 'invalid value for override "max_capacity": null', 'null for a required setting');

-- privileges: replaying needs the right to manage the policy
CREATE ROLE scaler_bt_mallory;
SET ROLE scaler_bt_mallory;
SELECT throws_ok($$SELECT * FROM scaler.backtest('flat', '2026-01-05 00:00+00', '2026-01-05 01:00+00')$$,
                 '42704', 'policy "flat" does not exist', 'a role that may not manage the policy cannot replay it (nor learn that it exists)');
RESET ROLE;

-- A view whose ts is not what its WHERE saw: an "immutable" function that
-- gives the real ts to the two conditions on ts and the year 294276 to the
-- row returned.  Placing that row used to overflow (since is before 2000,
-- negative) and write before the steps: a segfault.  It is outside the
-- steps, and ignored.
CREATE TABLE public.bt_raw (ts timestamptz, function_name text, duration_ms float8, status int);
INSERT INTO public.bt_raw VALUES ('1990-01-01 00:00:30+00', 'f', 10, 200);
CREATE SEQUENCE public.bt_calls;
CREATE FUNCTION public.bt_liar(t timestamptz) RETURNS timestamptz LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF nextval('public.bt_calls') % 3 = 0 THEN
        RETURN '294276-12-31 00:00:00+00';
    END IF;
    RETURN t;
END $$;
CREATE VIEW public.bt_lying AS
    SELECT public.bt_liar(ts) AS ts, function_name, duration_ms, status FROM public.bt_raw;
SELECT scaler.create_policy('liar', 1, source => 'public.bt_lying');
SELECT setval('public.bt_calls', 1, false);
SELECT is((SELECT row(count(*), sum(requests))::text
             FROM scaler.backtest('liar', '1989-12-31 23:59:00+00', '1990-01-01 00:01:00+00')),
          row(2::bigint, 0::numeric)::text,
          'a row a view places centuries after until is left out of the steps');
SELECT setval('public.bt_calls', 1, false);
SELECT is((SELECT requests FROM scaler.backtest_summary('liar', '1989-12-31 23:59:00+00', '1990-01-01 00:01:00+00',
                                                         '{"stable_window": "100 years"}')),
          0::bigint, 'and so it is with steps of a hundred years');

SELECT * FROM finish();
ROLLBACK;
