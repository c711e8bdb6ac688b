-- A partitioned rollup source sees the changes of statements that name its
-- partitions: those fire the partitions' triggers, not the source's.
--   - create_rollup puts insert, update and delete capture triggers on every
--     partition, at any depth (no TRUNCATE trigger: truncating a partition,
--     like dropping it, keeps its days in the slots);
--   - late INSERT, UPDATE and DELETE naming a partition, or a partitioned
--     partition, read exactly as the raw rows, before and after the refresh;
--   - CREATE TABLE ... PARTITION OF gets the triggers (the event trigger
--     scaler_rollup_partitions), and so does a table attached with ATTACH
--     PARTITION, whose rows below the watermark are counted from then on;
--   - DETACH PARTITION takes the triggers off the detached table and keeps
--     its days in the slots; attached again, the table's rows count once
--     (scaler.rollup_partition remembers it until then, or until it is
--     dropped), and so do those of a partitioned table attached with rows
--     in its partitions;
--   - the refresh puts back a trigger a partition lost and recounts the
--     partition's days, so a row written to it meanwhile counts; DDL on
--     such a partition does not count its rows twice.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS scaler;
SET search_path = scaler, public;
SET TimeZone = 'UTC';
SELECT plan(33);

CREATE TABLE public.rp (ts timestamptz NOT NULL, function_name text, duration_ms float8, status int)
    PARTITION BY RANGE (ts);
CREATE TABLE public.rp_d1 PARTITION OF public.rp FOR VALUES FROM ('2026-11-01 00:00+00') TO ('2026-11-02 00:00+00');
-- day 2 is partitioned again, by function
CREATE TABLE public.rp_d2 PARTITION OF public.rp FOR VALUES FROM ('2026-11-02 00:00+00') TO ('2026-11-03 00:00+00')
    PARTITION BY LIST (function_name);
CREATE TABLE public.rp_d2_a PARTITION OF public.rp_d2 FOR VALUES IN ('a');
CREATE TABLE public.rp_d2_rest PARTITION OF public.rp_d2 DEFAULT;
CREATE TABLE public.rp_rest PARTITION OF public.rp DEFAULT;
INSERT INTO public.rp
SELECT d + i * interval '97 seconds', (ARRAY['a', 'a', 'b', NULL])[1 + i % 4], 1 + (i % 300),
       CASE WHEN i % 13 = 0 THEN 500 ELSE 200 END
  FROM unnest(ARRAY['2026-11-01 00:00+00', '2026-11-02 00:00+00']::timestamptz[]) d,
       generate_series(0, 399) i;
CREATE TABLE public.rp_raw AS SELECT * FROM public.rp;

SELECT scaler.create_rollup('public.rp');
CREATE FUNCTION public.rp_refresh() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..100 LOOP EXIT WHEN scaler.refresh_rollup('public.rp') = 0; END LOOP;
END $$;
SELECT public.rp_refresh();

-- the capture triggers of a table: their names, comma-separated
CREATE FUNCTION public.rp_triggers(t regclass) RETURNS text LANGUAGE sql AS $$
    SELECT COALESCE(string_agg(tgname, ',' ORDER BY tgname), '') FROM pg_trigger
     WHERE tgrelid = t AND tgfoid = 'scaler._rollup_capture()'::regprocedure
$$;
-- the reports of days 1 to 3, through the rollup and from the raw copy
CREATE FUNCTION public.rp_same() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    z text;
    fn text;
    a text;
    b text;
BEGIN
    FOREACH z IN ARRAY ARRAY['UTC', 'Asia/Kathmandu'] LOOP
        PERFORM set_config('TimeZone', z, true);
        FOREACH fn IN ARRAY ARRAY[NULL, 'a', 'b', 'c'] LOOP
            SELECT string_agg(h::text, E'\n' ORDER BY h.hour) INTO a
              FROM scaler.hourly_requests('2026-10-30 00:00+00', '2026-11-03 00:00+00', fn, 'public.rp') h;
            SELECT string_agg(h::text, E'\n' ORDER BY h.hour) INTO b
              FROM scaler.hourly_requests('2026-10-30 00:00+00', '2026-11-03 00:00+00', fn, 'public.rp_raw') h;
            IF a IS DISTINCT FROM b THEN
                PERFORM set_config('TimeZone', 'UTC', true);
                RETURN format('%s %s differ', z, fn);
            END IF;
        END LOOP;
    END LOOP;
    PERFORM set_config('TimeZone', 'UTC', true);
    RETURN 'same';
END $$;

SELECT is(public.rp_triggers('public.rp_d1'), 'scaler_rollup_delete,scaler_rollup_insert,scaler_rollup_update',
          'a partition gets insert, update and delete triggers');
SELECT is(public.rp_triggers('public.rp_d2_a'), 'scaler_rollup_delete,scaler_rollup_insert,scaler_rollup_update',
          'so does a partition of a partition');
SELECT is(public.rp_same(), 'same', 'refreshed: rollup and raw the same');

-- late changes that name partitions
CREATE FUNCTION public.rp_change(d1 regclass, d2 regclass, d2a regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format($q$INSERT INTO %s VALUES ('2026-11-01 05:00:01+00', 'a', 7.5, 200),
                                          ('2026-11-01 05:00:02+00', 'c', 1, 503)$q$, d1);
    EXECUTE format($q$UPDATE %s SET status = 502, duration_ms = duration_ms * 3
                      WHERE function_name = 'a' AND ts >= '2026-11-02 00:00+00'
                        AND ts < '2026-11-02 04:00+00'$q$, d2a);
    EXECUTE format($q$DELETE FROM %s WHERE function_name IS NULL AND ts >= '2026-11-02 00:00+00'
                      AND ts < '2026-11-02 06:00+00'$q$, d2);
END $$;
SELECT public.rp_change('public.rp_d1', 'public.rp_d2', 'public.rp_d2_a');
SELECT public.rp_change('public.rp_raw', 'public.rp_raw', 'public.rp_raw');
SELECT is((SELECT invalid_slots FROM scaler.rollups WHERE source = 'public.rp'::regclass), 4::bigint,
          'the changes invalidate their slots: a and c on day 1, a and none on day 2');
SELECT is(public.rp_same(), 'same', 'changes naming partitions: the same before the refresh');
SELECT public.rp_refresh();
SELECT is(public.rp_same(), 'same', 'and after it');

-- a new partition, and a table attached with rows of its own
CREATE TABLE public.rp_d0 PARTITION OF public.rp FOR VALUES FROM ('2026-10-31 00:00+00') TO ('2026-11-01 00:00+00');
SELECT is(public.rp_triggers('public.rp_d0'), 'scaler_rollup_delete,scaler_rollup_insert,scaler_rollup_update',
          'CREATE TABLE ... PARTITION OF gets the triggers');
INSERT INTO public.rp_d0 VALUES ('2026-10-31 10:00+00', 'a', 4, 200);
INSERT INTO public.rp_raw VALUES ('2026-10-31 10:00+00', 'a', 4, 200);
CREATE TABLE public.rp_old (LIKE public.rp);
INSERT INTO public.rp_old VALUES ('2026-10-30 08:00+00', 'a', 3, 200), ('2026-10-30 08:30+00', 'b', 9, 500),
                                 ('2026-10-30 09:00+00', NULL, NULL, NULL);
INSERT INTO public.rp_raw SELECT * FROM public.rp_old;
ALTER TABLE public.rp ATTACH PARTITION public.rp_old FOR VALUES FROM ('2026-10-30 00:00+00') TO ('2026-10-31 00:00+00');
SELECT is(public.rp_triggers('public.rp_old'), 'scaler_rollup_delete,scaler_rollup_insert,scaler_rollup_update',
          'ATTACH PARTITION gets the triggers');
SELECT is(public.rp_same(), 'same', 'the rows of the new and the attached partition count, before the refresh');
SELECT public.rp_refresh();
SELECT is(public.rp_same(), 'same', 'and after it');

-- DETACH: the triggers go, the days stay in the slots
ALTER TABLE public.rp DETACH PARTITION public.rp_old;
SELECT is(public.rp_triggers('public.rp_old'), '', 'DETACH PARTITION takes the triggers off');
SELECT is((SELECT sum(requests) FROM scaler.hourly_requests('2026-10-30 00:00+00', '2026-10-31 00:00+00', NULL, 'public.rp')),
          3::numeric, 'the detached days stay in the slots');
INSERT INTO public.rp_old VALUES ('2026-10-30 10:00+00', 'a', 3, 200);
SELECT is((SELECT invalid_slots FROM scaler.rollups WHERE source = 'public.rp'::regclass), 0::bigint,
          'rows written to the detached table are not the source''s');

-- a partition that lost a trigger: a late row written to it meanwhile goes
-- unseen until the refresh puts the trigger back and recounts the
-- partition's days
DROP TRIGGER scaler_rollup_insert ON public.rp_d1;
INSERT INTO public.rp_d1 VALUES ('2026-11-01 07:00+00', 'b', 2, 200);
INSERT INTO public.rp_raw VALUES ('2026-11-01 07:00+00', 'b', 2, 200);
SELECT public.rp_refresh();
SELECT is(public.rp_triggers('public.rp_d1'), 'scaler_rollup_delete,scaler_rollup_insert,scaler_rollup_update',
          'the refresh puts a partition''s triggers back');
SELECT is(public.rp_same(), 'same', 'and recounts its days: the unseen row counts, the others once');

-- DDL on a partition that has a trigger disabled neither counts its rows
-- again nor takes the trigger back (a restore may disable triggers while it
-- loads); the refresh does
ALTER TABLE public.rp_d1 DISABLE TRIGGER scaler_rollup_update;
ALTER TABLE public.rp_d1 ALTER COLUMN status SET STATISTICS 200;
SELECT is(public.rp_same(), 'same', 'DDL on a partition with a disabled trigger counts its rows once');
SELECT public.rp_refresh();
SELECT is((SELECT tgenabled::text FROM pg_trigger WHERE tgrelid = 'public.rp_d1'::regclass AND tgname = 'scaler_rollup_update'),
          'O', 'the refresh enables it again');
SELECT is(public.rp_same(), 'same', 'and the rows still count once');

-- An ALTER TABLE that rewrites the rows (here a data fix through ALTER
-- COLUMN ... TYPE of the same type) would change them unseen: refused on a
-- partition and on the source, which keep their rows; a table without a
-- rollup is rewritten as ever.
SELECT throws_ok($$ALTER TABLE public.rp ALTER COLUMN status TYPE int USING 503$$, '0A000',
                 NULL, 'a rewrite of the partitions of a rollup''s source is refused');
SELECT throws_ok($$ALTER TABLE public.rp ALTER COLUMN duration_ms TYPE numeric USING duration_ms * 2$$, '0A000',
                 NULL, 'also to a type a source may have');
SELECT is(public.rp_same(), 'same', 'and the rows stay as the rollup counts them');
SELECT lives_ok($$ALTER TABLE public.rp_raw ALTER COLUMN status TYPE int USING status$$,
                'a table without a rollup is rewritten');

-- ATTACH again of the detached table, which got a row while away: its rows
-- are in the slots already, and are recounted rather than added again
SELECT is((SELECT count(*) FROM scaler.rollup_partition WHERE NOT attached AND source = 'public.rp'::regclass AND relid = 'public.rp_old'::regclass),
          1::bigint, 'the detached table is remembered');
INSERT INTO public.rp_raw VALUES ('2026-10-30 10:00+00', 'a', 3, 200);
ALTER TABLE public.rp ATTACH PARTITION public.rp_old FOR VALUES FROM ('2026-10-30 00:00+00') TO ('2026-10-31 00:00+00');
SELECT is(public.rp_same(), 'same', 'a table attached again counts once, with what changed while it was away');
SELECT is((SELECT count(*) FROM scaler.rollup_partition WHERE NOT attached AND source = 'public.rp'::regclass), 0::bigint,
          'and is no longer remembered as detached');
SELECT public.rp_refresh();
SELECT is(public.rp_same(), 'same', 'also after the refresh');

-- a partitioned table attached with rows in its partitions: each row once
CREATE TABLE public.rp_d29 (LIKE public.rp) PARTITION BY LIST (function_name);
CREATE TABLE public.rp_d29_a PARTITION OF public.rp_d29 FOR VALUES IN ('a');
CREATE TABLE public.rp_d29_rest PARTITION OF public.rp_d29 DEFAULT;
INSERT INTO public.rp_d29 SELECT '2026-10-29 00:00+00'::timestamptz + i * interval '7 minutes',
                                 (ARRAY['a', 'b', NULL])[1 + i % 3], i % 50, 200
                            FROM generate_series(0, 99) i;
INSERT INTO public.rp_raw SELECT * FROM public.rp_d29;
ALTER TABLE public.rp ATTACH PARTITION public.rp_d29 FOR VALUES FROM ('2026-10-29 00:00+00') TO ('2026-10-30 00:00+00');
SELECT is(public.rp_same(), 'same', 'the rows of an attached partitioned table count once each');
SELECT public.rp_refresh();
SELECT is(public.rp_same(), 'same', 'also after the refresh');

-- a detached table that is dropped will not come back
ALTER TABLE public.rp DETACH PARTITION public.rp_d29;
SELECT is((SELECT count(*) FROM scaler.rollup_partition WHERE NOT attached AND source = 'public.rp'::regclass), 3::bigint,
          'DETACH of a partitioned partition remembers it and its partitions');
DROP TABLE public.rp_d29;
SELECT is((SELECT count(*) FROM scaler.rollup_partition WHERE NOT attached AND source = 'public.rp'::regclass), 0::bigint,
          'DROP TABLE of a detached table forgets it');

-- TRUNCATE of a partition keeps its days (retention)
TRUNCATE public.rp_d1;
SELECT is((SELECT sum(requests) FROM scaler.hourly_requests('2026-11-01 00:00+00', '2026-11-02 00:00+00', NULL, 'public.rp')),
          (SELECT count(*)::numeric FROM public.rp_raw WHERE ts >= '2026-11-01 00:00+00' AND ts < '2026-11-02 00:00+00'),
          'TRUNCATE of a partition keeps its days in the slots');

-- TRUNCATE of the source empties the rollup: a table detached before
-- brings rows the slots no longer count
ALTER TABLE public.rp DETACH PARTITION public.rp_old;
TRUNCATE public.rp;
SELECT is((SELECT count(*) FROM scaler.rollup_partition WHERE NOT attached AND source = 'public.rp'::regclass), 0::bigint,
          'TRUNCATE of the source forgets its detached tables');

-- drop_rollup takes the partitions' triggers too (else DROP EXTENSION
-- would still be refused), quietly
SELECT scaler.drop_rollup('public.rp');
SELECT is((SELECT count(*) FROM pg_trigger g, pg_partition_tree('public.rp') p
            WHERE g.tgrelid = p.relid AND g.tgfoid = 'scaler._rollup_capture()'::regprocedure),
          0::bigint, 'drop_rollup takes the capture triggers off every partition');

SELECT * FROM finish();
ROLLBACK;
