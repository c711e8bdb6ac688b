-- Issue 9: a rollup lives and dies with the table it was made for.
--   - DROP TABLE of a source deletes its rollup, slots, day values and
--     invalidated slots at once (the event trigger), also when the owner
--     dropping it is no superuser;
--   - should the event trigger not have fired (disabled here), the rollup
--     left behind is not listed, the refresh deletes it, and drop_rollup of
--     it is refused to a role that did not make it;
--   - a table that got the OID of a dropped source (simulated: a rollup row
--     and stale slots pointed at a new table) is read raw, is not adopted
--     by the refresh (no triggers put on it, the stale slots kept unused),
--     and create_rollup on it starts afresh;
--   - ALTER TABLE ... RENAME keeps the rollup working; TRUNCATE of the
--     source empties it; DROP or TRUNCATE of a partition of a partitioned
--     source keeps the parent's rollup and its slots of that partition's
--     days; a table whose four capture triggers were all dropped is read
--     raw, its rollup kept unused by the refresh (as while pg_restore has
--     loaded the rollup but not yet the triggers), and used again once the
--     triggers are back;
--   - DROP EXTENSION refuses while user tables carry capture triggers, and
--     with CASCADE takes them along;
--   - scaler.rollups shows the figures of traffic (watermark, slots, lag,
--     ...) only to a role that may read the source's ts and function_name
--     and that no row-level security restricts there.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS scaler;
SET search_path = scaler, public;
SET TimeZone = 'UTC';
SELECT plan(53);

-- rows of three whole days long ago, of two functions
CREATE FUNCTION public.lc_fill(rel regclass, first timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('INSERT INTO %s (ts, function_name, duration_ms, status)'
                   ' SELECT $1 + i * interval ''97 seconds'', (ARRAY[''a'', ''b''])[1 + i %% 2], i %% 50, 200'
                   ' FROM generate_series(0, 2670) i', rel) USING first;
END $$;
CREATE FUNCTION public.lc_refresh(rel regclass) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..100 LOOP EXIT WHEN scaler.refresh_rollup(rel) = 0; END LOOP;
END $$;
-- hourly_requests of a source, as text
CREATE FUNCTION public.lc_hours(src regclass, fn text, since timestamptz, until timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(string_agg(h::text, E'\n' ORDER BY h.hour), '')
      FROM scaler.hourly_requests(since, until, fn, src) h
$$;
-- what scaler keeps of a relation, in all four tables
CREATE FUNCTION public.lc_kept(rel oid) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT (SELECT count(*) FROM scaler.rollup WHERE source = rel)
         + (SELECT count(*) FROM scaler.rollup_slot WHERE source = rel)
         + (SELECT count(*) FROM scaler.rollup_day WHERE source = rel)
         + (SELECT count(*) FROM scaler.rollup_invalid WHERE source = rel)
$$;
GRANT EXECUTE ON FUNCTION public.lc_hours(regclass, text, timestamptz, timestamptz) TO PUBLIC;
CREATE TEMP TABLE lc_oid (name text PRIMARY KEY, rel oid);
GRANT SELECT ON lc_oid TO PUBLIC;

CREATE ROLE lc_owner;
CREATE ROLE lc_other;
GRANT USAGE ON SCHEMA scaler TO lc_owner, lc_other;
GRANT EXECUTE ON FUNCTION scaler.create_rollup(regclass), scaler.refresh_rollup(regclass),
                          scaler.drop_rollup(regclass) TO lc_owner, lc_other;

-- 1-4: DROP TABLE deletes the rollup with it, also done by a non-superuser
CREATE TABLE public.lc_drop (LIKE scaler.request_log);
SELECT public.lc_fill('public.lc_drop', '2025-06-01 00:00+00');
SELECT scaler.create_rollup('public.lc_drop');
SELECT public.lc_refresh('public.lc_drop');
INSERT INTO public.lc_drop (ts, function_name, duration_ms, status) VALUES ('2025-06-02 12:00+00', 'a', 1, 200);
INSERT INTO lc_oid VALUES ('lc_drop', 'public.lc_drop'::regclass);
SELECT ok(public.lc_kept((SELECT rel FROM lc_oid WHERE name = 'lc_drop')) > 4,
          'a filled rollup with an invalidated slot');
DROP TABLE public.lc_drop;
SELECT is(public.lc_kept((SELECT rel FROM lc_oid WHERE name = 'lc_drop')), 0::bigint,
          'DROP TABLE deletes the rollup, its slots, day values and invalidated slots');

CREATE TABLE public.lc_own (LIKE scaler.request_log);
ALTER TABLE public.lc_own OWNER TO lc_owner;
SET ROLE lc_owner;
SELECT public.lc_fill('public.lc_own', '2025-06-01 00:00+00');
SELECT scaler.create_rollup('public.lc_own');
SELECT public.lc_refresh('public.lc_own');
RESET ROLE;
INSERT INTO lc_oid VALUES ('lc_own', 'public.lc_own'::regclass);
SELECT ok(public.lc_kept((SELECT rel FROM lc_oid WHERE name = 'lc_own')) > 1, 'a rollup made by a non-superuser');
SET ROLE lc_owner;
DROP TABLE public.lc_own;
RESET ROLE;
SELECT is(public.lc_kept((SELECT rel FROM lc_oid WHERE name = 'lc_own')), 0::bigint,
          'its owner (no superuser) dropping the table deletes the rollup too');

-- also in a session in replica mode (the event trigger fires ALWAYS)
CREATE TABLE public.lc_repl (LIKE scaler.request_log);
SELECT public.lc_fill('public.lc_repl', '2025-06-01 00:00+00');
SELECT scaler.create_rollup('public.lc_repl');
SELECT public.lc_refresh('public.lc_repl');
INSERT INTO lc_oid VALUES ('lc_repl', 'public.lc_repl'::regclass);
SET session_replication_role = replica;
DROP TABLE public.lc_repl;
RESET session_replication_role;
SELECT is(public.lc_kept((SELECT rel FROM lc_oid WHERE name = 'lc_repl')), 0::bigint,
          'a source dropped with session_replication_role = replica deletes its rollup too');

-- 5-10: the event trigger did not fire: the rollup left behind
CREATE TABLE public.lc_gone (LIKE scaler.request_log);
ALTER TABLE public.lc_gone OWNER TO lc_owner;
SET ROLE lc_owner;
SELECT public.lc_fill('public.lc_gone', '2025-06-01 00:00+00');
SELECT scaler.create_rollup('public.lc_gone');
SELECT public.lc_refresh('public.lc_gone');
RESET ROLE;
INSERT INTO lc_oid VALUES ('lc_gone', 'public.lc_gone'::regclass);
ALTER EVENT TRIGGER scaler_rollup_drop DISABLE;
DROP TABLE public.lc_gone;
ALTER EVENT TRIGGER scaler_rollup_drop ENABLE ALWAYS;
SELECT ok(public.lc_kept((SELECT rel FROM lc_oid WHERE name = 'lc_gone')) > 1,
          'with the event trigger disabled, the rollup is left behind');
SELECT is((SELECT count(*) FROM scaler.rollups WHERE source::oid = (SELECT rel FROM lc_oid WHERE name = 'lc_gone')),
          0::bigint, 'scaler.rollups does not list it');
SET ROLE lc_other;
SELECT throws_ok(format('SELECT scaler.drop_rollup(%s)', (SELECT rel FROM lc_oid WHERE name = 'lc_gone')),
                 '42501', NULL, 'drop_rollup of it is refused to a role that did not make it');
RESET ROLE;
SET ROLE lc_owner;
SELECT is(scaler.refresh_rollup(), 0, 'a refresh of every rollup of its owner goes through without error');
RESET ROLE;
SELECT is(public.lc_kept((SELECT rel FROM lc_oid WHERE name = 'lc_gone')), 0::bigint,
          'and deletes the rollup of the dropped table');
SELECT is((SELECT count(*) FROM scaler.rollup WHERE last_error IS NOT NULL), 0::bigint,
          'no rollup has an error recorded');

-- 11-19: a table that got the OID of a dropped source.  Simulated: the
-- rollup row, a slot and a day value of the dropped table pointed at a new
-- table with rows from 2025-06-10 on; the stale slot is on 2025-06-01.
CREATE TABLE public.lc_new (LIKE scaler.request_log);
SELECT public.lc_fill('public.lc_new', '2025-06-10 00:00+00');
CREATE TABLE public.lc_new_raw AS SELECT * FROM public.lc_new;
CREATE FUNCTION public.lc_make_stale() RETURNS void LANGUAGE sql AS $$
    INSERT INTO scaler.rollup (source, owner, watermark) VALUES ('public.lc_new', 'lc_other', '2025-06-20 00:00+00');
    INSERT INTO scaler.rollup_slot (source, function_name, day, traffic)
    SELECT 'public.lc_new', 'a', '2025-06-01', scaler.traffic_agg(t, 5, 200)
      FROM generate_series('2025-06-01 00:00+00'::timestamptz, '2025-06-01 23:00+00', interval '1 minute') t;
    INSERT INTO scaler.rollup_day (source, day, traffic)
    SELECT source, day, traffic FROM scaler.rollup_slot WHERE source = 'public.lc_new'::regclass;
$$;
SELECT public.lc_make_stale();
SELECT is(public.lc_hours('public.lc_new', 'a', '2025-05-31', '2025-06-14'),
          public.lc_hours('public.lc_new_raw', 'a', '2025-05-31', '2025-06-14'),
          'a table with the OID of a dropped source is read raw (one function)');
SELECT is(public.lc_hours('public.lc_new', NULL, '2025-05-31', '2025-06-14'),
          public.lc_hours('public.lc_new_raw', NULL, '2025-05-31', '2025-06-14'),
          'and all functions');
SELECT is((SELECT count(*) FROM scaler.rollups WHERE source = 'public.lc_new'::regclass), 0::bigint,
          'scaler.rollups does not list the stale rollup as the new table''s');
SELECT is(scaler.refresh_rollup('public.lc_new'), 0, 'a refresh of it writes nothing');
SELECT is((SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.lc_new'::regclass), 0::bigint,
          'and puts no capture trigger on the new table');
SELECT ok(public.lc_kept('public.lc_new'::regclass) > 1, 'and leaves the stale rollup and its slots alone');
SELECT is((SELECT last_error FROM scaler.rollup WHERE source = 'public.lc_new'::regclass),
          'no capture trigger of the table carries the rollup''s id', 'saying why it is not used');
SELECT is(public.lc_hours('public.lc_new', 'a', '2025-05-31', '2025-06-14'),
          public.lc_hours('public.lc_new_raw', 'a', '2025-05-31', '2025-06-14'),
          'the new table still reads as its rows');
SELECT lives_ok($$SELECT scaler.create_rollup('public.lc_new')$$,
                'create_rollup on a table with a stale rollup replaces it');
SELECT public.lc_refresh('public.lc_new');
SELECT is(public.lc_hours('public.lc_new', NULL, '2025-05-31', '2025-06-14')
          || public.lc_hours('public.lc_new', 'a', '2025-05-31', '2025-06-14'),
          public.lc_hours('public.lc_new_raw', NULL, '2025-05-31', '2025-06-14')
          || public.lc_hours('public.lc_new_raw', 'a', '2025-05-31', '2025-06-14'),
          'and its rollup has none of the stale slots');

-- 20-24: ALTER TABLE ... RENAME (table and schema) keeps the rollup working
CREATE SCHEMA lc_s;
CREATE TABLE lc_s.lc_ren (LIKE scaler.request_log);
SELECT public.lc_fill('lc_s.lc_ren', '2025-06-01 00:00+00');
SELECT scaler.create_rollup('lc_s.lc_ren');
SELECT public.lc_refresh('lc_s.lc_ren');
ALTER TABLE lc_s.lc_ren RENAME TO lc_renamed;
ALTER SCHEMA lc_s RENAME TO lc_s2;
INSERT INTO lc_s2.lc_renamed (ts, function_name, duration_ms, status) VALUES ('2025-06-02 12:00+00', 'a', 1, 503);
SELECT is((SELECT invalid_slots FROM scaler.rollups WHERE source = 'lc_s2.lc_renamed'::regclass), 1::bigint,
          'renamed: scaler.rollups lists it under its new name, a late row captured');
SELECT ok(scaler.refresh_rollup('lc_s2.lc_renamed') > 0, 'the refresh recomputes it');
CREATE TABLE public.lc_ren_raw AS SELECT * FROM lc_s2.lc_renamed;
SELECT is(public.lc_hours('lc_s2.lc_renamed', NULL, '2025-05-31 05:10', '2025-06-04'),
          public.lc_hours('public.lc_ren_raw', NULL, '2025-05-31 05:10', '2025-06-04'),
          'and reads are exact');
SELECT is((SELECT slots FROM scaler.rollups WHERE source = 'lc_s2.lc_renamed'::regclass), 6::bigint,
          'with its slots (2 functions x 3 days)');
SELECT lives_ok($$SELECT scaler.drop_rollup('lc_s2.lc_renamed')$$, 'drop_rollup by the new name');

-- 25-28: TRUNCATE of the source empties the rollup
CREATE TABLE public.lc_trunc (LIKE scaler.request_log);
SELECT public.lc_fill('public.lc_trunc', '2025-06-01 00:00+00');
SELECT scaler.create_rollup('public.lc_trunc');
SELECT public.lc_refresh('public.lc_trunc');
TRUNCATE public.lc_trunc;
SELECT is((SELECT row(watermark, slots, invalid_slots)::text FROM scaler.rollups WHERE source = 'public.lc_trunc'::regclass),
          row(NULL::timestamptz, 0::bigint, 0::bigint)::text,
          'TRUNCATE: no watermark, no slots');
SELECT is((SELECT count(*) FROM scaler.rollup_day WHERE source = 'public.lc_trunc'::regclass), 0::bigint,
          'and no day values');
SELECT public.lc_fill('public.lc_trunc', '2025-06-05 00:00+00');
SELECT public.lc_refresh('public.lc_trunc');
CREATE TABLE public.lc_trunc_raw AS SELECT * FROM public.lc_trunc;
SELECT is(public.lc_hours('public.lc_trunc', NULL, '2025-05-31', '2025-06-09'),
          public.lc_hours('public.lc_trunc_raw', NULL, '2025-05-31', '2025-06-09'),
          'refilled after TRUNCATE, reads are exact (nothing of the truncated rows)');
SELECT is((SELECT slots FROM scaler.rollups WHERE source = 'public.lc_trunc'::regclass), 6::bigint,
          'with the new rows'' slots only');

-- 29-34: DROP and TRUNCATE of a partition of a partitioned source keeps the parent's
-- rollup and the slots of that partition's days (retention's history)
CREATE TABLE public.lc_part (LIKE scaler.request_log) PARTITION BY RANGE (ts);
CREATE TABLE public.lc_part_1 PARTITION OF public.lc_part FOR VALUES FROM ('2025-06-01 00:00+00') TO ('2025-06-02 00:00+00');
CREATE TABLE public.lc_part_2 PARTITION OF public.lc_part FOR VALUES FROM ('2025-06-02 00:00+00') TO ('2025-07-01 00:00+00');
SELECT public.lc_fill('public.lc_part', '2025-06-01 00:00+00');
SELECT scaler.create_rollup('public.lc_part');
SELECT public.lc_refresh('public.lc_part');
CREATE TABLE public.lc_part_raw AS SELECT * FROM public.lc_part;
DROP TABLE public.lc_part_1;
SELECT is((SELECT slots FROM scaler.rollups WHERE source = 'public.lc_part'::regclass), 6::bigint,
          'a partition dropped: the parent''s rollup keeps all its slots');
SELECT is(scaler.refresh_rollup('public.lc_part'), 0, 'and refreshes as before');
SELECT is(public.lc_hours('public.lc_part', 'b', '2025-05-31', '2025-06-04'),
          public.lc_hours('public.lc_part_raw', 'b', '2025-05-31', '2025-06-04'),
          'reads still give the dropped partition''s day from the slots');
TRUNCATE public.lc_part_2;
SELECT is((SELECT slots FROM scaler.rollups WHERE source = 'public.lc_part'::regclass), 6::bigint,
          'TRUNCATE of a partition (not of the source) keeps the slots too');

-- all four capture triggers dropped by the table's owner: the table is no
-- longer taken for the rollup's source
CREATE TABLE public.lc_notrig (LIKE scaler.request_log);
SELECT public.lc_fill('public.lc_notrig', '2025-06-01 00:00+00');
SELECT scaler.create_rollup('public.lc_notrig');
SELECT public.lc_refresh('public.lc_notrig');
CREATE TABLE public.lc_notrig_raw AS SELECT * FROM public.lc_notrig;
CREATE TEMP TABLE lc_trigdefs AS
SELECT pg_get_triggerdef(oid) AS def FROM pg_trigger WHERE tgrelid = 'public.lc_notrig'::regclass;
SELECT public.lc_kept('public.lc_notrig'::regclass) AS kept \gset
DROP TRIGGER scaler_rollup_insert ON public.lc_notrig;
DROP TRIGGER scaler_rollup_update ON public.lc_notrig;
DROP TRIGGER scaler_rollup_delete ON public.lc_notrig;
DROP TRIGGER scaler_rollup_truncate ON public.lc_notrig;
-- a row the slots do not have, added while the triggers are gone
INSERT INTO public.lc_notrig (ts, function_name, duration_ms, status) VALUES ('2025-06-02 12:00+00', 'b', 3, 200);
CREATE TABLE public.lc_notrig_raw2 AS SELECT * FROM public.lc_notrig;
SELECT is(scaler.refresh_rollup('public.lc_notrig'), 0, 'all four triggers dropped: the refresh writes nothing');
SELECT is(public.lc_kept('public.lc_notrig'::regclass), :'kept'::bigint, 'and keeps the rollup, unused');
SELECT is(public.lc_hours('public.lc_notrig', NULL, '2025-05-31', '2025-06-04'),
          public.lc_hours('public.lc_notrig_raw2', NULL, '2025-05-31', '2025-06-04'),
          'the table reads raw meanwhile');
DELETE FROM public.lc_notrig WHERE ts = '2025-06-02 12:00+00' AND duration_ms = 3;
-- the triggers back, as pg_restore creates them (post-data); then a row
-- the triggers do not see (replica mode), so that reads tell the slots
DO $$ DECLARE d text; BEGIN FOR d IN SELECT def FROM lc_trigdefs LOOP EXECUTE d; END LOOP; END $$;
SET session_replication_role = replica;
INSERT INTO public.lc_notrig (ts, function_name, duration_ms, status) VALUES ('2025-06-02 12:00+00', 'b', 3, 200);
RESET session_replication_role;
SELECT is(public.lc_hours('public.lc_notrig', NULL, '2025-05-31', '2025-06-04'),
          public.lc_hours('public.lc_notrig_raw', NULL, '2025-05-31', '2025-06-04'),
          'with its triggers back the rollup is used again, its slots as they were');
SELECT scaler.refresh_rollup('public.lc_notrig');
SELECT is((SELECT last_error FROM scaler.rollup WHERE source = 'public.lc_notrig'::regclass), NULL,
          'and the next refresh clears its error');

-- 35-39: scaler.rollups shows the figures only to who may see the traffic
CREATE ROLE lc_cols;      -- SELECT on ts and function_name only
CREATE ROLE lc_status;    -- SELECT on status only
CREATE ROLE lc_rls;       -- SELECT on the table, restricted by a policy
GRANT USAGE ON SCHEMA scaler TO lc_cols, lc_status, lc_rls;
GRANT SELECT (ts, function_name) ON public.lc_trunc TO lc_cols;
GRANT SELECT (status) ON public.lc_trunc TO lc_status;
GRANT SELECT ON public.lc_trunc TO lc_rls;
CREATE FUNCTION public.lc_figures() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT string_agg(concat_ws(' ', source, nullif(watermark IS NOT NULL, false), covered_from, slots, invalid_slots,
                            nullif(lag IS NOT NULL, false)), ',')
      FROM scaler.rollups WHERE source = 'public.lc_trunc'::regclass
$$;
GRANT EXECUTE ON FUNCTION public.lc_figures() TO PUBLIC;
SELECT is(public.lc_figures(), 'lc_trunc t 6 0 t', 'a superuser sees the figures');
SET ROLE lc_cols;
SELECT is(public.lc_figures(), 'lc_trunc t 6 0 t', 'so does a role with SELECT on just ts and function_name');
RESET ROLE;
SET ROLE lc_status;
SELECT is(public.lc_figures(), NULL, 'a role that may not read ts or function_name does not see the rollup');
RESET ROLE;
ALTER TABLE public.lc_trunc ENABLE ROW LEVEL SECURITY;
CREATE POLICY lc_only_a ON public.lc_trunc TO lc_rls USING (function_name = 'a');
CREATE POLICY lc_all ON public.lc_trunc TO lc_cols USING (true);
SET ROLE lc_rls;
SELECT is(public.lc_figures(), 'lc_trunc', 'a role that row-level security restricts sees the rollup, not its figures');
RESET ROLE;
SET ROLE lc_cols;
SELECT is(public.lc_figures(), 'lc_trunc',
          'nor does any role subject to the source''s row-level security (even with a policy that shows it all)');
RESET ROLE;
ALTER TABLE public.lc_trunc DISABLE ROW LEVEL SECURITY;

-- 40-42: DROP EXTENSION
CREATE TABLE public.lc_ext (LIKE scaler.request_log);
SELECT scaler.create_rollup('public.lc_ext');
SELECT throws_ok('DROP EXTENSION scaler', '2BP01', NULL,
                 'DROP EXTENSION refuses while a user table carries capture triggers');
-- (dropped and put back inside a block that fails on purpose, so that the
-- test's own bookkeeping is not rolled back with it)
CREATE TEMP TABLE lc_ext_drop (outcome text);
DO $$
DECLARE
    outcome text;
BEGIN
    BEGIN
        DROP EXTENSION scaler CASCADE;
        RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE =
            (SELECT count(*) FROM pg_trigger WHERE tgrelid IN ('public.lc_ext'::regclass, 'public.lc_part'::regclass))::text;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS outcome = MESSAGE_TEXT;
        outcome := SQLSTATE || ' ' || outcome;
    END;
    INSERT INTO lc_ext_drop VALUES (outcome);
END $$;
SELECT is((SELECT outcome FROM lc_ext_drop), 'P0001 0',
          'DROP EXTENSION ... CASCADE goes through and takes the capture triggers of user tables with it');
SELECT is((SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.lc_ext'::regclass), 4::bigint,
          '(undone: the triggers are back)');

-- 48-51: a Citus table changes in its workers' shards, where no capture
-- trigger fires: create_rollup refuses one, and a table made one after its
-- rollup is read raw.  (Citus's catalog of its tables is simulated.)
CREATE TABLE public.lc_citus (LIKE scaler.request_log);
SELECT public.lc_fill('public.lc_citus', '2024-03-01 00:00+00');
CREATE TABLE public.lc_citus_made (LIKE scaler.request_log);
CREATE TABLE public.lc_fresh (LIKE scaler.request_log);
SELECT public.lc_fill('public.lc_fresh', '2024-03-01 00:00+00');
SELECT public.lc_fill('public.lc_citus_made', '2024-03-01 00:00+00');
SELECT scaler.create_rollup('public.lc_citus_made');
SELECT public.lc_refresh('public.lc_citus_made');
-- the slots altered by hand, so that a read through them shows
UPDATE scaler.rollup_slot s SET traffic = (SELECT scaler.traffic_agg(t) FROM
       (VALUES (timestamptz '2024-03-01 12:00+00')) v(t))
 WHERE s.source = 'public.lc_citus_made'::regclass AND s.day = '2024-03-02';
SELECT isnt(public.lc_hours('public.lc_citus_made', 'a', '2024-03-01', '2024-03-05'),
            public.lc_hours('public.lc_citus', 'a', '2024-03-01', '2024-03-05'),
            '(the rollup is read: its altered slot shows)');
SET LOCAL allow_system_table_mods = on;
CREATE TABLE pg_catalog.pg_dist_partition (logicalrelid regclass);
RESET allow_system_table_mods;
INSERT INTO pg_catalog.pg_dist_partition VALUES ('public.lc_citus'), ('public.lc_citus_made');
SELECT throws_ok($$SELECT scaler.create_rollup('public.lc_citus')$$, '0A000',
                 'rollup source "public.lc_citus" is a Citus table',
                 'create_rollup refuses a Citus table (0A000)');
SELECT is(public.lc_hours('public.lc_citus_made', 'a', '2024-03-01', '2024-03-05'),
          public.lc_hours('public.lc_citus', 'a', '2024-03-01', '2024-03-05'),
          'a table made a Citus table after its rollup is read raw');
SELECT throws_ok($$SELECT scaler.refresh_rollup('public.lc_citus_made')$$, '0A000',
                 'rollup source "public.lc_citus_made" is a Citus table',
                 'and its refresh says why it cannot go on');
-- 52-53: a refresh of every rollup goes on past it, and records why
SELECT scaler.create_rollup('public.lc_fresh');
SET LOCAL client_min_messages = error;
SELECT lives_ok($$SELECT scaler.refresh_rollup()$$,
                'a refresh of every rollup goes on past one that cannot be refreshed');
SET LOCAL client_min_messages = warning;
SELECT is((SELECT format('%s, %s', r.last_error, s.watermark IS NOT NULL)
             FROM scaler.rollup r, scaler.rollups s
            WHERE r.source = 'public.lc_citus_made'::regclass AND s.source = 'public.lc_fresh'::regclass),
          'rollup source "public.lc_citus_made" is a Citus table, t',
          'the one that failed records why; the others are refreshed');

SELECT * FROM finish();
ROLLBACK;
