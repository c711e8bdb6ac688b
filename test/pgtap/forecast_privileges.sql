-- Privileges of backtest, forecast and floors: writing floors or schedules
-- is a granted right (EXECUTE) and, like reading a replay or a forecast,
-- needs the right to manage the policy; a replay reads the source as the
-- policy owner, whoever calls it.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS scaler;
SET search_path = scaler, public;
SET client_min_messages = warning;
SET TimeZone = 'UTC';
SELECT plan(9);

CREATE ROLE scaler_fc_owner;
CREATE ROLE scaler_fc_other;
GRANT USAGE ON SCHEMA scaler TO scaler_fc_owner, scaler_fc_other;
CREATE TABLE public.fc_log (LIKE scaler.request_log);
GRANT SELECT ON public.fc_log TO scaler_fc_owner;
GRANT EXECUTE ON FUNCTION scaler.create_policy TO scaler_fc_owner;
INSERT INTO public.fc_log (ts, function_name, duration_ms, status)
SELECT '2026-01-05 00:00:30+00'::timestamptz + m * interval '1 minute', 'f', 60000, 200
  FROM generate_series(0, 9) m, generate_series(1, 2);

SET ROLE scaler_fc_owner;
SELECT scaler.create_policy('owned', 1, function_name => 'f', source => 'public.fc_log');
SELECT is((SELECT max(capacity) FROM scaler.backtest('owned', '2026-01-05 00:00+00', '2026-01-05 00:10+00')), 2,
          'the owner may replay its policy');
SELECT throws_ok($$SELECT scaler.open_floor('owned', 3, '1 hour')$$, '42501',
                 'permission denied for function open_floor', 'writing floors needs the granted right');
RESET ROLE;
GRANT EXECUTE ON FUNCTION scaler.open_floor, scaler.apply_forecast TO scaler_fc_owner, scaler_fc_other;

SET ROLE scaler_fc_owner;
SELECT lives_ok($$SELECT scaler.open_floor('owned', 3, '1 hour')$$, 'granted, the owner may open a floor');
RESET ROLE;

SET ROLE scaler_fc_other;
SELECT throws_ok($$SELECT * FROM scaler.backtest('owned', '2026-01-05 00:00+00', '2026-01-05 00:10+00')$$,
                 '42704', 'policy "owned" does not exist',
                 'another role may not replay it (and is not told that it exists)');
SELECT throws_ok($$SELECT * FROM scaler.forecast('owned')$$, '42704', NULL, 'nor forecast it');
SELECT throws_ok($$SELECT scaler.open_floor('owned', 3, '1 hour')$$, '42704',
                 'policy "owned" does not exist',
                 'nor open floors, even with EXECUTE');
SELECT throws_ok($$SELECT scaler.apply_forecast('owned')$$, '42704', NULL, 'nor apply forecasts');
SELECT throws_ok($$SELECT scaler._policy_settings(0, 'owned', '{}')$$, '42501',
                 'permission denied for function _policy_settings', 'the internals are not callable');
RESET ROLE;

-- the replay reads as the owner: revoking the owner's SELECT breaks it for everyone
REVOKE SELECT ON public.fc_log FROM scaler_fc_owner;
SELECT throws_ok($$SELECT * FROM scaler.backtest('owned', '2026-01-05 00:00+00', '2026-01-05 00:10+00')$$,
                 '42501', NULL, 'a superuser''s replay still reads with the owner''s privileges');

SELECT * FROM finish();
ROLLBACK;
