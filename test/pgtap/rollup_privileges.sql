-- Issue 9: a rollup never shows a reader more than the raw rows would.
-- public.rp has a rollup; public.rp_raw holds the same rows and none.
--   - a role with SELECT on just the columns a read needs gets exactly the
--     raw answer (and the rollup is used for it);
--   - a role missing one of those columns, and a role without SELECT, get
--     42501;
--   - row-level security switched on AFTER the rollup was made: readers get
--     exactly the rows the policies let them see (hourly_requests and a
--     policy's forecast), and the rollup is not used even by a role that
--     bypasses the policies (shown with slots made stale on purpose);
--   - capture triggers disabled: readers leave the rollup alone; a refresh
--     puts the triggers back and rebuilds, after which reads agree again;
--   - a foreign table partition, which the extension's owner would read
--     with its own user mapping, is refused unread.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS scaler;
SET search_path = scaler, public;
SET TimeZone = 'UTC';
SELECT plan(36);

CREATE TABLE public.rp (LIKE scaler.request_log);
ALTER TABLE public.rp ADD COLUMN secret text;
-- five whole days long ago, and the last four days (a forecast's lookback)
INSERT INTO public.rp (ts, function_name, duration_ms, status, secret)
SELECT t, f, (i % 97) * 3.5, CASE WHEN i % 13 = 0 THEN 500 ELSE 200 END, 'x'
  FROM generate_series(1, 3000) i,
       LATERAL (VALUES ('2025-05-01 00:00+00'::timestamptz + (i * interval '143 seconds')),
                       (now() - interval '2 minutes' - (i * interval '113 seconds'))) v(t),
       unnest(ARRAY['visible', 'hidden']) f;
CREATE TABLE public.rp_raw AS SELECT * FROM public.rp;
CREATE TABLE public.rp_visible AS SELECT * FROM public.rp WHERE function_name = 'visible';

SELECT scaler.create_rollup('public.rp');
DO $$ BEGIN FOR i IN 1..100 LOOP EXIT WHEN scaler.refresh_rollup('public.rp') = 0; END LOOP; END $$;

CREATE ROLE rp_columns;     -- SELECT on ts, function_name, duration_ms, status
CREATE ROLE rp_some;        -- SELECT on ts and function_name only
CREATE ROLE rp_nothing;     -- no SELECT
GRANT USAGE ON SCHEMA scaler TO rp_columns, rp_some, rp_nothing;
GRANT SELECT (ts, function_name, duration_ms, status) ON public.rp TO rp_columns;
GRANT SELECT (ts, function_name) ON public.rp TO rp_some;
GRANT SELECT ON public.rp_raw, public.rp_visible TO rp_columns;

-- hourly_requests of a source over a range with edges inside days, as text
CREATE FUNCTION public.rp_hours(src regclass, fn text, since timestamptz DEFAULT '2025-05-01 03:17+00',
                                 until timestamptz DEFAULT '2025-05-05 20:00+00') RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(string_agg(h::text, E'\n' ORDER BY h.hour), '')
      FROM scaler.hourly_requests(since, until, fn, src) h
$$;
GRANT EXECUTE ON FUNCTION public.rp_hours(regclass, text, timestamptz, timestamptz) TO PUBLIC;

-- Make the slots of public.rp stale on purpose: rows of 2025-05-02 deleted
-- without the capture trigger firing (replica mode), kept aside to put back.
CREATE FUNCTION public.rp_make_stale() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    SET LOCAL session_replication_role = replica;
    CREATE TEMP TABLE rp_aside ON COMMIT DROP AS
        SELECT * FROM public.rp WHERE ts >= '2025-05-02 00:00+00' AND ts < '2025-05-03 00:00+00';
    DELETE FROM public.rp WHERE ts >= '2025-05-02 00:00+00' AND ts < '2025-05-03 00:00+00';
    SET LOCAL session_replication_role = origin;
END $$;
CREATE FUNCTION public.rp_make_fresh() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    SET LOCAL session_replication_role = replica;
    INSERT INTO public.rp SELECT * FROM rp_aside;
    DROP TABLE rp_aside;
    SET LOCAL session_replication_role = origin;
END $$;

-- 1-2: column-level SELECT on the columns a read needs is enough, and exact
SET ROLE rp_columns;
SELECT is(public.rp_hours('public.rp', NULL), public.rp_hours('public.rp_raw', NULL),
          'column SELECT on ts, function_name, duration_ms, status: all functions read exactly as raw');
SELECT is(public.rp_hours('public.rp', 'hidden'), public.rp_hours('public.rp_raw', 'hidden'),
          'and one function');
RESET ROLE;

-- 3: and the rollup served it: with the slots made stale, the reader still
-- gets the rows as they were
SELECT public.rp_make_stale();
SET ROLE rp_columns;
SELECT is(public.rp_hours('public.rp', 'visible'), public.rp_hours('public.rp_raw', 'visible'),
          'the rollup is used for that reader (stale slots show through)');
RESET ROLE;
SELECT public.rp_make_fresh();

-- 4-7: missing a column, or the table: 42501, no answer
SET ROLE rp_some;
SELECT throws_ok($$SELECT public.rp_hours('public.rp', NULL)$$, '42501', NULL,
                 'SELECT on ts and function_name only: permission denied (all functions)');
SELECT throws_ok($$SELECT public.rp_hours('public.rp', 'visible')$$, '42501', NULL,
                 'and for one function');
RESET ROLE;
SET ROLE rp_nothing;
SELECT throws_ok($$SELECT public.rp_hours('public.rp', NULL)$$, '42501', NULL,
                 'no SELECT: permission denied (all functions)');
SELECT throws_ok($$SELECT public.rp_hours('public.rp', 'visible')$$, '42501', NULL,
                 'and for one function');
RESET ROLE;

-- SELECT on a table in a schema the reader has no USAGE on: the raw rows
-- are refused (42501), so the slots must be too (the table named by OID,
-- which looks up no schema; the range covered by the slots)
CREATE SCHEMA rp_closed;
CREATE TABLE rp_closed.log AS SELECT * FROM public.rp_raw;
SELECT scaler.create_rollup('rp_closed.log');
DO $$ BEGIN FOR i IN 1..100 LOOP EXIT WHEN scaler.refresh_rollup('rp_closed.log') = 0; END LOOP; END $$;
GRANT SELECT ON rp_closed.log TO rp_columns;
CREATE TEMP TABLE rp_closed_oid AS SELECT 'rp_closed.log'::regclass::oid AS rel;
GRANT SELECT ON rp_closed_oid TO rp_columns;
-- (whole days: quarters the slots cover, no raw edge)
CREATE FUNCTION public.rp_whole_days(src regclass, fn text) RETURNS text
LANGUAGE sql STABLE AS $$ SELECT public.rp_hours(src, fn, '2025-05-01 00:00+00', '2025-05-05 00:00+00') $$;
GRANT EXECUTE ON FUNCTION public.rp_whole_days(regclass, text) TO PUBLIC;
SET ROLE rp_columns;
SELECT throws_ok(format('SELECT public.rp_whole_days(%s::oid::regclass, NULL)', (SELECT rel FROM rp_closed_oid)),
                 '42501', NULL, 'no USAGE on the source''s schema: permission denied, also where slots cover the range');
SELECT throws_ok(format('SELECT public.rp_whole_days(%s::oid::regclass, ''visible'')', (SELECT rel FROM rp_closed_oid)),
                 '42501', NULL, 'and for one function');
RESET ROLE;
SELECT is(public.rp_whole_days((SELECT rel FROM rp_closed_oid)::regclass, NULL), public.rp_whole_days('public.rp_raw', NULL),
          'a role with USAGE reads it exactly');

-- Row-level security switched on after the rollup was made and filled.
ALTER TABLE public.rp ENABLE ROW LEVEL SECURITY;
CREATE POLICY rp_only_visible ON public.rp TO rp_columns USING (function_name = 'visible');

-- 8-10: the reader sees exactly the rows the policy lets it see
SET ROLE rp_columns;
SELECT is(public.rp_hours('public.rp', NULL), public.rp_hours('public.rp_visible', NULL),
          'RLS on: all functions are the visible rows only, as raw');
SELECT is(public.rp_hours('public.rp', 'visible'), public.rp_hours('public.rp_visible', 'visible'),
          'RLS on: the visible function as raw');
SELECT is(public.rp_hours('public.rp', 'hidden'), public.rp_hours('public.rp_visible', 'hidden'),
          'RLS on: the hidden function has no rows for this reader');
RESET ROLE;

-- 11-13: the rollup path is refused, not merely filtered: with stale slots
-- a superuser (who bypasses the policies) and the reader both get the rows
-- as they are now
SELECT public.rp_make_stale();
CREATE TABLE public.rp_now AS SELECT * FROM public.rp;
GRANT SELECT ON public.rp_now TO rp_columns;
SELECT is(public.rp_hours('public.rp', 'visible'), public.rp_hours('public.rp_now', 'visible'),
          'RLS on: a superuser reads the rows, not the slots');
SELECT isnt(public.rp_hours('public.rp', 'visible'), public.rp_hours('public.rp_raw', 'visible'),
            'RLS on: (the slots would have given the deleted rows)');
SET ROLE rp_columns;
SELECT is(public.rp_hours('public.rp', NULL), public.rp_hours('public.rp_now', 'visible'),
          'RLS on: the reader reads the visible rows as they are now');
RESET ROLE;
SELECT public.rp_make_fresh();

-- 14: a policy owned by the reader forecasts from the rows it may see
GRANT EXECUTE ON FUNCTION scaler.create_policy TO rp_columns;
SET ROLE rp_columns;
SELECT scaler.create_policy('rp_fc', 1, metric => 'rps', source => 'public.rp');
SELECT scaler.create_policy('rp_fc_visible', 1, metric => 'rps', source => 'public.rp_visible');
RESET ROLE;
SELECT is((SELECT string_agg(f::text, E'\n' ORDER BY f.hour) FROM scaler.forecast('rp_fc', '12 hours', '3 days') f),
          (SELECT string_agg(f::text, E'\n' ORDER BY f.hour) FROM scaler.forecast('rp_fc_visible', '12 hours', '3 days') f
            WHERE f.expected > 0),
          'RLS on: the forecast of a policy over the source reads only the rows its owner may see');

-- 15-16: the refresh works with RLS on (it reads every row), and the
-- rollup is right once RLS is off again
INSERT INTO public.rp (ts, function_name, duration_ms, status)
VALUES ('2025-05-03 10:00+00', 'hidden', 1, 200), ('2025-05-03 10:00+00', 'visible', 2, 500);
INSERT INTO public.rp_raw (ts, function_name, duration_ms, status)
VALUES ('2025-05-03 10:00+00', 'hidden', 1, 200), ('2025-05-03 10:00+00', 'visible', 2, 500);
SELECT lives_ok($q$DO $d$ BEGIN FOR i IN 1..100 LOOP EXIT WHEN scaler.refresh_rollup('public.rp') = 0; END LOOP; END $d$$q$,
                'refresh_rollup with RLS on recomputes the late rows'' slots');
ALTER TABLE public.rp DISABLE ROW LEVEL SECURITY;
SET ROLE rp_columns;
SELECT is(public.rp_hours('public.rp', NULL), public.rp_hours('public.rp_raw', NULL),
          'RLS off again: all functions as raw');
RESET ROLE;

-- 17-20: a disabled capture trigger keeps readers off the rollup; a refresh
-- puts the triggers back and rebuilds
SELECT public.rp_make_stale();
CREATE TABLE public.rp_now2 AS SELECT * FROM public.rp;
ALTER TABLE public.rp DISABLE TRIGGER scaler_rollup_delete;
SELECT is(public.rp_hours('public.rp', NULL), public.rp_hours('public.rp_now2', NULL),
          'a capture trigger disabled: the rows are read, not the slots');
SELECT ok(scaler.refresh_rollup('public.rp') > 0, 'the refresh rebuilds');
SELECT is((SELECT count(*)::int FROM pg_trigger WHERE tgrelid = 'public.rp'::regclass
             AND tgname LIKE 'scaler\_rollup\_%' AND tgenabled = 'O'), 4,
          'and puts the four triggers back, enabled');
DO $$ BEGIN FOR i IN 1..100 LOOP EXIT WHEN scaler.refresh_rollup('public.rp') = 0; END LOOP; END $$;
SELECT is(public.rp_hours('public.rp', NULL), public.rp_hours('public.rp_now2', NULL),
          'after the rebuild the rollup gives the rows as they are');

-- 21-22
SET ROLE rp_nothing;
SELECT is((SELECT count(*)::int FROM scaler.rollups WHERE source = 'public.rp'::regclass), 0,
          'scaler.rollups does not show the rollup to a role that cannot read the source');
RESET ROLE;
CREATE TABLE public.rp_rls (LIKE scaler.request_log);
ALTER TABLE public.rp_rls ENABLE ROW LEVEL SECURITY;
SELECT throws_ok($$SELECT scaler.create_rollup('public.rp_rls')$$, '0A000', NULL,
                 'no rollup of a table with row-level security');

-- The capture trigger's query runs as the extension's owner, under the
-- writer's search_path: a writer's own operators (an exact match of the
-- argument types wins over pg_catalog's wherever it stands in the path)
-- must not be what it calls.
CREATE TABLE public.rpw (LIKE scaler.request_log);
INSERT INTO public.rpw (ts, function_name, duration_ms, status) VALUES ('2025-05-01 10:00+00', 'f', 1, 200);
SELECT scaler.create_rollup('public.rpw');
DO $$ BEGIN FOR i IN 1..100 LOOP EXIT WHEN scaler.refresh_rollup('public.rpw') = 0; END LOOP; END $$;
CREATE ROLE rp_writer;
CREATE SCHEMA rp_evil AUTHORIZATION rp_writer;
GRANT INSERT ON public.rpw TO rp_writer;
SET ROLE rp_writer;
CREATE FUNCTION rp_evil.trap(float8, integer) RETURNS boolean LANGUAGE plpgsql
    AS $$ BEGIN RAISE EXCEPTION 'rp_evil called as %', current_user; END $$;
CREATE FUNCTION rp_evil.trap(integer, bigint) RETURNS boolean LANGUAGE plpgsql
    AS $$ BEGIN RAISE EXCEPTION 'rp_evil called as %', current_user; END $$;
CREATE FUNCTION rp_evil.trap(bigint) RETURNS bigint LANGUAGE plpgsql
    AS $$ BEGIN RAISE EXCEPTION 'rp_evil called as %', current_user; END $$;
CREATE OPERATOR rp_evil.>= (LEFTARG = float8, RIGHTARG = integer, FUNCTION = rp_evil.trap);
CREATE OPERATOR rp_evil.>= (LEFTARG = integer, RIGHTARG = bigint, FUNCTION = rp_evil.trap);
CREATE OPERATOR rp_evil.- (RIGHTARG = bigint, FUNCTION = rp_evil.trap);
SET search_path = pg_catalog, public, rp_evil;
SELECT lives_ok($$INSERT INTO public.rpw (ts, function_name, duration_ms, status)
                  VALUES ('2025-05-01 11:00+00', 'f', 2, 200)$$,
                'the capture trigger does not call a writer''s operators');
RESET search_path;
RESET ROLE;
SELECT is((SELECT inserted FROM scaler.rollup_invalid WHERE source = 'public.rpw'::regclass), 1::bigint,
          'and the late row is recorded');
-- the owner's data fix by a rewrite would change every row unseen
SELECT throws_ok($$ALTER TABLE public.rpw ALTER COLUMN ts TYPE timestamptz USING ts - interval '1 day'$$, '0A000',
                 'cannot rewrite table public.rpw, which a rollup counts the rows of',
                 'a rewrite of a rollup''s source is refused');

-- The owner of a source with a rollup changes a column to a type of their
-- own with an implicit cast to float8: neither the capture trigger nor the
-- refresh, which read the rows as the extension's owner, may call it.
CREATE ROLE rp_owner;
CREATE SCHEMA rp_own AUTHORIZATION rp_owner;
GRANT EXECUTE ON FUNCTION scaler.create_rollup(regclass), scaler.refresh_rollup(regclass) TO rp_owner;
SET ROLE rp_owner;
CREATE TABLE rp_own.log (ts timestamptz NOT NULL, function_name text, duration_ms float8, status int);
INSERT INTO rp_own.log (ts, function_name, duration_ms, status) VALUES ('2025-05-01 10:00+00', 'f', 1, 200);
SELECT scaler.create_rollup('rp_own.log');
DO $$ BEGIN FOR i IN 1..100 LOOP EXIT WHEN scaler.refresh_rollup('rp_own.log') = 0; END LOOP; END $$;
-- a late row, whose slot the refresh is to recompute from the rows
INSERT INTO rp_own.log (ts, function_name, duration_ms, status) VALUES ('2025-05-01 10:30+00', 'f', 1, 200);
CREATE TYPE rp_own.ms AS (v float8);
CREATE FUNCTION rp_own.ms_float8(rp_own.ms) RETURNS float8 LANGUAGE plpgsql
    AS $$ BEGIN RAISE EXCEPTION 'rp_own called as %', current_user; END $$;
CREATE CAST (rp_own.ms AS float8) WITH FUNCTION rp_own.ms_float8(rp_own.ms) AS IMPLICIT;
SELECT throws_ok($$ALTER TABLE rp_own.log ALTER COLUMN duration_ms TYPE rp_own.ms USING ROW(duration_ms)::rp_own.ms$$,
                 '42804', NULL, 'the change of the column''s type is refused (the event trigger)');
-- made while the event trigger was off, the checks behind it hold
RESET ROLE;
ALTER EVENT TRIGGER scaler_rollup_partitions DISABLE;
ALTER EVENT TRIGGER scaler_rollup_rewrite DISABLE;
SET ROLE rp_owner;
ALTER TABLE rp_own.log ALTER COLUMN duration_ms TYPE rp_own.ms USING ROW(duration_ms)::rp_own.ms;
RESET ROLE;
ALTER EVENT TRIGGER scaler_rollup_partitions ENABLE ALWAYS;
ALTER EVENT TRIGGER scaler_rollup_rewrite ENABLE ALWAYS;
SET ROLE rp_owner;
SELECT throws_ok($$INSERT INTO rp_own.log (ts, function_name, duration_ms, status)
                   VALUES ('2025-05-01 11:00+00', 'f', ROW(2)::rp_own.ms, 200)$$,
                 '42804', NULL, 'a late row: the trigger refuses the column''s new type');
SELECT throws_ok($$SELECT scaler.refresh_rollup('rp_own.log')$$,
                 '42804', NULL, 'so does the refresh, with a slot to recompute');
RESET ROLE;
SELECT throws_ok($$SELECT scaler.refresh_rollup('rp_own.log')$$,
                 '42804', NULL, 'also a superuser''s');
SELECT is((SELECT invalid_slots FROM scaler.rollups WHERE source = 'rp_own.log'::regclass), 1::bigint,
          'the slot is still to recompute');

-- A partition that is a foreign table would be read as the extension's
-- owner, connecting with that role's user mapping: refused before anything
-- is read (the server has no listener: a read would fail with 08001).
CREATE EXTENSION IF NOT EXISTS postgres_fdw;
CREATE SERVER rp_remote FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '/nonexistent', port '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER rp_remote;
CREATE ROLE rp_fdw;
GRANT USAGE ON FOREIGN SERVER rp_remote TO rp_fdw;
GRANT CREATE ON SCHEMA public TO rp_fdw;
GRANT EXECUTE ON FUNCTION scaler.create_rollup(regclass), scaler.refresh_rollup(regclass) TO rp_fdw;
SET ROLE rp_fdw;
CREATE TABLE public.rpf (ts timestamptz NOT NULL, function_name text, duration_ms float8, status int)
    PARTITION BY RANGE (ts);
CREATE TABLE public.rpf_d1 PARTITION OF public.rpf FOR VALUES FROM ('2025-05-01 00:00+00') TO ('2025-05-02 00:00+00');
INSERT INTO public.rpf VALUES ('2025-05-01 10:00+00', 'f', 1, 200);
SELECT scaler.create_rollup('public.rpf');
DO $$ BEGIN FOR i IN 1..100 LOOP EXIT WHEN scaler.refresh_rollup('public.rpf') = 0; END LOOP; END $$;
SELECT throws_ok($$CREATE FOREIGN TABLE public.rpf_d0 PARTITION OF public.rpf
                   FOR VALUES FROM ('2025-04-30 00:00+00') TO ('2025-05-01 00:00+00') SERVER rp_remote$$,
                 '42809', NULL, 'CREATE FOREIGN TABLE ... PARTITION OF a rollup''s source is refused');
CREATE FOREIGN TABLE public.rpf_far (ts timestamptz NOT NULL, function_name text, duration_ms float8, status int)
    SERVER rp_remote;
SELECT throws_ok($$ALTER TABLE public.rpf ATTACH PARTITION public.rpf_far
                   FOR VALUES FROM ('2025-04-30 00:00+00') TO ('2025-05-01 00:00+00')$$,
                 '42809', NULL, 'so is ATTACH PARTITION of a foreign table, unread');
RESET ROLE;
-- attached while the event trigger was off: the refresh refuses the source
ALTER EVENT TRIGGER scaler_rollup_partitions DISABLE;
ALTER TABLE public.rpf ATTACH PARTITION public.rpf_far FOR VALUES FROM ('2025-04-30 00:00+00') TO ('2025-05-01 00:00+00');
ALTER EVENT TRIGGER scaler_rollup_partitions ENABLE ALWAYS;
SET ROLE rp_fdw;
SELECT throws_ok($$SELECT scaler.refresh_rollup('public.rpf')$$,
                 '42809', NULL, 'and the refresh refuses a source with a foreign partition');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
