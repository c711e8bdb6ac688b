-- A policy last evaluated more than a minute later than the clock (a
-- clock that ran ahead and was set back; here the test hook's time) is
-- evaluated, with a WARNING, instead of being skipped silently until the
-- clock passes it; a later time that is not later than the clock is a
-- newer run's, and is still skipped.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS scaler;
SET client_min_messages = error;
SELECT plan(4);

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

SELECT * FROM finish();
ROLLBACK;
