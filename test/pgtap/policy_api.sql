-- The policy API: validation (errors name the field), the policies view,
-- set_capacity, evaluate() and the decision log, failures kept per policy.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS scaler;
SET search_path = scaler, public;
SET client_min_messages = error;   -- evaluate() warns about the failing policy below
SELECT plan(47);

-- creation and defaults
SELECT lives_ok($$SELECT scaler.create_policy('api', 0.5, function_name => 'api')$$, 'create a policy');
SELECT is((SELECT row(metric, source::oid, stable_window, min_capacity, max_capacity, tolerance,
                      scale_in_stabilization, panic_threshold, channel, enabled, capacity, owner::text)::text
             FROM scaler.policies WHERE name = 'api'),
          row('concurrency', 'scaler.request_log'::regclass::oid, interval '1 minute', 0, 100, 0.1::float8,
              interval '5 minutes', 2.0::float8, 'scaler', true, 0, current_user::text)::text,
          'defaults are the documented ones; capacity starts at min_capacity; owned by the caller');
SELECT throws_ok($$SELECT scaler.create_policy('api', 1)$$, '42710', 'policy "api" already exists',
                 'duplicate name');

-- validation: 22023 / 42703, naming the field
SELECT throws_ok($$SELECT scaler.create_policy('x', 0)$$, '22023',
                 'target must be a finite number greater than zero', 'target 0');
SELECT throws_ok($$SELECT scaler.create_policy('x', -1)$$, '22023',
                 'target must be a finite number greater than zero', 'negative target');
SELECT throws_ok($$SELECT scaler.create_policy('x', 'NaN')$$, '22023',
                 'target must be a finite number greater than zero', 'NaN target');
SELECT throws_ok($$SELECT scaler.create_policy('x', 1, metric => 'cpu')$$, '22023',
                 'unknown metric "cpu"', 'unknown metric');
SELECT throws_ok($$SELECT scaler.create_policy('x', 1, min_capacity => 5, max_capacity => 2)$$, '22023',
                 'max_capacity must not be less than min_capacity', 'min > max');
SELECT throws_ok($$SELECT scaler.create_policy('x', 1, min_capacity => -1)$$, '22023',
                 'min_capacity must not be negative', 'negative min_capacity');
SELECT throws_ok($$SELECT scaler.create_policy('x', 1, stable_window => '0')$$, '22023',
                 'stable_window must be greater than zero', 'zero stable_window');
SELECT throws_ok($$SELECT scaler.create_policy('x', 1, stable_window => '-1 minute')$$, '22023',
                 'stable_window must be greater than zero', 'negative stable_window');
SELECT throws_ok($$SELECT scaler.create_policy('x', 1, tolerance => 1)$$, '22023',
                 'tolerance must be at least 0 and less than 1', 'tolerance 1');
SELECT throws_ok($$SELECT scaler.create_policy('x', 1, scale_in_stabilization => '-1 s')$$, '22023',
                 'scale_in_stabilization must not be negative', 'negative stabilization');
SELECT throws_ok($$SELECT scaler.create_policy('x', 1, panic_threshold => 0.5)$$, '22023',
                 'panic_threshold must be a finite number of at least 1', 'panic threshold below 1');
SELECT throws_ok($$SELECT scaler.create_policy('x', 1, channel => '')$$, '22023',
                 'channel must be 1 to 63 bytes long', 'empty channel');
SELECT throws_ok($$SELECT scaler.create_policy('', 1)$$, '22023',
                 'policy name must be 1 to 63 bytes long', 'empty name');
SELECT throws_ok($$SELECT scaler.create_policy(repeat('n', 64), 1)$$, '22023',
                 'policy name must be 1 to 63 bytes long', 'name too long for a payload-friendly key');
SELECT throws_ok($$SELECT scaler.create_policy('x', 1, function_name => '')$$, '22023',
                 'function_name must not be empty', 'empty function name');

CREATE TABLE public.only_ts (ts timestamptz, function_name text);
CREATE TABLE public.bad_ts (ts timestamp, function_name text, duration_ms float8);
SELECT throws_ok($$SELECT scaler.create_policy('x', 1, source => 'public.only_ts')$$, '42703',
                 'source public.only_ts has no column "duration_ms"', 'concurrency needs duration_ms');
SELECT throws_ok($$SELECT scaler.create_policy('x', 1, metric => 'error_rate', source => 'public.only_ts')$$, '42703',
                 'source public.only_ts has no column "status"', 'error_rate needs status');
SELECT lives_ok($$SELECT scaler.create_policy('x', 1, metric => 'rps', source => 'public.only_ts')$$,
                'rps needs only ts (and function_name)');
SELECT throws_ok($$SELECT scaler.create_policy('y', 1, source => 'public.bad_ts')$$, '22023',
                 'column "ts" of source public.bad_ts has type timestamp without time zone', 'ts must be timestamptz');
SELECT throws_ok($$SELECT scaler.create_policy('y', 1, source => 'public.no_such_table')$$, '42P01',
                 NULL, 'unknown source');

-- alter, drop, set_capacity
SELECT lives_ok($$SELECT scaler.alter_policy('x', target => 3, max_capacity => 7, enabled => false)$$, 'alter');
SELECT is((SELECT row(target, max_capacity, enabled, metric)::text FROM scaler.policies WHERE name = 'x'),
          row(3::float8, 7, false, 'rps')::text, 'alter changes only what it is given');
SELECT throws_ok($$SELECT scaler.alter_policy('x', min_capacity => 8)$$, '22023',
                 'max_capacity must not be less than min_capacity', 'alter validates the merged policy');
SELECT throws_ok($$SELECT scaler.alter_policy('x', metric => 'p95_ms')$$, '42703',
                 'source public.only_ts has no column "duration_ms"', 'alter re-checks the source');
SELECT throws_ok($$SELECT scaler.alter_policy('nope', target => 1)$$, '42704',
                 'policy "nope" does not exist', 'alter unknown policy');
SELECT throws_ok($$SELECT scaler.drop_policy('nope')$$, '42704',
                 'policy "nope" does not exist', 'drop unknown policy');
SELECT throws_ok($$SELECT scaler.set_capacity('nope', 1)$$, '42704',
                 'policy "nope" does not exist', 'set_capacity on unknown policy');
SELECT throws_ok($$SELECT * FROM scaler.evaluate('nope')$$, '42704',
                 'policy "nope" does not exist', 'evaluate unknown policy');
SELECT throws_ok($$SELECT scaler.set_capacity('x', -1)$$, '22023',
                 'capacity must not be null or negative', 'negative capacity');
SELECT lives_ok($$SELECT scaler.set_capacity('x', 4)$$, 'set_capacity');
SELECT is((SELECT capacity FROM scaler.policies WHERE name = 'x'), 4, 'the view shows the capacity set');

-- evaluate(): 10 requests of 6 s in the last minute = concurrency 1; target 0.5 -> 2
INSERT INTO scaler.request_log (ts, function_name, duration_ms, status)
SELECT now() - interval '30 seconds' - i * interval '1 second', 'api', 6000, 200
  FROM generate_series(1, 10) i;
-- other functions and older rows are not in the window
INSERT INTO scaler.request_log (ts, function_name, duration_ms, status)
SELECT now() - interval '30 seconds', 'other', 60000, 200 FROM generate_series(1, 50);
INSERT INTO scaler.request_log (ts, function_name, duration_ms, status)
SELECT now() - interval '2 minutes', 'api', 60000, 200 FROM generate_series(1, 50);

-- (only this file's policies count: other suites may have committed their own)
CREATE TEMP TABLE made AS SELECT * FROM scaler.evaluate() WHERE policy IN ('api', 'x', 'all', 'gone');
SELECT is((SELECT row(policy, metric, value, target, from_capacity, to_capacity, reason)::text FROM made),
          row('api', 'concurrency', 1::float8, 0.5::float8, 0, 2, 'target')::text,
          'evaluate() returns the decision: concurrency 1 at target 0.5 -> 2 (disabled policy x skipped)');
SELECT is((SELECT count(*)::int FROM scaler.decision d JOIN made USING (id)), 1, 'and recorded it in scaler.decision');
SELECT is((SELECT row(capacity, last_value, last_decision_id)::text FROM scaler.policies WHERE name = 'api'),
          (SELECT row(2, 1::float8, id)::text FROM made), 'the state follows the decision');
SELECT is((SELECT count(*)::int FROM scaler.evaluate() WHERE policy = 'api'), 0, 'evaluating again decides nothing new');
SELECT is((SELECT to_capacity || ' ' || reason FROM scaler.evaluate('x')), '0 no_traffic',
          'evaluate(name) evaluates a disabled policy too; no rows scale a load policy to zero');

-- a policy over all functions: 60 requests in the minute = 1 rps
SELECT scaler.create_policy('all', 1, metric => 'rps');
SELECT is((SELECT to_capacity FROM scaler.evaluate('all')), 1, 'function_name NULL reads every function');

-- a failing policy fails alone, and keeps its error
CREATE TABLE public.src2 (LIKE scaler.request_log);
SELECT scaler.create_policy('gone', 1, source => 'public.src2');
DROP TABLE public.src2;
SELECT scaler.set_capacity('api', 0);
CREATE TEMP TABLE made2 AS SELECT * FROM scaler.evaluate() WHERE policy IN ('api', 'x', 'all', 'gone');
SELECT is((SELECT string_agg(policy, ',' ORDER BY id) FROM made2), 'api',
          'the other policies still decide when one fails');
SELECT is((SELECT row(failing, last_error)::text FROM scaler.policies WHERE name = 'gone'),
          row(true, 'source of policy "gone" no longer exists')::text,
          'the failure is kept in the policy state and shown by the view');
SELECT is((SELECT failing FROM scaler.policies WHERE name = 'api'), false, 'the healthy policy is not failing');

-- retention: decisions older than scaler.decision_retention (30 days) go,
-- and with them the listeners' acknowledgements of them
INSERT INTO scaler.decision (policy, decided_at, metric, value, target, from_capacity, to_capacity, reason)
VALUES ('old', now() - interval '31 days', 'rps', 1, 1, 0, 1, 'target'),
       ('recent', now() - interval '29 days', 'rps', 1, 1, 0, 1, 'target');
INSERT INTO scaler.subscription (name, channel, low_id, owner, start_id)
VALUES ('ret', 'scaler', 0, current_user::regrole, 0);
INSERT INTO scaler.subscription_ack (subscription, decision_id, policy, outcome)
SELECT 'ret', id, policy, 'done' FROM scaler.decision WHERE policy IN ('old', 'recent');
SELECT * FROM scaler.evaluate();
SELECT is((SELECT string_agg(policy, ',') FROM scaler.decision WHERE policy IN ('old', 'recent')), 'recent',
          'evaluate() deletes decisions past the retention');
SELECT is((SELECT string_agg(policy, ',') FROM scaler.subscription_ack WHERE subscription = 'ret'), 'recent',
          'and the acknowledgements of those decisions, not of the others');

-- drop_policy removes the policy and its state; its decisions stay
SELECT scaler.drop_policy('api');
SELECT is((SELECT count(*)::int FROM scaler.policy_state WHERE policy = 'api'), 0, 'drop removes the state');
SELECT cmp_ok((SELECT count(*)::int FROM scaler.decision WHERE policy = 'api'), '>=', 2,
              'the decisions of a dropped policy stay in the log');

SELECT * FROM finish();
ROLLBACK;
