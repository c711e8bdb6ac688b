-- A policy's source is read as its owner, whoever evaluates the policy.
-- The owner's code (a function a view of theirs calls) may change settings
-- with set_config(..., false); those changes must end with the read, not
-- follow the caller: a search_path left for a superuser's next query made
-- the owner a superuser, and default_transaction_read_only left in the
-- worker stopped every policy's evaluation.  Checked for evaluate(),
-- backtest_summary() and forecast(), and that the owner's code runs with
-- search_path = pg_catalog, pg_temp.  Nor may the owner's code evaluate
-- policies itself: inside the outer run that decided every later policy
-- twice.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS scaler;
SET client_min_messages = warning;
SET TimeZone = 'UTC';
SELECT plan(9);

CREATE ROLE so_owner;
CREATE SCHEMA so_owner AUTHORIZATION so_owner;
GRANT EXECUTE ON FUNCTION scaler.create_policy(text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean, text)
   TO so_owner;
SET ROLE so_owner;
CREATE TABLE so_owner.log (ts timestamptz, function_name text, duration_ms float8, status int);
INSERT INTO so_owner.log
SELECT now() - i * interval '10 minutes', 'f', 10, 200 FROM generate_series(1, 300) i;
-- what the owner's code saw, kept in sequences: the read's subtransaction
-- is rolled back (evaluate.c), and a sequence's advance is not
CREATE SEQUENCE so_owner.safe_path;
CREATE SEQUENCE so_owner.other_path;
-- leaves settings behind, and counts the calls that found search_path
-- pg_catalog, pg_temp (the first of each read) and the others
CREATE FUNCTION so_owner.meddle(t timestamptz) RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN
    IF pg_catalog.current_setting('search_path') = 'pg_catalog, pg_temp' THEN
        PERFORM pg_catalog.nextval('so_owner.safe_path');
    ELSE
        PERFORM pg_catalog.nextval('so_owner.other_path');
    END IF;
    PERFORM pg_catalog.set_config('search_path', 'so_owner, pg_catalog, public', false);
    PERFORM pg_catalog.set_config('work_mem', '64kB', false);
    RETURN t;
END $$;
CREATE VIEW so_owner.src AS
    SELECT so_owner.meddle(ts) AS ts, function_name, duration_ms, status FROM so_owner.log;
SELECT scaler.create_policy('so_pol', 1, metric => 'rps', source => 'so_owner.src');
RESET ROLE;

SET search_path = public, pg_catalog;
SET work_mem = '4MB';
SELECT lives_ok($$SELECT count(*) FROM scaler.evaluate('so_pol')$$, 'a superuser evaluates the policy');
SELECT is(current_setting('search_path') || ' ' || current_setting('work_mem'), 'public, pg_catalog 4MB',
          'and keeps its own search_path and work_mem');
SELECT is((SELECT last_value FROM so_owner.safe_path WHERE is_called), 1::bigint,
          'the owner''s code ran with search_path = pg_catalog, pg_temp (its first call: it changes it for the next)');
SET search_path = public, pg_catalog;
SET work_mem = '4MB';
SELECT lives_ok($$SELECT * FROM scaler.backtest_summary('so_pol', now() - interval '1 hour', now())$$,
                'a superuser replays it');
SELECT is(current_setting('search_path') || ' ' || current_setting('work_mem'), 'public, pg_catalog 4MB',
          'backtest_summary leaves the settings too');
SET search_path = public, pg_catalog;
SET work_mem = '4MB';
SELECT lives_ok($$SELECT * FROM scaler.forecast('so_pol')$$, 'a superuser forecasts it');
SELECT is(current_setting('search_path') || ' ' || current_setting('work_mem'), 'public, pg_catalog 4MB',
          'and so does forecast');

-- a source that evaluates policies itself
SET ROLE so_owner;
CREATE OR REPLACE FUNCTION so_owner.meddle(t timestamptz) RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN
    PERFORM * FROM scaler.evaluate();
    RETURN t;
END $$;
RESET ROLE;
GRANT EXECUTE ON FUNCTION scaler.evaluate(text) TO so_owner;
SELECT scaler.create_policy('so_victim', 1, metric => 'rps', function_name => 'v',
                            scale_in_stabilization => '0');
INSERT INTO scaler.request_log (ts, function_name, duration_ms, status)
SELECT now() - interval '10 seconds', 'v', 10, 200 FROM generate_series(1, 300);
SELECT count(*) FROM scaler.evaluate();
SELECT is((SELECT count(*) FROM scaler.decision WHERE policy = 'so_victim'), 1::bigint,
          'a policy whose source evaluates policies: the others are decided once');
SELECT is((SELECT last_error FROM scaler.policies WHERE name = 'so_pol'),
          'scaler policies cannot be evaluated while they are being evaluated',
          'and that policy fails, saying why');

SELECT * FROM finish();
ROLLBACK;
