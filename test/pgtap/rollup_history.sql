-- A rollup is the history of rows the source no longer holds.  When a
-- source's partition is dropped (retention), its days live on in the
-- rollup's slots only; a late row for such a day must add to the slot, not
-- replace the day's history by what is left in the source (0.2 before this
-- test: 100 requests became 1).  Checked here:
--   - after DROP of a day's partition, reads of that day still give its rows;
--   - late rows for that day (into the DEFAULT partition): every read, before
--     and after the refresh, gives the history plus the late rows, for one
--     function, for a function new on that day, for rows without a function
--     and for all functions, also at the edges of the day;
--   - deleting late rows there keeps the history (a WARNING says the deletes
--     are not reflected) instead of recomputing from what is left;
--   - on a day whose rows are all still there, late inserts, updates and
--     deletes read exactly as the raw rows, before and after the refresh;
--   - rows inserted below the watermark with the trigger disabled are taken
--     in when a captured change of their slot makes the refresh read it;
--   - a late row whose duration or status a traffic value cannot hold does
--     not make the writer's INSERT fail;
--   - the worker's upkeep of scaler.request_log moving a late row of a day
--     whose partition retention dropped out of DEFAULT into a new daily
--     partition changes nothing the rollup counts (it counted it twice);
--   - the refresh that puts back a capture trigger of scaler.request_log
--     keeps the days whose partitions retention dropped (it rebuilt every
--     day from the first raw row's on, from the rows, and lost them).
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SET client_min_messages = error;
CREATE EXTENSION IF NOT EXISTS scaler;
SET search_path = scaler, public;
SET TimeZone = 'UTC';
SELECT plan(25);

CREATE TABLE public.rh (ts timestamptz NOT NULL, function_name text, duration_ms float8, status int)
    PARTITION BY RANGE (ts);
CREATE TABLE public.rh_d1 PARTITION OF public.rh FOR VALUES FROM ('2026-11-01 00:00+00') TO ('2026-11-02 00:00+00');
CREATE TABLE public.rh_d2 PARTITION OF public.rh FOR VALUES FROM ('2026-11-02 00:00+00') TO ('2026-11-03 00:00+00');
CREATE TABLE public.rh_rest PARTITION OF public.rh DEFAULT;
-- day 1: 300 rows of a, 200 of b, 100 without a function; day 2 the same
INSERT INTO public.rh
SELECT d + i * interval '97 seconds', (ARRAY['a', 'a', 'a', 'b', 'b', NULL])[1 + i % 6],
       1 + (i % 400), CASE WHEN i % 17 = 0 THEN 503 ELSE 200 END
  FROM unnest(ARRAY['2026-11-01 00:00+00', '2026-11-02 00:00+00']::timestamptz[]) d,
       generate_series(0, 599) i;
INSERT INTO public.rh VALUES ('2026-11-20 10:00+00', 'a', 5, 200);
-- the same rows, without a rollup, to compare with where they are all there
CREATE TABLE public.rh_raw AS SELECT * FROM public.rh;

SELECT scaler.create_rollup('public.rh');
CREATE FUNCTION public.rh_refresh() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..100 LOOP EXIT WHEN scaler.refresh_rollup('public.rh') = 0; END LOOP;
END $$;
SELECT public.rh_refresh();

-- requests of one function (NULL: all) on day 1, or between two times
CREATE FUNCTION public.rh_count(fn text, since timestamptz DEFAULT '2026-11-01 00:00+00',
                                until timestamptz DEFAULT '2026-11-02 00:00+00')
RETURNS numeric LANGUAGE sql AS $$
    SELECT COALESCE(sum(requests), 0) FROM scaler.hourly_requests(since, until, fn, 'public.rh')
$$;
-- the reports of day 2, through the rollup and from the raw copy, as text
CREATE FUNCTION public.rh_day2_same() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    z text;
    fn text;
    a text;
    b text;
BEGIN
    FOREACH z IN ARRAY ARRAY['UTC', 'Asia/Kolkata', 'America/New_York'] LOOP
        PERFORM set_config('TimeZone', z, true);
        FOREACH fn IN ARRAY ARRAY[NULL, 'a', 'b', 'late'] LOOP
            SELECT string_agg(h::text, E'\n' ORDER BY h.hour) INTO a
              FROM scaler.hourly_requests('2026-11-02 03:10+00', '2026-11-03 00:00+00', fn, 'public.rh') h;
            SELECT string_agg(h::text, E'\n' ORDER BY h.hour) INTO b
              FROM scaler.hourly_requests('2026-11-02 03:10+00', '2026-11-03 00:00+00', fn, 'public.rh_raw') h;
            IF a IS DISTINCT FROM b THEN
                PERFORM set_config('TimeZone', 'UTC', true);
                RETURN format('%s %s differ', z, fn);
            END IF;
        END LOOP;
    END LOOP;
    PERFORM set_config('TimeZone', 'UTC', true);
    RETURN 'same';
END $$;

SELECT is(public.rh_count('a'), 300::numeric, 'day 1 through the rollup');

-- retention: day 1's rows are gone from the source, its slots are its history
DROP TABLE public.rh_d1;
SELECT is(public.rh_count('a'), 300::numeric, 'after DROP of its partition, day 1 is read from its slots');

-- late rows for day 1, into the DEFAULT partition
INSERT INTO public.rh VALUES
    ('2026-11-01 12:00:05+00', 'a', 10, 200), ('2026-11-01 12:00:06+00', 'a', 11, 500),
    ('2026-11-01 13:30:00+00', 'new', 3, 200), ('2026-11-01 23:59:59+00', NULL, NULL, NULL);
SELECT is(public.rh_count('a'), 302::numeric, 'late rows: read with the history, before the refresh');
SELECT is(public.rh_count('new'), 1::numeric, 'a function new on that day, before the refresh');
SELECT is(public.rh_count(NULL), 604::numeric, 'all functions, before the refresh');
SELECT is(public.rh_count(NULL, '2026-11-01 11:45+00', '2026-11-01 13:45+00'),
          (SELECT count(*)::numeric + 3 FROM public.rh_raw
            WHERE ts >= '2026-11-01 11:45+00' AND ts < '2026-11-01 13:45+00'),
          'all functions, a range inside the day, before the refresh');
SELECT public.rh_refresh();
SELECT is(public.rh_count('a'), 302::numeric, 'after the refresh, the slot kept its history and got the late rows');
SELECT is(public.rh_count(NULL), 604::numeric, 'all functions, after the refresh');
SELECT is((SELECT invalid_slots FROM scaler.rollups WHERE source = 'public.rh'::regclass), 0::bigint,
          'nothing left to refresh');
SELECT is((SELECT sum(errors) FROM scaler.hourly_requests('2026-11-01 00:00+00', '2026-11-02 00:00+00', 'a', 'public.rh')),
          (SELECT count(*)::numeric + 1 FROM public.rh_raw
            WHERE function_name = 'a' AND ts < '2026-11-02 00:00+00' AND status >= 500),
          'the late error is counted');

-- deleting late rows where the history is not in the source: kept
DELETE FROM public.rh WHERE ts = '2026-11-01 12:00:06+00';
SELECT public.rh_refresh();
SELECT is(public.rh_count('a'), 302::numeric, 'a delete there does not replace the history by what is left');

-- day 2 has all its rows: late inserts, updates and deletes read as raw
CREATE FUNCTION public.rh_change(t regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format($q$INSERT INTO %s VALUES ('2026-11-02 05:00:01+00', 'a', 7.25, 200),
                                          ('2026-11-02 22:10:00+00', 'late', 1, 500)$q$, t);
    EXECUTE format($q$UPDATE %s SET duration_ms = duration_ms + 1000, status = 502
                      WHERE function_name = 'b' AND ts < '2026-11-02 06:00+00'
                        AND ts >= '2026-11-02 00:00+00'$q$, t);
    EXECUTE format($q$DELETE FROM %s WHERE function_name IS NULL
                      AND ts >= '2026-11-02 10:00+00' AND ts < '2026-11-02 12:00+00'$q$, t);
END $$;
SELECT is(public.rh_day2_same(), 'same', 'day 2 before the late changes: rollup and raw the same');
SELECT public.rh_change('public.rh');
SELECT public.rh_change('public.rh_raw');
SELECT is(public.rh_day2_same(), 'same', 'day 2 with late changes, before the refresh: the same');
SELECT public.rh_refresh();
SELECT is(public.rh_day2_same(), 'same', 'day 2 after the refresh: the same');

-- rows added behind the rollup's back are taken in with a captured change
ALTER TABLE public.rh DISABLE TRIGGER scaler_rollup_insert;
INSERT INTO public.rh VALUES ('2026-11-02 07:00:00+00', 'a', 2, 200), ('2026-11-02 07:00:01+00', 'a', 2, 200);
ALTER TABLE public.rh ENABLE TRIGGER scaler_rollup_insert;
INSERT INTO public.rh VALUES ('2026-11-02 08:00:00+00', 'a', 2, 200);
INSERT INTO public.rh_raw VALUES ('2026-11-02 07:00:00+00', 'a', 2, 200), ('2026-11-02 07:00:01+00', 'a', 2, 200),
                                 ('2026-11-02 08:00:00+00', 'a', 2, 200);
SELECT public.rh_refresh();
SELECT is(public.rh_day2_same(), 'same', 'the refresh reads the rows of a slot when they are all there');

-- a value the traffic type cannot hold does not fail the writer
SELECT lives_ok($$INSERT INTO public.rh VALUES ('2026-11-02 09:00:00+00', 'a', -1, 200),
                                               ('2026-11-02 09:00:01+00', 'a', 'NaN', 200),
                                               ('2026-11-02 09:00:02+00', 'a', 1e300, 200)$$,
                'late rows with durations a traffic value cannot hold: the INSERT goes through');
SELECT is((SELECT inserted FROM scaler.rollup_invalid
            WHERE source = 'public.rh'::regclass AND function_name = 'a' AND day = '2026-11-02'),
          3::bigint, 'and they are recorded');
DELETE FROM public.rh WHERE ts >= '2026-11-02 09:00:00+00' AND ts < '2026-11-02 09:00:03+00';
SELECT public.rh_refresh();
SELECT is(public.rh_day2_same(), 'same', 'deleted again, the day reads as raw');

-- scaler.request_log: 100 rows of a day, rolled up, the day's partition
-- dropped (retention), a late row of it in DEFAULT, refreshed: 101.  The
-- upkeep moves the late row into a new partition of the day.
SELECT scaler.create_rollup();
INSERT INTO scaler.request_log (ts, function_name, duration_ms, status)
SELECT '2026-10-01 00:00+00'::timestamptz + i * interval '1 minute', 'api', 10, 200 FROM generate_series(0, 99) i;
SELECT is((SELECT pg_catalog.array_agg(x ORDER BY x) FILTER (WHERE x NOT LIKE 'created %')
             FROM pg_catalog.unnest(scaler._maintain_request_log()) x),
          '{"moved into request_log_p20261001"}', 'the upkeep moves the day''s rows into a partition of its own');
SELECT is((SELECT pg_catalog.count(*) FROM pg_catalog.unnest(scaler._maintain_request_log()) x
            WHERE x NOT LIKE 'created %'), 0::bigint,
          'and then has nothing to move (at midnight UTC it may create a day ahead)');
DO $$ BEGIN FOR i IN 1..50 LOOP EXIT WHEN scaler.refresh_rollup('scaler.request_log') = 0; END LOOP; END $$;
DROP TABLE scaler.request_log_p20261001;
INSERT INTO scaler.request_log VALUES ('2026-10-01 05:00:30+00', 'api', 10, 200);
DO $$ BEGIN FOR i IN 1..50 LOOP EXIT WHEN scaler.refresh_rollup('scaler.request_log') = 0; END LOOP; END $$;
CREATE FUNCTION pg_temp.oct1() RETURNS bigint LANGUAGE sql AS $$
    SELECT sum(requests)::bigint FROM scaler.hourly_requests('2026-10-01 00:00+00', '2026-10-02 00:00+00', 'api')
$$;
SELECT is(pg_temp.oct1(), 101::bigint, 'request_log: the history and the late row');
SELECT scaler._maintain_request_log();
SELECT is(pg_temp.oct1(), 101::bigint, 'the upkeep moving the late row out of DEFAULT changes nothing the rollup counts');
DO $$ BEGIN FOR i IN 1..50 LOOP EXIT WHEN scaler.refresh_rollup('scaler.request_log') = 0; END LOOP; END $$;
SELECT is(pg_temp.oct1(), 101::bigint, 'nor does the refresh after it (it counted the row twice)');

-- a second day, all of its rows gone with its partition; then a capture
-- trigger is disabled (as a restore may leave it) and the refresh repairs it
INSERT INTO scaler.request_log (ts, function_name, duration_ms, status)
SELECT '2026-10-02 00:00+00'::timestamptz + i * interval '1 minute', 'api', 10, 200 FROM generate_series(0, 99) i;
SELECT scaler._maintain_request_log();
DO $$ BEGIN FOR i IN 1..50 LOOP EXIT WHEN scaler.refresh_rollup('scaler.request_log') = 0; END LOOP; END $$;
DROP TABLE scaler.request_log_p20261002;
ALTER TABLE scaler.request_log DISABLE TRIGGER scaler_rollup_insert;
DO $$ BEGIN FOR i IN 1..50 LOOP EXIT WHEN scaler.refresh_rollup('scaler.request_log') = 0; END LOOP; END $$;
SELECT is((SELECT tgenabled::text FROM pg_trigger WHERE tgrelid = 'scaler.request_log'::regclass AND tgname = 'scaler_rollup_insert'),
          'O', 'the refresh puts the capture trigger back');
SELECT is((SELECT string_agg(d || ' ' || n, ', ' ORDER BY d)
             FROM (SELECT date_trunc('day', hour)::date AS d, sum(requests) AS n
                     FROM scaler.hourly_requests('2026-10-01 00:00+00', '2026-10-03 00:00+00', 'api') GROUP BY 1) x),
          '2026-10-01 101, 2026-10-02 100',
          'and keeps the history of both days, whose rows the source no longer has');

SELECT * FROM finish();
ROLLBACK;
