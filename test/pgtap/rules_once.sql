-- One rule, one place (issue 12.3): every path that takes policy settings
-- applies the same rules (scaler._check_settings), the source column types
-- are the ones every reader of a source accepts, the decision JSON has one
-- definition, and the floor rule is scaler._active_floors.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS scaler;
SET client_min_messages = warning;
SELECT plan(21);

CREATE TABLE public.ro_log (ts timestamptz, function_name text, duration_ms float8, status int);
SELECT scaler.create_policy('ro', 1, function_name => 'f', source => 'public.ro_log');

-- an infinite panic_threshold: refused by every path, naming the field
SELECT throws_ok($$SELECT * FROM scaler.desired_capacity('concurrency', 1, 1, 1, panic_threshold => 'infinity')$$,
                 '22023', 'panic_threshold must be a finite number of at least 1',
                 'desired_capacity refuses an infinite panic_threshold');
SELECT throws_ok($$SELECT scaler.create_policy('ro2', 1, panic_threshold => 'infinity')$$,
                 '22023', 'panic_threshold must be a finite number of at least 1',
                 'create_policy refuses it');
SELECT throws_ok($$SELECT scaler.alter_policy('ro', panic_threshold => 'infinity')$$,
                 '22023', 'panic_threshold must be a finite number of at least 1',
                 'alter_policy refuses it');
SELECT throws_ok($$SELECT * FROM scaler.backtest('ro', now() - interval '1 hour', now(), '{"panic_threshold": "Infinity"}')$$,
                 '22023', 'panic_threshold must be a finite number of at least 1',
                 'a backtest override refuses it');
SELECT throws_ok($$UPDATE scaler.policy SET panic_threshold = 'infinity' WHERE name = 'ro'$$,
                 '23514', NULL, 'and so does the table''s CHECK, for a row written by hand');
SELECT throws_ok($$SELECT * FROM scaler.desired_capacity('concurrency', 1, 1, 1, panic_threshold => 'NaN')$$,
                 '22023', 'panic_threshold must be a finite number of at least 1',
                 'desired_capacity and create_policy say the same for NaN');

-- the same rules, value by value, in the CHECK and in _check_settings
SELECT is((SELECT count(*)::int FROM (VALUES
              ('x', 'rps', 1::float8, interval '1 minute', 0, 1, 0.1::float8, interval '0', 1::float8, 'c'),
              ('', 'rps', 1, '1 minute', 0, 1, 0.1, '0', 1, 'c'),
              ('x', 'cpu', 1, '1 minute', 0, 1, 0.1, '0', 1, 'c'),
              ('x', 'rps', 'infinity', '1 minute', 0, 1, 0.1, '0', 1, 'c'),
              ('x', 'rps', 1, '0', 0, 1, 0.1, '0', 1, 'c'),
              ('x', 'rps', 1, '1 minute', -1, 1, 0.1, '0', 1, 'c'),
              ('x', 'rps', 1, '1 minute', 3, 2, 0.1, '0', 1, 'c'),
              ('x', 'rps', 1, '1 minute', 0, 1, 1, '0', 1, 'c'),
              ('x', 'rps', 1, '1 minute', 0, 1, 0.1, '-1 s', 1, 'c'),
              ('x', 'rps', 1, '1 minute', 0, 1, 0.1, '0', 0.5, 'c'),
              ('x', 'rps', 1, '1 minute', 0, 1, 0.1, '0', 1, repeat('c', 64))
           ) v(n, m, t, w, lo, hi, tol, sis, pt, ch)
           WHERE scaler._check_settings(n, m, t, w, lo, hi, tol, sis, pt, ch, false)), 1,
          '_check_settings accepts the valid row and refuses each of the ten invalid ones');
SELECT throws_ok($$SELECT scaler._check_settings('x', 'rps', 1, '1 minute', 3, 2, 0.1, '0', 1, 'c', true)$$,
                 '22023', 'max_capacity must not be less than min_capacity',
                 'with raise it names the field');
SELECT throws_ok($$SELECT scaler._check_settings('x', 'cpu', 1, '1 minute', 0, 1, 0.1, '0', 1, 'c', true)$$,
                 '22023', 'unknown metric "cpu"', 'an unknown metric, from the C list of metrics');
SELECT throws_ok($$UPDATE scaler.policy SET channel = repeat('c', 64) WHERE name = 'ro'$$,
                 '23514', NULL, 'the CHECK refuses a channel LISTEN cannot take');
SELECT throws_ok($$SELECT scaler.alter_policy('ro', channel => repeat('c', 64))$$,
                 '22023', 'channel must be 1 to 63 bytes long', 'as alter_policy does');

-- source column types: the list every reader of a source applies
CREATE TABLE public.ro_typed (ts timestamptz, function_name char(8), duration_ms int2, status int8);
INSERT INTO public.ro_typed VALUES (now() - interval '10 seconds', 'f', 100, 200);
SELECT lives_ok($$SELECT scaler.create_policy('ro_typed', 1, function_name => 'f', source => 'public.ro_typed')$$,
                'a policy may read a function_name of type char(n), as hourly_requests does');
SELECT is((SELECT count(*)::int FROM scaler.hourly_requests(now() - interval '1 hour', now(), 'f', 'public.ro_typed')
            WHERE requests > 0), 1,
          'hourly_requests reads the same source');
CREATE TABLE public.ro_bad (ts timestamptz, function_name text, duration_ms text);
SELECT throws_ok($$SELECT scaler.create_policy('ro_bad', 1, source => 'public.ro_bad')$$,
                 '22023', 'column "duration_ms" of source public.ro_bad has type text',
                 'a duration of type text is refused');

-- one decision JSON: the payload keys are those listeners hand on
SELECT scaler.set_capacity('ro', 0);
INSERT INTO public.ro_log SELECT now() - interval '5 seconds', 'f', 60000, 200 FROM generate_series(1, 3);
SELECT is((SELECT count(*)::int FROM scaler.evaluate('ro')), 1, 'a decision is made');
SELECT is((SELECT array_agg(k ORDER BY k) FROM scaler.decision d,
                  json_object_keys(scaler._decision_payload(d)::json) k WHERE d.policy = 'ro'),
          ARRAY['decided_at', 'from', 'id', 'metric', 'policy', 'reason', 'target', 'to', 'value'],
          'the payload carries id, policy, decided_at, metric, value, target, from, to and reason');
SELECT is((SELECT (scaler._decision_payload(d)::json->>'target')::float8 FROM scaler.decision d WHERE d.policy = 'ro'),
          1::float8, 'target among them');

-- the floor rule: active_floor and evaluation agree at the edges
INSERT INTO scaler.capacity_floor (policy, starts, ends, min_capacity, origin) VALUES
    ('ro', '2030-01-01 00:00+00', '2030-01-01 01:00+00', 4, 'manual'),
    ('ro', '2030-01-01 00:30+00', '2030-01-01 02:00+00', 6, 'manual');
SELECT is(ARRAY[scaler.active_floor('ro', '2029-12-31 23:59:59+00'),
                scaler.active_floor('ro', '2030-01-01 00:00+00'),
                scaler.active_floor('ro', '2030-01-01 00:30+00'),
                scaler.active_floor('ro', '2030-01-01 02:00+00')],
          ARRAY[0, 4, 6, 0], 'a floor counts from starts, not at ends; the highest wins');
SELECT is((SELECT floor FROM scaler._active_floors('2030-01-01 01:00+00') WHERE policy = 'ro'), 6,
          '_active_floors gives the same');
DELETE FROM public.ro_log;
SELECT scaler._evaluate_at('ro', '2030-01-01 00:45+00');
SELECT is((SELECT row(capacity, last_value)::text FROM scaler.policies WHERE name = 'ro'), row(6, 0::float8)::text,
          'evaluation clamps to that floor');
SELECT is((SELECT reason FROM scaler.decision WHERE policy = 'ro' ORDER BY id DESC LIMIT 1), 'floor',
          'and says so');

SELECT * FROM finish();
ROLLBACK;
