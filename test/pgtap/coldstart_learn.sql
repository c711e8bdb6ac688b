-- keep_alive => 'auto' learns from the log on first use: live evaluation of
-- a policy with no stored histogram reads the source's last day (the warm-up
-- a replay uses before since), as the policy owner, learns the idle times
-- through the replay's own code and stores them; from then on only live
-- evaluation updates them.
--
-- The timer 'tick' is called every 30 minutes (at 20 s into a minute, so its
-- one-minute steps with a call are 30 minutes apart: idle times of 29
-- minutes, bin 29, which is idle_histogram[30]).  Its last call before t0
-- ends the step at t0 - 27 minutes, so at the first evaluation (t0 + 1
-- minute) the next call is 2 minutes away: the learned rule pre-warms (the
-- warm window is about 27.5 to 33 minutes), the 10-minute fallback would not.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS scaler;
SET search_path = scaler, public;
SET client_min_messages = warning;
SET TimeZone = 'UTC';
SELECT plan(26);

CREATE TABLE public.cl_log (LIKE scaler.request_log INCLUDING ALL);
CREATE TEMP TABLE t0 AS SELECT date_trunc('minute', now()) - interval '4 hours' AS t0;
-- 48 calls in the day before t0 (the first at t0 - 1437 min 40 s), 6 after
INSERT INTO public.cl_log (ts, function_name, duration_ms, status)
SELECT t0 - interval '27 minutes 40 seconds' + j * interval '30 minutes', 'tick', 3000, 200
  FROM t0, generate_series(-47, 6) j;
-- 'quiet' has no history: its first call is in the first evaluated window
INSERT INTO public.cl_log (ts, function_name, duration_ms, status)
SELECT t0 + interval '30 seconds', 'quiet', 3000, 200 FROM t0;

CREATE FUNCTION pg_temp.hist(p text) RETURNS integer[] LANGUAGE sql AS $$
    SELECT idle_histogram FROM scaler.policy_state WHERE policy = p
$$;
CREATE FUNCTION pg_temp.at(minutes int) RETURNS timestamptz LANGUAGE sql AS $$
    SELECT t0 + minutes * interval '1 minute' FROM t0
$$;
-- what the day of 'tick' must teach: 47 idle times of 29 minutes
CREATE TEMP TABLE expected AS
SELECT array_fill(0, ARRAY[241]) AS h;
UPDATE expected SET h[30] = 47;

SELECT scaler.create_policy('cl_learn', 1, function_name => 'tick', source => 'public.cl_log',
                            scale_in_stabilization => '0', keep_alive => 'auto');
SELECT scaler.create_policy('cl_inc', 1, function_name => 'tick', source => 'public.cl_log',
                            scale_in_stabilization => '0', keep_alive => 'auto');
SELECT scaler.create_policy('cl_quiet', 1, function_name => 'quiet', source => 'public.cl_log',
                            scale_in_stabilization => '0', keep_alive => 'auto');
SELECT scaler.create_policy('cl_switch', 1, function_name => 'tick', source => 'public.cl_log',
                            scale_in_stabilization => '0', keep_alive => '10 minutes');

-- ------------------------------------------------------------ first use
CREATE TEMP TABLE live (at timestamptz, capacity int);
SELECT is(pg_temp.hist('cl_learn'), NULL, 'a new policy has no histogram');
SELECT scaler._evaluate_at('cl_learn', pg_temp.at(1));
INSERT INTO live SELECT pg_temp.at(1), capacity FROM scaler.policy_state WHERE policy = 'cl_learn';
SELECT is(pg_temp.hist('cl_learn'), (SELECT h FROM expected),
          'the first evaluation learns the day of idle times from the log: 47 in bin 29, nothing else');
SELECT is((SELECT last_active_at FROM scaler.policy_state WHERE policy = 'cl_learn'), pg_temp.at(-27),
          'and the end of the last window with a call');
SELECT is((SELECT format('%s->%s %s', from_capacity, to_capacity, reason) FROM scaler.decision
            WHERE policy = 'cl_learn' AND decided_at = pg_temp.at(1)),
          '0->1 prewarm',
          'the first decision is the learned pre-warm (the 10-minute fallback would stay at 0)');

-- live learning agrees with learning tick by tick through the same day
DO $$
BEGIN
    FOR j IN -47..0 LOOP
        PERFORM scaler._evaluate_at('cl_inc', pg_temp.at(-27 + 30 * j));
    END LOOP;
END
$$;
SELECT is(pg_temp.hist('cl_inc'), pg_temp.hist('cl_learn'),
          'the histogram learned at once equals the one live evaluation builds through the day');

-- once stored, the histogram is only updated live: older rows arriving now change nothing
INSERT INTO public.cl_log (ts, function_name, duration_ms, status)
SELECT t0 - interval '12 hours 10 minutes', 'tick', 3000, 200 FROM t0;
SELECT scaler._evaluate_at('cl_learn', pg_temp.at(2));
SELECT is(pg_temp.hist('cl_learn'), (SELECT h FROM expected),
          'a stored histogram is not learned again');
DELETE FROM public.cl_log WHERE ts = (SELECT t0 - interval '12 hours 10 minutes' FROM t0);

-- the replay from t0 (its warm-up is the same day) decides as live evaluation
INSERT INTO live SELECT pg_temp.at(2), capacity FROM scaler.policy_state WHERE policy = 'cl_learn';
DO $$
BEGIN
    FOR k IN 3..180 LOOP
        PERFORM scaler._evaluate_at('cl_learn', pg_temp.at(k));
        INSERT INTO live SELECT pg_temp.at(k), capacity FROM scaler.policy_state WHERE policy = 'cl_learn';
    END LOOP;
END
$$;
CREATE TEMP TABLE replay AS
SELECT b.* FROM t0, scaler.backtest('cl_learn', t0, t0 + interval '180 minutes') b;
SELECT is((SELECT format('%s %s', capacity, reason) FROM replay WHERE at = pg_temp.at(1)),
          '1 prewarm', 'the replay''s first step pre-warms too');
SELECT is((SELECT count(*)::int FROM live l JOIN replay r USING (at) WHERE l.capacity = r.capacity), 180,
          'live evaluation runs the capacity the replay runs, at every one of 180 ticks');
SELECT is((SELECT string_agg(format('%s %s->%s %s', decided_at, from_capacity, to_capacity, reason), '; ' ORDER BY id)
             FROM scaler.decision WHERE policy = 'cl_learn'),
          (SELECT string_agg(format('%s %s->%s %s', at, from_capacity, capacity, reason), '; ' ORDER BY at)
             FROM replay WHERE capacity <> from_capacity),
          'the same decisions, with the same reasons');
SELECT is((SELECT count(*)::int FROM replay WHERE cold_starts > 0), 0,
          'with the learned histogram, no call of the timer starts cold');
SELECT is((pg_temp.hist('cl_learn'))[30], 47 + 6, 'live evaluation then adds the 6 idle times after t0');

-- at the edge of representative (10 idle times): 'edge10' has 11 calls in
-- the day before t0, 'edge9' 10; an idle time counted differently by the
-- replay and by live learning would flip one of them
INSERT INTO public.cl_log (ts, function_name, duration_ms, status)
SELECT t0 - interval '27 minutes 40 seconds' + j * interval '30 minutes', f, 3000, 200
  FROM t0, (VALUES ('edge10', -10), ('edge9', -9)) e(f, first), generate_series(first, 2) j;
SELECT scaler.create_policy(f, 1, function_name => f, source => 'public.cl_log',
                            scale_in_stabilization => '0', keep_alive => 'auto')
  FROM unnest(ARRAY['edge10', 'edge9']) f;
SELECT scaler._evaluate_at(f, pg_temp.at(1)) FROM unnest(ARRAY['edge10', 'edge9']) f;
SELECT is((SELECT string_agg(format('%s %s', (pg_temp.hist(f))[30], s.capacity), ', ' ORDER BY f)
             FROM unnest(ARRAY['edge10', 'edge9']) f JOIN scaler.policy_state s ON s.policy = f),
          '10 1, 9 0',
          'live learning: 10 idle times pre-warm, 9 are too few (the fallback keeps nothing 28 minutes on)');
SELECT is((SELECT string_agg(format('%s %s', b.capacity, b.reason IN ('prewarm', 'keep_alive')), ', ' ORDER BY f)
             FROM t0, unnest(ARRAY['edge10', 'edge9']) f,
                  scaler.backtest(f, t0, t0 + interval '1 minute') b),
          '1 t, 0 f',
          'the replay learns the same counts from the same day: the same two decisions');

-- old idle times fade: when the counts reach 100,000 in all, each is halved
SELECT scaler.create_policy('cl_fade', 1, function_name => 'tick', source => 'public.cl_log',
                            scale_in_stabilization => '0', keep_alive => 'auto');
SELECT scaler._evaluate_at('cl_fade', pg_temp.at(1));
UPDATE scaler.policy_state SET idle_histogram[30] = 99998, idle_histogram[241] = 1 WHERE policy = 'cl_fade';
SELECT scaler._evaluate_at('cl_fade', pg_temp.at(k)) FROM generate_series(2, 10) k;
SELECT is(pg_temp.hist('cl_fade'),
          (SELECT array_agg(CASE i WHEN 30 THEN 49999 ELSE 0 END ORDER BY i) FROM generate_series(1, 241) i),
          'the 100,000th idle time halves every count, the one beyond 4 hours too (1 to 0)');

-- ------------------------------------------------------------ no history
SELECT scaler._evaluate_at('cl_quiet', pg_temp.at(k)) FROM generate_series(1, 12) k;
SELECT is(pg_temp.hist('cl_quiet'), array_fill(0, ARRAY[241]),
          'a source without history gives an empty histogram, stored (so it is not learned again)');
SELECT is((SELECT string_agg(format('%s %s->%s', decided_at - (SELECT t0 FROM t0), from_capacity, to_capacity), '; ' ORDER BY id)
             FROM scaler.decision WHERE policy = 'cl_quiet'),
          '00:01:00 0->1; 00:11:00 1->0',
          'without history, auto falls back to the 10-minute keep-alive after the call');

-- evaluations in one statement see each other's keep-alive state
SELECT scaler.create_policy('cl_stmt', 1, function_name => 'quiet', source => 'public.cl_log',
                            scale_in_stabilization => '0', keep_alive => '10 minutes');
SELECT scaler._evaluate_at('cl_stmt', pg_temp.at(k)) FROM generate_series(1, 2) k;
SELECT is((SELECT format('%s %s', capacity, last_active_at - (SELECT t0 FROM t0)) FROM scaler.policy_state
            WHERE policy = 'cl_stmt'),
          '1 00:01:00', 'the second evaluation of a statement keeps alive after the first one''s call');

-- ------------------------------------------------------------ changed to auto
SELECT scaler._evaluate_at('cl_switch', pg_temp.at(1));
SELECT is(pg_temp.hist('cl_switch'), NULL, 'a fixed keep-alive keeps no histogram');
SELECT scaler.alter_policy('cl_switch', keep_alive => 'auto');
SELECT scaler._evaluate_at('cl_switch', pg_temp.at(2));
SELECT is(pg_temp.hist('cl_switch'), (SELECT h FROM expected),
          'after alter_policy(keep_alive => ''auto'') the next evaluation learns from the log');
-- what was learned belongs to the traffic watched while 'auto': a change of
-- other settings keeps it, leaving 'auto' or watching other traffic drops it
SELECT scaler.alter_policy('cl_switch', target => 2);
SELECT is(pg_temp.hist('cl_switch'), (SELECT h FROM expected),
          'alter_policy of the target keeps the learned histogram');
SELECT scaler.alter_policy('cl_switch', keep_alive => '10 minutes');
SELECT is(pg_temp.hist('cl_switch'), NULL,
          'leaving keep_alive ''auto'' forgets the histogram, so a later ''auto'' learns afresh');
SELECT scaler.alter_policy('cl_switch', keep_alive => 'auto');
SELECT scaler._evaluate_at('cl_switch', pg_temp.at(3));
SELECT scaler.alter_policy('cl_switch', function_name => 'quiet');
SELECT is(pg_temp.hist('cl_switch'), NULL,
          'watching another function forgets the histogram learned from the first');

-- ------------------------------------------------------------ as the owner
-- the owner sees only the last 6 hours of the source (row-level security):
-- its policy learns 11 idle times, not 47
CREATE ROLE cl_owner;
GRANT USAGE ON SCHEMA scaler TO cl_owner;
GRANT SELECT ON public.cl_log TO cl_owner;
GRANT EXECUTE ON FUNCTION scaler.create_policy TO cl_owner;
ALTER TABLE public.cl_log ENABLE ROW LEVEL SECURITY;
DO $$
BEGIN
    EXECUTE format('CREATE POLICY recent ON public.cl_log TO cl_owner USING (ts > %L::timestamptz)',
                   pg_temp.at(-360));
END
$$;
SET ROLE cl_owner;
SELECT scaler.create_policy('cl_owned', 1, function_name => 'tick', source => 'public.cl_log',
                            scale_in_stabilization => '0', keep_alive => 'auto');
RESET ROLE;
SELECT scaler._evaluate_at('cl_owned', pg_temp.at(1));
SELECT is((pg_temp.hist('cl_owned'))[30], 11,
          'learning reads the source as the policy owner: 12 calls in its 6 hours, 11 idle times');

-- ------------------------------------------------------------ bounded
-- a source whose history is slow to read (50 ms a row before t0: 48 rows of tick)
-- fails that policy alone, after scaler.policy_timeout, and stores nothing;
-- the window itself (after t0) reads fast
RESET ROLE;
ALTER TABLE public.cl_log DISABLE ROW LEVEL SECURITY;
CREATE FUNCTION public.cl_pause(ts timestamptz, t0 timestamptz) RETURNS boolean
LANGUAGE plpgsql COST 1000 AS $$
BEGIN
    IF ts <= t0 THEN
        PERFORM pg_sleep(0.05);
    END IF;
    RETURN true;
END
$$;
DO $$
BEGIN
    EXECUTE format('CREATE VIEW public.cl_slow AS SELECT * FROM public.cl_log WHERE public.cl_pause(ts, %L)',
                   pg_temp.at(0));
END
$$;
SELECT scaler.create_policy('cl_slow', 1, function_name => 'tick', source => 'public.cl_slow',
                            scale_in_stabilization => '0', keep_alive => 'auto');
SELECT scaler.create_policy('cl_after', 1, function_name => 'quiet', source => 'public.cl_log',
                            scale_in_stabilization => '0', keep_alive => 'auto');
SET scaler.policy_timeout = '500ms';
SELECT scaler._evaluate_at(NULL, pg_temp.at(1));
RESET scaler.policy_timeout;
SELECT is((SELECT format('%s %s', last_error, idle_histogram IS NULL) FROM scaler.policy_state WHERE policy = 'cl_slow'),
          'evaluation took longer than scaler.policy_timeout (500 ms) t',
          'learning from a slow source is cut off by scaler.policy_timeout, and nothing is stored');
SELECT is((SELECT format('%s %s', capacity, last_error IS NULL) FROM scaler.policy_state WHERE policy = 'cl_after'),
          '1 t', 'the other policies of the run still decide');
SELECT scaler.alter_policy('cl_slow', source => 'public.cl_log');
SELECT scaler._evaluate_at('cl_slow', pg_temp.at(2));
SELECT is((SELECT (idle_histogram)[30] FROM scaler.policy_state WHERE policy = 'cl_slow'), 47,
          'the next evaluation learns (again: nothing was stored)');
SELECT * FROM finish();
ROLLBACK;
