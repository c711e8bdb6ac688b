-- Same code, same answers: scaler.backtest() over a window equals what live
-- evaluation decided when it was fed the same rows tick by tick.
--
-- Live evaluation is driven through scaler._evaluate_at(policy, at), which
-- evaluates as if now were `at` (scaler.evaluate() itself uses the statement
-- time).  Every metric is covered, on irregular traffic with bursts in the
-- panic tail, gaps, NULL durations and statuses, rows exactly on window and
-- tail boundaries, and a capacity floor in the middle.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS scaler;
SET search_path = scaler, public;
SET client_min_messages = warning;
SELECT plan(15);

CREATE TABLE public.live_log (LIKE scaler.request_log INCLUDING ALL);
-- ticks from t0 + 1 minute to t0 + 120 minutes
CREATE TEMP TABLE t0 AS SELECT date_trunc('minute', now()) - interval '3 hours' AS t0;

SELECT setseed(0.42);
-- background: 0-8 requests a minute, durations 0.1-12 s, 3% errors, some NULLs
INSERT INTO public.live_log (ts, function_name, duration_ms, status)
SELECT t0 + m * interval '1 minute' + random() * interval '60 seconds', 'svc',
       CASE WHEN random() < 0.05 THEN NULL ELSE 100 + random() * 12000 END,
       CASE WHEN random() < 0.03 THEN 503 WHEN random() < 0.05 THEN NULL ELSE 200 END
  FROM t0, generate_series(0, 119) m,
       generate_series(1, (4 + 4 * sin(m / 10.0))::int)
 WHERE m NOT BETWEEN 70 AND 79;          -- a quiet gap
-- bursts in the last seconds of some minutes (the panic tail)
INSERT INTO public.live_log (ts, function_name, duration_ms, status)
SELECT t0 + m * interval '1 minute' + interval '55 seconds' + random() * interval '5 seconds', 'svc',
       2000 + random() * 20000, CASE WHEN random() < 0.5 THEN 500 ELSE 200 END
  FROM t0, generate_series(0, 119) m, generate_series(1, 25)
 WHERE m IN (20, 21, 55, 100);
-- rows exactly on a window end and exactly on a tail start
INSERT INTO public.live_log (ts, function_name, duration_ms, status)
SELECT t0 + m * interval '1 minute', 'svc', 30000, 502 FROM t0, generate_series(30, 35) m;
INSERT INTO public.live_log (ts, function_name, duration_ms, status)
SELECT t0 + m * interval '1 minute' - interval '6 seconds', 'svc', 30000, 200 FROM t0, generate_series(40, 45) m;
-- a busy function: over 1,024 rows in one step (a p95_ms replay keeps a
-- step's durations; its buffer starts at 1,024), slower minute by minute
INSERT INTO public.live_log (ts, function_name, duration_ms, status)
SELECT t0 + m * interval '1 minute' + i * interval '35 ms', 'busy', 500 * (m - 8) + i % 700, 200
  FROM t0, generate_series(10, 16) m, generate_series(1, 1500) i;
-- another function that the policies must not read
INSERT INTO public.live_log (ts, function_name, duration_ms, status)
SELECT t0 + m * interval '1 minute', 'other', 60000, 500 FROM t0, generate_series(0, 119) m;

SELECT scaler.create_policy('c', 0.5, function_name => 'svc', source => 'public.live_log',
                            min_capacity => 1, max_capacity => 30);
SELECT scaler.create_policy('r', 0.02, metric => 'rps', function_name => 'svc', source => 'public.live_log',
                            scale_in_stabilization => '3 minutes', tolerance => 0.2);
SELECT scaler.create_policy('p', 4000, metric => 'p95_ms', function_name => 'svc', source => 'public.live_log',
                            min_capacity => 2, max_capacity => 40);
SELECT scaler.create_policy('b', 1000, metric => 'p95_ms', function_name => 'busy', source => 'public.live_log',
                            max_capacity => 40);
SELECT scaler.create_policy('e', 0.02, metric => 'error_rate', function_name => 'svc', source => 'public.live_log',
                            min_capacity => 1, max_capacity => 10, panic_threshold => 1.5);
SELECT scaler.create_policy('w', 2, source => 'public.live_log', stable_window => '5 minutes',
                            scale_in_stabilization => '12 minutes', max_capacity => 50);
INSERT INTO scaler.capacity_floor (policy, starts, ends, min_capacity, origin)
SELECT 'c', t0 + interval '60 minutes', t0 + interval '65 minutes', 12, 'manual' FROM t0;

-- feed live evaluation: one tick a minute, as if the worker ran then; keep
-- the capacity every policy had after each tick
CREATE TEMP TABLE live (policy text, at timestamptz, capacity int);
DO $$
DECLARE
    t0 timestamptz := (SELECT t0.t0 FROM t0);
    at timestamptz;
BEGIN
    FOR k IN 1..120 LOOP
        at := t0 + k * interval '1 minute';
        PERFORM scaler._evaluate_at(p, at) FROM unnest(ARRAY['c', 'r', 'p', 'b', 'e']) p;
        INSERT INTO live SELECT s.policy, at, s.capacity
          FROM scaler.policy_state s WHERE s.policy IN ('c', 'r', 'p', 'b', 'e');
        IF k % 5 = 0 THEN
            PERFORM scaler._evaluate_at('w', at);
            INSERT INTO live SELECT s.policy, at, s.capacity FROM scaler.policy_state s WHERE s.policy = 'w';
        END IF;
    END LOOP;
END
$$;

CREATE TEMP TABLE replay AS
SELECT p AS policy, b.*
  FROM t0, unnest(ARRAY['c', 'r', 'p', 'b', 'e', 'w']) p,
       scaler.backtest(p, t0, t0 + interval '120 minutes') b;

SELECT is((SELECT count(*)::int FROM replay), 5 * 120 + 24, 'one replay step per tick (5-minute window: 24)');

-- the capacity after every tick
SELECT is((SELECT count(*)::int FROM live l JOIN replay r USING (policy, at)
            WHERE l.capacity = r.capacity AND l.policy = pol), (SELECT count(*)::int FROM live WHERE policy = pol),
          format('policy %s: the replay runs the capacity live evaluation ran, at every tick', pol))
  FROM unnest(ARRAY['c', 'r', 'p', 'b', 'e', 'w']) pol;

-- every decision: when, from, to, why, on what value
SELECT is((SELECT string_agg(format('%s %s->%s %s %s', decided_at, from_capacity, to_capacity, reason, round(value::numeric, 9)), '; ' ORDER BY id)
             FROM scaler.decision WHERE policy = pol),
          (SELECT string_agg(format('%s %s->%s %s %s', at, from_capacity, capacity, reason, round(value::numeric, 9)), '; ' ORDER BY at)
             FROM replay WHERE policy = pol AND capacity <> from_capacity),
          format('policy %s: the same decisions (time, capacities, reason, value)', pol))
  FROM unnest(ARRAY['c', 'r', 'p', 'b', 'e', 'w']) pol;

-- the traffic was rich enough to exercise the rules being compared
SELECT is((SELECT string_agg(DISTINCT reason, ',' ORDER BY reason) FROM replay),
          'floor,max_capacity,min_capacity,no_data,no_traffic,panic,stabilization,target,tolerance',
          'the comparison covers every reason a decision can have');
SELECT ok((SELECT count(*) FROM (SELECT FROM scaler.decision WHERE policy IN ('c', 'r', 'p', 'b', 'e', 'w')
                                  GROUP BY policy HAVING count(*) >= 4) enough) = 6,
          'every policy made several decisions (so no comparison above was of two empty lists)');

SELECT * FROM finish();
ROLLBACK;
