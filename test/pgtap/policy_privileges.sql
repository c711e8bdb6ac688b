-- Privileges: managing policies is a granted right; a role cannot create a
-- policy over a table it cannot read; a policy reads its source with its
-- owner's privileges (table grants and row-level security), whoever
-- evaluates it; only the owner (or a member of it, or a superuser) changes it.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS scaler;
SET search_path = scaler, public;
SET client_min_messages = error;
SELECT plan(16);

CREATE ROLE scaler_alice;
CREATE ROLE scaler_bob;
GRANT USAGE ON SCHEMA scaler TO scaler_alice, scaler_bob;
CREATE TABLE public.alice_log (ts timestamptz, function_name text, duration_ms float8, status int);
CREATE TABLE public.secret_log (ts timestamptz, function_name text, duration_ms float8, status int);
GRANT SELECT ON public.alice_log TO scaler_alice;

SET ROLE scaler_alice;
SELECT throws_ok($$SELECT scaler.create_policy('a', 1, source => 'public.alice_log')$$, '42501',
                 'permission denied for function create_policy',
                 'a role that was not granted the right cannot create policies');
SELECT throws_ok($$SELECT scaler._create_policy('scaler_alice'::regrole::oid, 'a', 1, 'rps', NULL,
                     'public.alice_log', '1 minute', 0, 10, 0.1, '5 minutes', 2, 'scaler', true, NULL)$$,
                 '42501', 'permission denied for function _create_policy',
                 'nor through the internal function');
RESET ROLE;

GRANT EXECUTE ON FUNCTION scaler.create_policy, scaler.alter_policy, scaler.drop_policy,
    scaler.set_capacity TO scaler_alice, scaler_bob;

SET ROLE scaler_alice;
SELECT throws_ok($$SELECT scaler.create_policy('a', 1, source => 'public.secret_log')$$, '42501',
                 'permission denied for table public.secret_log',
                 'a role cannot create a policy over a table it cannot read');
SELECT lives_ok($$SELECT scaler.create_policy('a', 1, metric => 'rps', source => 'public.alice_log')$$,
                'with the grant and SELECT on the source it can');
SELECT throws_ok($$SELECT scaler.alter_policy('a', source => 'public.secret_log')$$, '42501',
                 'permission denied for table public.secret_log',
                 'nor point its policy at an unreadable table later');
SELECT lives_ok($$SELECT scaler.alter_policy('a', target => 2)$$, 'the owner alters its policy');
SELECT throws_ok($$SELECT * FROM scaler.evaluate()$$, '42501', 'permission denied for function evaluate',
                 'evaluate() needs its own grant');
RESET ROLE;
SELECT is((SELECT owner::text FROM scaler.policies WHERE name = 'a'), 'scaler_alice',
          'the policy is owned by the role that created it (SET ROLE counts)');

SET ROLE scaler_bob;
-- a policy another role may not manage is reported like one that does not
-- exist (scaler._managed_policy, the check of every policy function)
SELECT throws_ok($$SELECT scaler.alter_policy('a', target => 5)$$, '42704',
                 'policy "a" does not exist',
                 'another role cannot alter it');
SELECT throws_ok($$SELECT scaler.set_capacity('a', 5)$$, '42704',
                 'policy "a" does not exist',
                 'nor set its capacity');
SELECT throws_ok($$SELECT scaler.drop_policy('a')$$, '42704',
                 'policy "a" does not exist',
                 'nor drop it');
SELECT throws_ok($$SELECT count(*) FROM scaler.policy$$, '42501', NULL,
                 'the policy table is not writable or readable directly');
RESET ROLE;
GRANT scaler_alice TO scaler_bob;
SET ROLE scaler_bob;
SELECT lives_ok($$SELECT scaler.set_capacity('a', 1)$$, 'a member of the owner role may act for it');
RESET ROLE;

-- the source is read as the owner: row-level security applies to alice
INSERT INTO public.alice_log SELECT now() - interval '10 seconds', f, 100, 200
  FROM unnest(ARRAY['mine', 'theirs']) f, generate_series(1, 60);
ALTER TABLE public.alice_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY only_mine ON public.alice_log TO scaler_alice USING (function_name = 'mine');
SELECT * FROM scaler.evaluate('a');
SELECT is((SELECT last_value FROM scaler.policies WHERE name = 'a'), 1::float8,
          'evaluated by a superuser, the policy sees only the rows its owner may see (60/min = 1 rps)');

-- revoking the owner's SELECT makes the policy fail (recorded), not read as the evaluator
REVOKE SELECT ON public.alice_log FROM scaler_alice;
SELECT is((SELECT count(*)::int FROM scaler.evaluate('a')), 0, 'no decision without the privilege');
SELECT is((SELECT last_error FROM scaler.policies WHERE name = 'a'),
          'permission denied for table alice_log', 'the owner''s missing privilege is the recorded error');

SELECT * FROM finish();
ROLLBACK;
