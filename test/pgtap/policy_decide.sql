-- The decision rules one at a time, through scaler.desired_capacity(), which
-- runs the same C code as evaluate() and the worker.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS scaler;
SET search_path = scaler, public;
SELECT plan(62);

-- shorthand: one evaluation's (desired, reason)
CREATE FUNCTION pg_temp.d(metric text, target float8, cur int, val float8,
    tol float8 DEFAULT 0.1, mn int DEFAULT 0, mx int DEFAULT 100, fl int DEFAULT 0)
RETURNS text LANGUAGE sql AS $$
    SELECT r.desired || ' ' || r.reason
      FROM scaler.desired_capacity(metric, target, cur, val, min_capacity => mn,
               max_capacity => mx, tolerance => tol, floor => fl,
               scale_in_stabilization => '0') r
$$;

-- target tracking, load metrics: ceil(value / target)
SELECT is(pg_temp.d('concurrency', 2, 1, 9), '5 target', 'concurrency 9 over target 2 per instance: 5');
SELECT is(pg_temp.d('rps', 5, 0, 10), '2 target', 'rps 10 over target 5: 2');
SELECT is(pg_temp.d('rps', 5, 0, 10.0001), '3 target', 'a little over a whole number rounds up');
SELECT is(pg_temp.d('concurrency', 0.1, 0, 0.3), '3 target', 'float noise (0.3/0.1) does not add an instance');
SELECT is(pg_temp.d('concurrency', 2, 8, 4), '2 target', 'load metrics scale in to ceil(value / target)');

-- ratio, quality metrics: ceil(current * value / target)
SELECT is(pg_temp.d('p95_ms', 200, 4, 300), '6 target', 'p95 300 ms over target 200 at 4 instances: 6');
SELECT is(pg_temp.d('error_rate', 0.01, 3, 0.02), '6 target', 'error rate twice the target doubles capacity');
SELECT is(pg_temp.d('p95_ms', 200, 8, 100), '4 target', 'p95 at half the target halves capacity');
SELECT is(pg_temp.d('p95_ms', 200, 0, 300), '2 target', 'a quality metric with rows but nothing running counts one instance');
SELECT is(pg_temp.d('p95_ms', 1.1, 3, 1.1), '3 target', 'ratio 1 keeps capacity (3 * 1.1 / 1.1 is not 4)');

-- tolerance
SELECT is(pg_temp.d('concurrency', 2, 5, 10.5), '5 tolerance', '5% over target within 10% tolerance: hold');
SELECT is(pg_temp.d('concurrency', 2, 5, 10.5, tol => 0.01), '6 target', 'same load with 1% tolerance scales out');
SELECT is(pg_temp.d('concurrency', 2, 5, 11.2), '6 target', '12% over target is outside 10% tolerance');
SELECT is(pg_temp.d('concurrency', 2, 20, 37), '20 tolerance', '7.5% under target within tolerance: hold');
SELECT is(pg_temp.d('concurrency', 1, 10, 11), '10 tolerance', 'exactly 10% over holds at tolerance 0.1 (11 / 10 - 1 is 0.10000000000000009)');
SELECT is(pg_temp.d('concurrency', 1, 10, 9), '10 tolerance', 'as exactly 10% under does');
SELECT is(pg_temp.d('p95_ms', 100, 10, 110), '10 tolerance', 'and a quality metric exactly 10% over');
SELECT is(pg_temp.d('p95_ms', 200, 4, 210), '4 tolerance', 'tolerance applies to quality metrics too');
SELECT is(pg_temp.d('concurrency', 2, 0, 0.1), '1 target', 'from zero, any demand scales out (no tolerance)');

-- no rows in the window
SELECT is(pg_temp.d('concurrency', 2, 5, NULL), '0 no_traffic', 'load metric without rows reads 0: scale to zero');
SELECT is(pg_temp.d('rps', 2, 5, NULL), '0 no_traffic', 'rps without rows reads 0');
SELECT is(pg_temp.d('p95_ms', 200, 3, NULL), '3 no_data', 'quality metric without rows holds');
SELECT is(pg_temp.d('error_rate', 0.01, 3, NULL), '3 no_data', 'error rate without rows holds');

-- scale to zero and back
SELECT is(pg_temp.d('concurrency', 2, 3, 0), '0 target', 'no load scales to zero');
SELECT is(pg_temp.d('concurrency', 2, 0, 0), '0 target', 'stays at zero while idle');
SELECT is(pg_temp.d('concurrency', 2, 0, 3), '2 target', 'and comes back when traffic returns');

-- clamp to [min, max] and to the floor
SELECT is(pg_temp.d('concurrency', 1, 5, 1000), '100 max_capacity', 'max_capacity caps');
SELECT is(pg_temp.d('concurrency', 1, 5, 0, mn => 3), '3 min_capacity', 'min_capacity holds');
SELECT is(pg_temp.d('concurrency', 1, 5, 0, mn => 3, fl => 7), '7 floor', 'an active floor above min holds');
SELECT is(pg_temp.d('concurrency', 1, 5, 9, mn => 3, fl => 7), '9 target', 'a floor does not cap demand');
SELECT is(pg_temp.d('concurrency', 1, 5, 0, fl => 200), '100 max_capacity', 'max_capacity is the hard ceiling, also over floors');
SELECT is(pg_temp.d('concurrency', 1, 5, NULL, mn => 2), '2 min_capacity', 'scale to zero stops at min_capacity');

-- panic mode: chained evaluations
CREATE TEMP TABLE steps (n int PRIMARY KEY, desired int, reason text, panicking bool,
                         new_state scaler.decide_state);
-- stable demand 2 at 2 instances, but the last tenth demands 10 (>= 2 x 2)
INSERT INTO steps SELECT 1, * FROM scaler.desired_capacity('concurrency', 1, 2, 2, panic_value => 10,
    scale_in_stabilization => '0', at => '2026-01-01 00:00:00+00');
SELECT is((SELECT desired || ' ' || reason || ' ' || panicking FROM steps WHERE n = 1),
          '10 panic true', 'panic: the last tenth demanding >= 2x current scales out at once');
-- the burst is over, but within a stable window: no scale in
INSERT INTO steps SELECT 2, * FROM scaler.desired_capacity('concurrency', 1, 10, 3, panic_value => 3,
    scale_in_stabilization => '0', state => (SELECT new_state FROM steps WHERE n = 1),
    at => '2026-01-01 00:00:30+00');
SELECT is((SELECT desired || ' ' || reason || ' ' || panicking FROM steps WHERE n = 2),
          '10 panic true', 'while panicking, no scale in');
-- a second burst extends panic; it only scales out further
INSERT INTO steps SELECT 3, * FROM scaler.desired_capacity('concurrency', 1, 10, 5, panic_value => 25,
    scale_in_stabilization => '0', state => (SELECT new_state FROM steps WHERE n = 2),
    at => '2026-01-01 00:00:50+00');
SELECT is((SELECT desired || ' ' || reason FROM steps WHERE n = 3), '25 panic',
          'a new burst during panic scales out further');
-- 59 s after the last burst: still panicking
INSERT INTO steps SELECT 4, * FROM scaler.desired_capacity('concurrency', 1, 25, 3, panic_value => 3,
    scale_in_stabilization => '0', state => (SELECT new_state FROM steps WHERE n = 3),
    at => '2026-01-01 00:01:49+00');
SELECT is((SELECT desired || ' ' || panicking FROM steps WHERE n = 4), '25 true',
          'panic lasts until a full stable window passes without it');
-- a full stable window (1 minute) after the last burst: panic ends, scale in
INSERT INTO steps SELECT 5, * FROM scaler.desired_capacity('concurrency', 1, 25, 3, panic_value => 3,
    scale_in_stabilization => '0', state => (SELECT new_state FROM steps WHERE n = 4),
    at => '2026-01-01 00:01:50+00');
SELECT is((SELECT desired || ' ' || reason || ' ' || panicking FROM steps WHERE n = 5),
          '3 target false', 'after a stable window without panic, scale in resumes');
SELECT ok((SELECT (new_state).panic_at IS NULL FROM steps WHERE n = 5), 'the state forgets the panic');
-- below the threshold: no panic
SELECT is((SELECT r.desired || ' ' || r.panicking FROM scaler.desired_capacity('concurrency', 1, 2, 2,
              panic_value => 3.9, scale_in_stabilization => '0') r),
          '2 false', 'a tail demanding less than 2x current does not panic');
SELECT is((SELECT r.desired || ' ' || r.panicking FROM scaler.desired_capacity('concurrency', 1, 2, 2,
              panic_value => 7.9, panic_threshold => 4, scale_in_stabilization => '0') r),
          '2 false', 'panic_threshold sets the factor');

-- scale-in stabilization (5 minutes)
TRUNCATE steps;
INSERT INTO steps SELECT 1, * FROM scaler.desired_capacity('concurrency', 2, 0, 20,
    at => '2026-01-01 00:00:00+00');
INSERT INTO steps SELECT 2, * FROM scaler.desired_capacity('concurrency', 2, 10, 4,
    state => (SELECT new_state FROM steps WHERE n = 1), at => '2026-01-01 00:01:00+00');
SELECT is((SELECT desired || ' ' || reason FROM steps WHERE n = 2), '10 stabilization',
          'no scale in below the highest desired value of the last 5 minutes');
INSERT INTO steps SELECT 3, * FROM scaler.desired_capacity('concurrency', 2, 10, 12,
    state => (SELECT new_state FROM steps WHERE n = 2), at => '2026-01-01 00:02:00+00');
SELECT is((SELECT desired FROM steps WHERE n = 3), 10, 'still held at 10');
INSERT INTO steps SELECT 4, * FROM scaler.desired_capacity('concurrency', 2, 10, 4,
    state => (SELECT new_state FROM steps WHERE n = 3), at => '2026-01-01 00:05:01+00');
SELECT is((SELECT desired || ' ' || reason FROM steps WHERE n = 4), '6 stabilization',
          'once the peak leaves the window, scale in to the next highest (6, seen at 00:02)');
INSERT INTO steps SELECT 5, * FROM scaler.desired_capacity('concurrency', 2, 6, 4,
    state => (SELECT new_state FROM steps WHERE n = 4), at => '2026-01-01 00:07:01+00');
SELECT is((SELECT desired || ' ' || reason FROM steps WHERE n = 5), '2 target',
          'after 5 quiet minutes, scale in to demand');
INSERT INTO steps SELECT 6, * FROM scaler.desired_capacity('concurrency', 2, 2, 40,
    state => (SELECT new_state FROM steps WHERE n = 5), at => '2026-01-01 00:07:02+00');
SELECT is((SELECT desired || ' ' || reason FROM steps WHERE n = 6), '20 target',
          'stabilization never delays scale out');
SELECT is((SELECT (new_state).history_desired FROM steps WHERE n = 6), ARRAY[20],
          'the history drops values a later larger one makes irrelevant');

-- the history stays bounded and errs on the side of holding capacity
DO $$
DECLARE
    st scaler.decide_state;
    r record;
BEGIN
    FOR i IN 1..100 LOOP
        SELECT * INTO r FROM scaler.desired_capacity('concurrency', 1, 200, 200 - i,
            max_capacity => 1000, tolerance => 0, state => st,
            at => '2026-01-01 00:00:00+00'::timestamptz + i * interval '1 second');
        st := r.new_state;
    END LOOP;
    CREATE TEMP TABLE bounded AS SELECT st AS s, r.desired AS desired;
END
$$;
SELECT cmp_ok((SELECT cardinality((s).history_desired) FROM bounded), '<=', 32,
              'the history holds at most 32 entries');
SELECT is((SELECT desired FROM bounded), 199, 'scale in stays at the highest value seen (199)');

-- bad input names the field
SELECT throws_ok($$SELECT scaler.desired_capacity('concurrency', 0, 1, 1)$$, '22023',
                 'target must be a finite number greater than zero', 'target 0 is rejected');
SELECT throws_ok($$SELECT scaler.desired_capacity('cpu', 1, 1, 1)$$, '22023',
                 'unknown metric "cpu"', 'unknown metric is rejected');
SELECT throws_ok($$SELECT scaler.desired_capacity('rps', 1, 1, 1, min_capacity => 5, max_capacity => 2)$$,
                 '22023', 'max_capacity must not be less than min_capacity', 'min > max is rejected');
SELECT throws_ok($$SELECT scaler.desired_capacity('rps', 1, 1, 1, stable_window => '0')$$,
                 '22023', 'stable_window must be greater than zero', 'empty window is rejected');
SELECT throws_ok($$SELECT scaler.desired_capacity('rps', 1, 1, 1, state => ROW(NULL, NULL, '{2026-01-01}', '{1,2}')::scaler.decide_state)$$,
                 '22023', 'invalid decision state', 'a state with mismatched arrays is rejected');
SELECT throws_ok($$SELECT scaler.desired_capacity('rps', 1, 1, 1, floor => -1)$$,
                 '22023', 'floor must not be negative', 'a negative floor is rejected');
SELECT throws_ok($$SELECT scaler.desired_capacity('rps', 1, -1, 1)$$,
                 '22023', 'current_capacity must not be negative', 'a negative current capacity is rejected');
SELECT throws_ok($$SELECT scaler.desired_capacity('rps', 1, 1, -0.5)$$,
                 '22023', 'value must not be negative or NaN', 'a negative value is rejected');
SELECT throws_ok($$SELECT scaler.desired_capacity('rps', 1, 1, 'NaN')$$,
                 '22023', 'value must not be negative or NaN', 'a NaN value is rejected');
SELECT throws_ok($$SELECT scaler.desired_capacity('rps', 1, 1, 1, panic_value => 'NaN')$$,
                 '22023', 'panic_value must not be negative or NaN', 'a NaN panic value is rejected');

-- a state that is not one evaluate() could have made names what is wrong
CREATE FUNCTION pg_temp.state_error(st scaler.decide_state) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    code text;
    msg text;
    detail text;
BEGIN
    PERFORM scaler.desired_capacity('rps', 1, 1, 1, state => st);
    RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
    RETURN format('%s %s: %s', code, msg, detail);
END
$$;
SELECT is(pg_temp.state_error(ROW(NULL, NULL, '{{2026-01-01},{2026-01-02}}', '{3,2}')),
          '22023 invalid decision state: history_at must be one-dimensional.', 'a two-dimensional history_at');
SELECT is(pg_temp.state_error(ROW(NULL, NULL, '{2026-01-01,2026-01-02}', '{{3},{2}}')),
          '22023 invalid decision state: history_desired must be one-dimensional.', 'a two-dimensional history_desired');
SELECT is(pg_temp.state_error(ROW(NULL, NULL, '{2026-01-01,NULL}', '{3,2}')),
          '22023 invalid decision state: The history must not contain NULLs.', 'a NULL in the history');
SELECT is(pg_temp.state_error(ROW(NULL, NULL,
                                  (SELECT array_agg(timestamptz '2026-01-01' + i * interval '1 minute' ORDER BY i)
                                     FROM generate_series(1, 33) i),
                                  (SELECT array_agg(100 - i ORDER BY i) FROM generate_series(1, 33) i))),
          '22023 invalid decision state: The history has too many entries.', '33 history entries (32 at most)');

SELECT * FROM finish();
ROLLBACK;
