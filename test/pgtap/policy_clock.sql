-- A policy last evaluated more than a minute later than the clock (a
-- clock that ran ahead and was set back; here the test hook's time) is
-- evaluated, with a WARNING, instead of being skipped silently until the
-- clock passes it; a later time that is not later than the clock is a
-- newer run's, and is still skipped.  A decision state with times after
-- the evaluation is reset, not obeyed.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS scaler;
SET client_min_messages = error;
SELECT plan(10);

SELECT scaler.create_policy('clk', 1, metric => 'rps', function_name => 'clk',
                            scale_in_stabilization => '0');
SELECT scaler._evaluate_at('clk', now() + interval '1 day');
SELECT is((SELECT last_evaluated_at FROM scaler.policy_state WHERE policy = 'clk'), now() + interval '1 day',
          'an evaluation a day ahead of the clock');
INSERT INTO scaler.request_log (ts, function_name, duration_ms, status)
SELECT now() - interval '10 seconds', 'clk', 10, 200 FROM generate_series(1, 300);
SELECT is((SELECT to_capacity FROM scaler.evaluate('clk')), 5,
          'the policy is evaluated at the clock''s time all the same');
SELECT ok((SELECT last_evaluated_at BETWEEN now() AND clock_timestamp() FROM scaler.policy_state WHERE policy = 'clk'),
          'and its time is the clock''s again');
CREATE TEMP TABLE last AS SELECT last_evaluated_at AS t FROM scaler.policy_state WHERE policy = 'clk';

-- a run at an earlier time than one before it, both before the clock: the
-- earlier one is stale and skips the policy
SELECT scaler._evaluate_at('clk', now() - interval '1 second');
SELECT is((SELECT last_evaluated_at FROM scaler.policy_state WHERE policy = 'clk'), (SELECT t FROM last),
          'a run earlier than the last one, which the clock has passed, still skips it');

-- A decision state holding times after the evaluation cannot have come
-- from one at or before it: it is reset (with a WARNING), not obeyed.  A
-- panic that would start in an hour would otherwise hold 50 instances.
UPDATE scaler.policy_state
   SET panic_at = now() + interval '1 hour', panic_capacity = 50
 WHERE policy = 'clk';
SELECT is((SELECT count(*) FROM scaler.evaluate('clk')), 0::bigint,
          'a panic_at after the evaluation is not obeyed: no change');
SELECT is((SELECT capacity FROM scaler.policy_state WHERE policy = 'clk'), 5,
          'a panic_at after the evaluation is not obeyed: the capacity stays 5');
SELECT ok((SELECT panic_capacity IS DISTINCT FROM 50 FROM scaler.policy_state WHERE policy = 'clk'),
          'and the state written back is a fresh one');

-- the same for a scale-in history with an entry an hour ahead: kept, it
-- would hold 40 instances for the stabilization window
SELECT scaler.alter_policy('clk', scale_in_stabilization => '10 minutes');
UPDATE scaler.policy_state
   SET panic_at = NULL, panic_capacity = NULL,
       history_at = ARRAY[now() + interval '1 hour'], history_desired = ARRAY[40]
 WHERE policy = 'clk';
SELECT is((SELECT count(*) FROM scaler.evaluate('clk')), 0::bigint,
          'a history entry after the evaluation is not obeyed: no change');
SELECT is((SELECT capacity FROM scaler.policy_state WHERE policy = 'clk'), 5,
          'a history entry after the evaluation is not obeyed: the capacity stays 5');
SELECT ok((SELECT NOT (40 = ANY (history_desired)) FROM scaler.policy_state WHERE policy = 'clk'),
          'and the history written back forgets it');

SELECT * FROM finish();
ROLLBACK;
