-- A backend keeps a window plan per source it reads (src/evaluate.c); a
-- run over every policy frees those of sources no policy reads any more
-- (a dropped policy, one moved to another source), so that the worker,
-- which evaluates for months while policies come and go, does not keep a
-- plan of every source it ever read.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS scaler;
SET search_path = scaler, public;
SET client_min_messages = warning;
SELECT plan(4);

CREATE TABLE public.wp_a (LIKE scaler.request_log);
CREATE TABLE public.wp_b (LIKE scaler.request_log);
CREATE TABLE public.wp_c (LIKE scaler.request_log);
SELECT scaler.create_policy('wp_' || t, 1, function_name => 'f', source => ('public.wp_' || t)::regclass)
  FROM unnest(ARRAY['a', 'b', 'c']) t;
SELECT scaler._window_plans() AS before \gset

SELECT count(*) FROM scaler.evaluate();
SELECT is(scaler._window_plans() - :before, 3::bigint, 'a run over three policies of three sources keeps three plans');

SELECT scaler.drop_policy('wp_a');
SELECT scaler.alter_policy('wp_b', source => 'public.wp_c');
SELECT count(*) FROM scaler.evaluate();
SELECT is(scaler._window_plans() - :before, 1::bigint,
          'after one policy is dropped and another moved to the third source, the next run keeps one');

SELECT count(*) FROM scaler.evaluate('wp_b');
SELECT is(scaler._window_plans() - :before, 1::bigint, 'evaluating one policy adds none it has');

SELECT scaler.alter_policy('wp_c', enabled => false);
SELECT scaler.alter_policy('wp_b', enabled => false);
SELECT count(*) FROM scaler.evaluate();
SELECT is(scaler._window_plans(), 0::bigint, 'with no policy enabled, none is kept');

SELECT * FROM finish();
ROLLBACK;
