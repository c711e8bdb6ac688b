-- Issue 8.11: policy names are letters, digits, "_", "." and "-", never
-- starting with "-" (and not "." or ".."), so that $SCALER_POLICY in a
-- shell command can be neither an option nor a path step; invalid names
-- are refused with 22023 naming the field.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS scaler;
SET search_path = scaler, public;
SET client_min_messages = warning;
SELECT plan(16);

CREATE FUNCTION pg_temp.refused(name text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM scaler.create_policy(name, 1);
    RETURN 'created';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ' ' || SQLERRM;
END
$$;

SELECT is(pg_temp.refused('--all'), '22023 invalid policy name "--all"', 'an option-like name is refused');
SELECT is(pg_temp.refused('-n'), '22023 invalid policy name "-n"', 'any name starting with "-"');
SELECT is(pg_temp.refused('a b'), '22023 invalid policy name "a b"', 'a space');
SELECT is(pg_temp.refused('a;rm -rf /'), '22023 invalid policy name "a;rm -rf /"', 'shell metacharacters');
SELECT is(pg_temp.refused('$(id)'), '22023 invalid policy name "$(id)"', 'command substitution');
SELECT is(pg_temp.refused('x/y'), '22023 invalid policy name "x/y"', 'a slash');
SELECT is(pg_temp.refused(E'a\nb'), E'22023 invalid policy name "a\nb"', 'a newline');
SELECT is(pg_temp.refused('..'), '22023 invalid policy name ".."', '".." (a path step)');
SELECT is(pg_temp.refused('.'), '22023 invalid policy name "."', '"."');
SELECT is(pg_temp.refused('café'), '22023 invalid policy name "café"', 'non-ASCII letters');
SELECT is(pg_temp.refused(''), '22023 policy name must be 1 to 63 bytes long', 'empty names keep their own message');
SELECT is(pg_temp.refused('api-v2.prod_1'), 'created', 'letters, digits, "-", "." and "_" are fine');
SELECT is(pg_temp.refused('0'), 'created', 'a name may start with a digit');
SELECT is(pg_temp.refused('_x.-'), 'created', 'or with "_", and end with "-"');
SELECT is(pg_temp.refused(repeat('a', 63)), 'created', '63 bytes');

-- a name the check would refuse, as a 0.1 database may have it, still works
INSERT INTO scaler.policy (name, owner, metric, target, source, stable_window, min_capacity,
                           max_capacity, tolerance, scale_in_stabilization, panic_threshold, channel)
VALUES ('--old', current_user::regrole, 'rps', 1, 'scaler.request_log', '1 minute', 0, 10, 0.1, '5 minutes', 2, 'scaler');
INSERT INTO scaler.policy_state (policy, capacity) VALUES ('--old', 0);
SELECT lives_ok($$SELECT scaler.alter_policy('--old', target => 2); SELECT scaler.evaluate('--old'); SELECT scaler.drop_policy('--old')$$,
                'an existing policy with such a name can still be altered, evaluated and dropped');

SELECT * FROM finish();
ROLLBACK;
