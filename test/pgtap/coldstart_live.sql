-- Live evaluation keeps alive and pre-warms as the replay does: the same
-- keep-alive code (src/keepalive.c) fed tick by tick through
-- scaler._evaluate_at() decides what scaler.backtest() replays, for a fixed
-- keep_alive and for 'auto' (which learns the idle times as it goes, and
-- keeps them in scaler.policy_state); decisions carry the reasons
-- keep_alive and prewarm.  Also at the worker's tick of 5 seconds, which
-- overlaps the windows; for a fixed keep-alive that starts without a last
-- request; across a clock set back; and at the end of the timestamp range.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS scaler;
SET search_path = scaler, public;
SET client_min_messages = warning;
SELECT plan(20);

CREATE TABLE public.csl_log (LIKE scaler.request_log INCLUDING ALL);
CREATE TEMP TABLE t0 AS SELECT date_trunc('minute', now()) - interval '6 hours' AS t0;
-- a timer every 15 minutes, and an irregular function (gaps of 1 to 24 minutes)
INSERT INTO public.csl_log (ts, function_name, duration_ms, status)
SELECT t0 + (m * 15 + 10) * interval '1 minute' + interval '20 seconds', 'timer', 300, 200
  FROM t0, generate_series(0, 19) m;
INSERT INTO public.csl_log (ts, function_name, duration_ms, status)
SELECT t0 + m * interval '1 minute' + interval '40 seconds', 'odd', 800, 200
  FROM t0, generate_series(0, 299) m
 WHERE (m * 7) % 24 < 3 OR m % 23 = 0;

SELECT scaler.create_policy('csl_fixed', 1, function_name => 'odd', source => 'public.csl_log',
                            scale_in_stabilization => '0', keep_alive => '10 minutes');
SELECT scaler.create_policy('csl_auto', 1, function_name => 'timer', source => 'public.csl_log',
                            scale_in_stabilization => '0', keep_alive => 'auto');
SELECT scaler.create_policy('csl_odd', 1, function_name => 'odd', source => 'public.csl_log',
                            scale_in_stabilization => '0', keep_alive => 'auto');
-- the timer again, evaluated every 5 seconds as the worker does (its
-- windows overlap twelvefold)
SELECT scaler.create_policy('csl_tick5', 1, function_name => 'timer', source => 'public.csl_log',
                            scale_in_stabilization => '0', keep_alive => 'auto');

CREATE TEMP TABLE live (policy text, at timestamptz, capacity int);
DO $$
DECLARE
    t0 timestamptz := (SELECT t0.t0 FROM t0);
    at timestamptz;
BEGIN
    FOR k IN 1..300 LOOP
        at := t0 + k * interval '1 minute';
        PERFORM scaler._evaluate_at(p, at) FROM unnest(ARRAY['csl_fixed', 'csl_auto', 'csl_odd']) p;
        INSERT INTO live SELECT s.policy, at, s.capacity
          FROM scaler.policy_state s WHERE s.policy IN ('csl_fixed', 'csl_auto', 'csl_odd');
    END LOOP;
END
$$;

DO $$
DECLARE
    t0 timestamptz := (SELECT t0.t0 FROM t0);
BEGIN
    FOR k IN 1..3600 LOOP
        PERFORM scaler._evaluate_at('csl_tick5', t0 + k * interval '5 seconds');
    END LOOP;
END
$$;

CREATE TEMP TABLE replay AS
SELECT p AS policy, b.*
  FROM t0, unnest(ARRAY['csl_fixed', 'csl_auto', 'csl_odd']) p,
       scaler.backtest(p, t0, t0 + interval '300 minutes') b;

SELECT is((SELECT count(*)::int FROM live l JOIN replay r USING (policy, at)
            WHERE l.capacity = r.capacity AND l.policy = pol), 300,
          format('policy %s: live evaluation runs the capacity the replay runs, at every tick', pol))
  FROM unnest(ARRAY['csl_fixed', 'csl_auto', 'csl_odd']) pol;

SELECT is((SELECT string_agg(format('%s %s->%s %s', decided_at, from_capacity, to_capacity, reason), '; ' ORDER BY id)
             FROM scaler.decision WHERE policy = pol),
          (SELECT string_agg(format('%s %s->%s %s', at, from_capacity, capacity, reason), '; ' ORDER BY at)
             FROM replay WHERE policy = pol AND capacity <> from_capacity),
          format('policy %s: the same decisions, with the same reasons', pol))
  FROM unnest(ARRAY['csl_fixed', 'csl_auto']) pol;

SELECT is((SELECT string_agg(DISTINCT reason, ',' ORDER BY reason) FROM scaler.decision
            WHERE policy = 'csl_auto' AND reason IN ('prewarm', 'keep_alive')),
          'prewarm', 'live evaluation pre-warms the timer once it has learned its idle times');
SELECT is((SELECT count(*)::int FROM replay WHERE policy = 'csl_auto' AND at > (SELECT t0 + interval '200 minutes' FROM t0)
              AND cold_starts > 0), 0,
          'after the learning, no call of the timer starts cold');
SELECT is((SELECT row(array_length(idle_histogram, 1), idle_histogram[14 + 1], last_active_at)::text
             FROM scaler.policy_state WHERE policy = 'csl_auto'),
          (SELECT row(241, 19, t0 + interval '296 minutes')::text FROM t0),
          'the state keeps 240 bins and the count beyond: 19 idle times of 14 minutes, and the last step with a call');
SELECT scaler.set_capacity('csl_auto', 0);
SELECT scaler._evaluate_at('csl_auto', (SELECT t0 + interval '301 minutes' FROM t0));
SELECT is((SELECT idle_histogram[15] FROM scaler.policy_state WHERE policy = 'csl_auto'), 19,
          'a tick without a call adds no idle time');

-- A policy set to watch another function forgets when the old one last had
-- requests: 'odd' had one two minutes before, 'nobody' never had, and the
-- 10-minute keep-alive used to hold an instance for it.
SELECT scaler.set_capacity('csl_fixed', 0);
SELECT scaler.alter_policy('csl_fixed', function_name => 'nobody');
SELECT is((SELECT last_active_at FROM scaler.policy_state WHERE policy = 'csl_fixed'), NULL,
          'a policy that watches another function forgets the last request of the old one');
SELECT scaler._evaluate_at('csl_fixed', (SELECT t0 + interval '302 minutes' FROM t0));
SELECT is((SELECT capacity FROM scaler.policy_state WHERE policy = 'csl_fixed'),
          (SELECT b.capacity FROM t0, scaler.backtest('csl_fixed', t0 + interval '301 minutes', t0 + interval '302 minutes') b),
          'and keeps no instance warm for the new one, as the replay does not');
-- 12-13: evaluated every 5 seconds, a window that overlaps the last step
-- recorded is no step of its own: the timer's idle times are learned as at
-- one tick a minute (they were 11 made-up zeros per call and the real one a
-- bin short, so the timer was never pre-warmed and never released)
SELECT is((SELECT idle_histogram FROM scaler.policy_state WHERE policy = 'csl_tick5'),
          (SELECT idle_histogram FROM scaler.policy_state WHERE policy = 'csl_auto'),
          'ticks every 5 seconds learn the idle times ticks every minute learn');
SELECT is((SELECT string_agg(format('%s %s', reason, n), ', ' ORDER BY reason)
             FROM (SELECT reason, count(*) n FROM scaler.decision WHERE policy = 'csl_tick5' GROUP BY reason) d),
          (SELECT string_agg(format('%s %s', reason, n), ', ' ORDER BY reason)
             FROM (SELECT reason, count(*) n FROM scaler.decision WHERE policy = 'csl_auto'
                      AND decided_at <= (SELECT t0 + interval '300 minutes' FROM t0) GROUP BY reason) d),
          'and pre-warm and release the timer as often');

-- 14: a fixed keep-alive's first evaluation takes the last request from the
-- log, as the replay does ('odd' was called at 299:40)
SELECT scaler.create_policy('csl_new', 1, function_name => 'odd', source => 'public.csl_log',
                            scale_in_stabilization => '0', keep_alive => '10 minutes');
SELECT scaler.set_capacity('csl_new', 1);
SELECT scaler._evaluate_at('csl_new', (SELECT t0 + interval '302 minutes' FROM t0));
SELECT is((SELECT format('%s %s', s.capacity, s.last_active_at - t0) FROM scaler.policy_state s, t0
            WHERE s.policy = 'csl_new'),
          (SELECT format('%s %s', b.capacity, interval '300 minutes') FROM t0,
                  scaler.backtest('csl_new', t0 + interval '301 minutes', t0 + interval '302 minutes') b),
          'a new fixed keep-alive keeps the instance for a request made before it, as the replay does');

-- 15: one that had none learns it afresh too: nobody kept the time then
SELECT scaler.create_policy('csl_none', 1, function_name => 'odd', source => 'public.csl_log',
                            scale_in_stabilization => '0', keep_alive => 'none');
SELECT scaler._evaluate_at('csl_none', (SELECT t0 + interval '120 minutes' FROM t0));
UPDATE scaler.policy_state SET last_active_at = (SELECT t0 FROM t0) WHERE policy = 'csl_none';
SELECT scaler.alter_policy('csl_none', keep_alive => '10 minutes');
SELECT is((SELECT last_active_at FROM scaler.policy_state WHERE policy = 'csl_none'), NULL,
          'a policy that had no keep-alive forgets a last request nobody kept up to date');

-- 16: a clock set back leaves no last step with requests ahead of it: the
-- one at T + 2 hours is forgotten, and the call at T - 10 s keeps the
-- instance 5 minutes later, as the replay does
INSERT INTO public.csl_log (ts, function_name, duration_ms, status)
SELECT t0 + interval '420 minutes' - interval '10 seconds', 'clk', 100, 200 FROM t0 UNION ALL
SELECT t0 + interval '300 minutes' - interval '10 seconds', 'clk', 100, 200 FROM t0;
SELECT scaler.create_policy('csl_clock', 1, function_name => 'clk', source => 'public.csl_log',
                            scale_in_stabilization => '0', keep_alive => '30 minutes');
SET LOCAL client_min_messages = error;
SELECT scaler._evaluate_at('csl_clock', (SELECT t0 + interval '420 minutes' FROM t0));
SELECT scaler._evaluate_at('csl_clock', (SELECT t0 + interval '300 minutes' FROM t0));
SELECT scaler._evaluate_at('csl_clock', (SELECT t0 + interval '305 minutes' FROM t0));
SET LOCAL client_min_messages = warning;
SELECT is((SELECT format('%s %s', s.capacity, s.last_active_at - t0) FROM scaler.policy_state s, t0
            WHERE s.policy = 'csl_clock'),
          (SELECT format('%s %s', b.capacity, interval '300 minutes') FROM t0,
                  scaler.backtest('csl_clock', t0 + interval '304 minutes', t0 + interval '305 minutes') b),
          'a clock set back: the keep-alive counts from the last request before it');

-- 17: learning probes one function's steps with requests one index probe
-- each; over all functions it reads the rows: the two learn the same
CREATE INDEX ON public.csl_log (function_name, ts);
CREATE VIEW public.csl_timer_only AS SELECT * FROM public.csl_log WHERE function_name = 'timer';
SELECT scaler.create_policy('csl_probe', 1, function_name => 'timer', source => 'public.csl_log',
                            keep_alive => 'auto');
SELECT scaler.create_policy('csl_scan', 1, source => 'public.csl_timer_only', keep_alive => 'auto');
SELECT scaler._evaluate_at(p, (SELECT t0 + interval '1 day 6 hours' FROM t0))
  FROM unnest(ARRAY['csl_probe', 'csl_scan']) p;
SELECT is((SELECT idle_histogram FROM scaler.policy_state WHERE policy = 'csl_probe'),
          (SELECT idle_histogram FROM scaler.policy_state WHERE policy = 'csl_scan'),
          'learning by index probes learns what one pass over the rows learns');

-- 18: a replay at the end of the timestamp range still warms up (the
-- warm-up's bound overflowed past the year 287,000)
INSERT INTO public.csl_log (ts, function_name, duration_ms, status)
VALUES ('290000-01-01 00:00+00'::timestamptz - interval '5 minutes', 'far', 1, 200);
SELECT scaler.create_policy('csl_far', 1, function_name => 'far', source => 'public.csl_log',
                            scale_in_stabilization => '0', keep_alive => '30 minutes');
SELECT is((SELECT format('%s %s', capacity, reason)
             FROM scaler.backtest('csl_far', '290000-01-01 00:00+00', '290000-01-01 00:01+00')),
          '1 keep_alive', 'a replay in the year 290,000 keeps the instance for a call 5 minutes before');

-- 19-20: a tick a little early (pg_cron's, or the worker's drifting ones)
-- overlaps the last step and counts no step, but the keep-alive still counts
-- from the request it saw: calls at T + 30 s and T + 100 s, ticks at T + 60 s,
-- T + 119.98 s and T + 180 s, and a 90-second keep-alive holds the instance
INSERT INTO public.csl_log (ts, function_name, duration_ms, status)
SELECT t0 + interval '600 minutes' + s * interval '1 second', 'jit', 100, 200
  FROM t0, unnest(ARRAY[30, 100]) s;
SELECT scaler.create_policy('csl_jitter', 1, function_name => 'jit', source => 'public.csl_log',
                            scale_in_stabilization => '0', keep_alive => '90 seconds');
SELECT scaler._evaluate_at('csl_jitter', t0 + interval '600 minutes' + s * interval '1 second')
  FROM t0, unnest(ARRAY[60, 119.98, 180]) s;
SELECT is((SELECT format('%s %s', s.capacity, s.last_active_at - t0) FROM scaler.policy_state s, t0
            WHERE s.policy = 'csl_jitter'),
          (SELECT format('1 %s', interval '600 minutes 119.98 seconds')),
          'a tick a little early: the keep-alive counts from the latest window with the request');
SELECT is((SELECT last_step_at - t0 FROM scaler.policy_state, t0 WHERE policy = 'csl_jitter'),
          interval '601 minutes', 'while the steps stay a stable_window apart');

SELECT * FROM finish();
ROLLBACK;
