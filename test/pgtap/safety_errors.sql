-- Issue 8.12: a role that may not manage a policy learns from the errors
-- of backtest, forecast, floors and schedules neither whether the policy
-- exists nor who owns it: "policy exists, owned by another role" and
-- "no such policy" give the same SQLSTATE, message, detail and hint.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_cron;
CREATE EXTENSION IF NOT EXISTS scaler;
SET search_path = scaler, public;
SET TimeZone = 'UTC';
SELECT plan(12);

CREATE ROLE scaler_se_owner;
CREATE ROLE scaler_se_other;
GRANT USAGE ON SCHEMA scaler TO scaler_se_owner, scaler_se_other;
GRANT EXECUTE ON FUNCTION scaler.open_floor, scaler.apply_forecast, scaler.schedule_capacity,
    scaler.unschedule_capacity, scaler.schedule_forecast, scaler.unschedule_forecast
    TO scaler_se_other;
CREATE TABLE public.se_log (LIKE scaler.request_log);
GRANT SELECT ON public.se_log TO scaler_se_owner;
GRANT EXECUTE ON FUNCTION scaler.create_policy TO scaler_se_owner;
SET ROLE scaler_se_owner;
SELECT scaler.create_policy('secret', 1, metric => 'rps', source => 'public.se_log');
RESET ROLE;

-- the whole error as a role sees it
CREATE FUNCTION pg_temp.err(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text; msg text; det text; hint text;
BEGIN
    EXECUTE sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL,
                            hint = PG_EXCEPTION_HINT;
    RETURN concat_ws(' | ', st, msg, nullif(det, ''), nullif(hint, ''));
END
$$;
-- the same call on the foreign policy and on a missing one, the name
-- being the only difference
CREATE FUNCTION pg_temp.same(call text, description text) RETURNS text LANGUAGE sql AS $$
    SELECT is(replace(pg_temp.err(format(call, quote_literal('secret'))), 'secret', 'X'),
              replace(pg_temp.err(format(call, quote_literal('absent'))), 'absent', 'X'), description)
$$;

SET ROLE scaler_se_other;
SELECT is(pg_temp.err($$SELECT * FROM scaler.forecast('secret')$$),
          '42704 | policy "secret" does not exist | Only a superuser or a role that can act as the policy''s owner may replay or forecast it.',
          'forecast of a foreign policy: "does not exist", naming no owner');
SELECT pg_temp.same('SELECT * FROM scaler.forecast(%s)', 'forecast: foreign and missing policies look the same');
SELECT pg_temp.same($$SELECT * FROM scaler.backtest(%s, now() - interval '1 hour', now())$$, 'backtest: the same');
SELECT pg_temp.same($$SELECT * FROM scaler.backtest_summary(%s, now() - interval '1 hour', now())$$, 'backtest_summary: the same');
SELECT pg_temp.same($$SELECT scaler.open_floor(%s, 1, '1 hour')$$, 'open_floor: the same');
SELECT pg_temp.same($$SELECT scaler.apply_forecast(%s)$$, 'apply_forecast: the same');
SELECT pg_temp.same($$SELECT scaler.schedule_capacity(%s, '0 9 * * *', 1, '1 hour')$$, 'schedule_capacity: the same');
SELECT pg_temp.same($$SELECT scaler.unschedule_capacity(%s)$$, 'unschedule_capacity: the same');
SELECT pg_temp.same($$SELECT scaler.schedule_forecast(%s)$$, 'schedule_forecast: the same');
SELECT pg_temp.same($$SELECT scaler.unschedule_forecast(%s)$$, 'unschedule_forecast: the same');
SELECT unalike(pg_temp.err($$SELECT scaler.open_floor('secret', 1, '1 hour')$$), '%scaler_se_owner%',
              'no error names the owner');
RESET ROLE;

SELECT is(pg_temp.err($$SELECT * FROM scaler.forecast('absent')$$),
          '42704 | policy "absent" does not exist', 'a superuser gets the plain message');

SELECT * FROM finish();
ROLLBACK;
