-- Issue 9: reads through a rollup return exactly what the raw rows give.
-- Two tables hold the same random rows; public.rl has a rollup,
-- public.rl_raw has none.  hourly_requests, hourly_chart and forecast over
-- both must print the same text in UTC, America/New_York (both DST days of
-- 2025), Asia/Kolkata, Asia/Kathmandu and Australia/Lord_Howe (a 30-minute
-- DST shift), for ranges with edges inside days, ranges that reach past the
-- watermark, before and after late inserts, updates and deletes below the
-- watermark, and after the refresh that recomputes them.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS scaler;
SET search_path = scaler, public;
SET TimeZone = 'UTC';
SELECT plan(30);

SELECT setseed(0.42);
CREATE TABLE public.rl (LIKE scaler.request_log);
CREATE INDEX ON public.rl (function_name, ts);
CREATE INDEX ON public.rl (ts);
-- DST days: New York 2025-03-09 and 2025-11-02, Lord Howe 2025-04-06 and
-- 2025-10-05; and the last three days up to now (the tail).
INSERT INTO public.rl (ts, function_name, duration_ms, status)
SELECT d + random() * interval '4 days',
       (ARRAY['busy', 'busy', 'busy', 'quiet', NULL])[1 + floor(random() * 5)::int],
       CASE WHEN random() < 0.1 THEN NULL ELSE round((random() * 900)::numeric, 3)::float8 END,
       CASE WHEN random() < 0.05 THEN 503 WHEN random() < 0.02 THEN NULL ELSE 200 END
  FROM unnest(ARRAY['2025-03-07 00:00+00', '2025-04-04 00:00+00', '2025-10-03 00:00+00',
                    '2025-10-31 00:00+00']::timestamptz[]) d,
       generate_series(1, 6000);
INSERT INTO public.rl (ts, function_name, duration_ms, status)
SELECT now() - random() * interval '3 days',
       (ARRAY['busy', 'busy', 'quiet', NULL])[1 + floor(random() * 4)::int],
       round((random() * 500)::numeric, 3)::float8, 200
  FROM generate_series(1, 8000);
CREATE TABLE public.rl_raw AS SELECT * FROM public.rl;

SELECT lives_ok($$SELECT scaler.create_rollup('public.rl')$$, 'create_rollup');
-- until up to date (bounded steps)
DO $$ BEGIN FOR i IN 1..100 LOOP EXIT WHEN scaler.refresh_rollup('public.rl') = 0; END LOOP; END $$;
SELECT ok((SELECT slots > 0 AND invalid_slots = 0 AND watermark = now() - interval '1 minute'
             FROM scaler.rollups WHERE source = 'public.rl'::regclass),
          'refreshed to now() - 1 minute');

CREATE FUNCTION public.rl_same(zone text, since timestamptz, until timestamptz, fn text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    a text;
    b text;
BEGIN
    PERFORM set_config('timezone', zone, true);
    SELECT string_agg(h::text, E'\n' ORDER BY h.hour) INTO a
      FROM scaler.hourly_requests(since, until, fn, 'public.rl') h;
    SELECT string_agg(h::text, E'\n' ORDER BY h.hour) INTO b
      FROM scaler.hourly_requests(since, until, fn, 'public.rl_raw') h;
    PERFORM set_config('timezone', 'UTC', true);
    IF a IS NOT DISTINCT FROM b AND a IS NOT NULL THEN
        RETURN 'same';
    END IF;
    RETURN format(E'rollup:\n%s\nraw:\n%s', a, b);
END $$;

CREATE FUNCTION public.rl_all_same(label text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    z text;
    r record;
    fn text;
    bad text := '';
    res text;
    checked int := 0;
BEGIN
    FOREACH z IN ARRAY ARRAY['UTC', 'America/New_York', 'Asia/Kolkata', 'Asia/Kathmandu', 'Australia/Lord_Howe'] LOOP
        FOR r IN SELECT * FROM (VALUES
                ('2025-03-07 05:17:31+00'::timestamptz, '2025-03-11 02:44:00+00'::timestamptz),
                ('2025-03-08 00:00+00', '2025-03-10 00:00+00'),
                ('2025-03-08 01:07:13+00', '2025-03-08 22:52:01+00'),
                ('2025-04-06 14:16+00', '2025-04-06 14:29+00'),
                ('2025-10-05 13:45+00', '2025-10-06 00:15+00'),
                ('2025-04-04 10:00+00', '2025-04-08 23:59:59+00'),
                ('2025-10-02 18:00+00', '2025-10-07 01:10+00'),
                ('2025-10-31 03:03+00', '2025-11-04 00:00+00'),
                ('2025-03-01 00:00+00', '2025-11-06 00:00+00'),
                (now() - interval '3 days 7 hours', now() + interval '1 hour'),
                (date_trunc('day', now()) - interval '1 day', now() - interval '30 seconds')) v(since, until) LOOP
            FOREACH fn IN ARRAY ARRAY[NULL, 'busy', 'quiet', 'none'] LOOP
                res := public.rl_same(z, r.since, r.until, fn);
                checked := checked + 1;
                IF res <> 'same' THEN
                    bad := bad || format(E'%s %s %s %s: %s\n', z, r.since, r.until, fn, left(res, 2000));
                END IF;
            END LOOP;
        END LOOP;
    END LOOP;
    RETURN NEXT is(bad, '', label || format(' (%s reports)', checked));
END $$;

SELECT public.rl_all_same('fresh rollup: rollup and raw reports are identical in every zone');

-- The reports really come from the slots: rows deleted behind the
-- rollup's back (its delete trigger disabled) are still counted.
ALTER TABLE public.rl DISABLE TRIGGER scaler_rollup_delete;
DELETE FROM public.rl WHERE ts >= '2025-03-08 00:00+00' AND ts < '2025-03-09 00:00+00';
ALTER TABLE public.rl ENABLE TRIGGER scaler_rollup_delete;
SELECT is((SELECT sum(requests) FROM scaler.hourly_requests('2025-03-08 00:00+00', '2025-03-09 00:00+00', NULL, 'public.rl')),
          (SELECT count(*)::numeric FROM public.rl_raw WHERE ts >= '2025-03-08 00:00+00' AND ts < '2025-03-09 00:00+00'),
          'a whole day inside the range is read from its slots');
SELECT is((SELECT sum(requests) FROM scaler.hourly_requests('2025-03-08 00:00+00', '2025-03-08 23:07+00', NULL, 'public.rl')),
          (SELECT count(*)::numeric FROM public.rl_raw WHERE ts >= '2025-03-08 00:00+00' AND ts < '2025-03-08 23:00+00'),
          'the whole quarter hours of a partial day are read from its slot');
SELECT is((SELECT sum(requests) FROM scaler.hourly_requests('2025-03-08 10:02+00', '2025-03-08 10:13+00', NULL, 'public.rl')),
          0::numeric, 'a part of a quarter hour is read from the rows');
-- Put back behind its back too: the slots hold those rows already, and a
-- captured insert would add them to the slots once more.
ALTER TABLE public.rl DISABLE TRIGGER scaler_rollup_insert;
INSERT INTO public.rl SELECT * FROM public.rl_raw
 WHERE ts >= '2025-03-08 00:00+00' AND ts < '2025-03-09 00:00+00';
ALTER TABLE public.rl ENABLE TRIGGER scaler_rollup_insert;
SELECT is((SELECT invalid_slots FROM scaler.rollups WHERE source = 'public.rl'::regclass), 0::bigint,
          'rows changed with the triggers disabled invalidate no slot');

-- Late inserts, updates and deletes below the watermark, on both tables.
CREATE FUNCTION public.rl_change(t regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format($q$INSERT INTO %s (ts, function_name, duration_ms, status)
        SELECT '2025-03-09 06:00+00'::timestamptz + i * interval '37 seconds', 'busy', i %% 50, 200
          FROM generate_series(1, 300) i$q$, t);
    EXECUTE format($q$INSERT INTO %s (ts, function_name, duration_ms, status)
        VALUES ('2025-10-05 23:59:59.999999+00', 'late', 1.5, 500), ('2025-04-05 15:45:00+00', NULL, NULL, NULL)$q$, t);
    EXECUTE format($q$UPDATE %s SET duration_ms = duration_ms * 2, status = 502
        WHERE function_name = 'quiet' AND ts >= '2025-11-01 00:00+00' AND ts < '2025-11-01 12:00+00'$q$, t);
    EXECUTE format($q$UPDATE %s SET ts = ts + interval '1 day'
        WHERE function_name = 'busy' AND ts >= '2025-04-05 10:00+00' AND ts < '2025-04-05 11:00+00'$q$, t);
    EXECUTE format($q$DELETE FROM %s
        WHERE function_name IS NULL AND ts >= '2025-10-04 00:00+00' AND ts < '2025-10-04 06:00+00'$q$, t);
    -- and in the tail, past the watermark
    EXECUTE format($q$INSERT INTO %s (ts, function_name, duration_ms, status)
        SELECT now() - interval '20 seconds' + i * interval '1 ms', 'busy', 3, 200 FROM generate_series(1, 40) i$q$, t);
END $$;
SELECT public.rl_change('public.rl');
SELECT public.rl_change('public.rl_raw');
-- busy on 03-09, 04-05 and 04-06; late on 10-05; no function on 04-05 and
-- 10-04; quiet on 11-01
SELECT is((SELECT invalid_slots FROM scaler.rollups WHERE source = 'public.rl'::regclass), 7::bigint,
          'late changes invalidate their slots');
SELECT public.rl_all_same('with invalidated slots: identical');

SELECT cmp_ok(scaler.refresh_rollup('public.rl'), '>', 0, 'a refresh recomputes them');
SELECT is((SELECT invalid_slots FROM scaler.rollups WHERE source = 'public.rl'::regclass), 0::bigint,
          'no invalidated slot left');
SELECT public.rl_all_same('recomputed: identical');

-- The slots equal traffic_agg of their rows, bit for bit.
SELECT is((SELECT count(*) FROM scaler.rollup_slot s
            WHERE s.source = 'public.rl'::regclass
              AND s.traffic::text IS DISTINCT FROM
                  (SELECT scaler.traffic_agg(ts, duration_ms, status)::text FROM public.rl r
                    WHERE r.function_name IS NOT DISTINCT FROM s.function_name
                      AND r.ts >= scaler._rollup_day_start(s.day)
                      AND r.ts < LEAST(scaler._rollup_day_start(s.day + 1), now() - interval '1 minute'))),
          0::bigint, 'every slot is traffic_agg of its rows (t::text identical)');
-- and each day's value of all functions is traffic_agg of the day's rows
SELECT is((SELECT count(*) FROM (SELECT DISTINCT day FROM scaler.rollup_slot WHERE source = 'public.rl'::regclass) s
             FULL JOIN (SELECT * FROM scaler.rollup_day WHERE source = 'public.rl'::regclass) d USING (day)
            WHERE d.traffic::text IS DISTINCT FROM
                  (SELECT scaler.traffic_agg(ts, duration_ms, status)::text FROM public.rl r
                    WHERE r.ts >= scaler._rollup_day_start(coalesce(s.day, d.day))
                      AND r.ts < LEAST(scaler._rollup_day_start(coalesce(s.day, d.day) + 1), now() - interval '1 minute'))),
          0::bigint, 'every day''s value of all functions is traffic_agg of its rows, after late changes too');

-- hourly_chart is SQL over hourly_requests
SELECT is((SELECT string_agg(c::text, E'\n') FROM scaler.hourly_chart('2025-03-06 00:00+00', '2025-03-12 00:00+00', 'busy', 'public.rl') c),
          (SELECT string_agg(c::text, E'\n') FROM scaler.hourly_chart('2025-03-06 00:00+00', '2025-03-12 00:00+00', 'busy', 'public.rl_raw') c),
          'hourly_chart: identical');

-- forecast's 14-day lookback reads the rollup as the policy owner
SELECT scaler.create_policy('rl_c', 1, metric => 'concurrency', function_name => 'busy', source => 'public.rl');
SELECT scaler.create_policy('rl_c_raw', 1, metric => 'concurrency', function_name => 'busy', source => 'public.rl_raw');
SELECT scaler.create_policy('rl_r', 1, metric => 'rps', source => 'public.rl');
SELECT scaler.create_policy('rl_r_raw', 1, metric => 'rps', source => 'public.rl_raw');
SELECT scaler.create_policy('rl_e', 0.1, metric => 'error_rate', source => 'public.rl');
SELECT scaler.create_policy('rl_e_raw', 0.1, metric => 'error_rate', source => 'public.rl_raw');
SELECT scaler.create_policy('rl_p', 100, metric => 'p95_ms', function_name => 'busy', source => 'public.rl');
SELECT scaler.create_policy('rl_p_raw', 100, metric => 'p95_ms', function_name => 'busy', source => 'public.rl_raw');
CREATE FUNCTION public.rl_fc(p text, zone text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    out text;
BEGIN
    PERFORM set_config('timezone', zone, true);
    SELECT string_agg(f::text, E'\n') INTO out FROM scaler.forecast(p, '24 hours', '14 days') f;
    PERFORM set_config('timezone', 'UTC', true);
    RETURN out;
END $$;
SELECT is(public.rl_fc('rl_c', 'America/New_York'), public.rl_fc('rl_c_raw', 'America/New_York'), 'forecast concurrency: identical');
SELECT is(public.rl_fc('rl_r', 'Asia/Kathmandu'), public.rl_fc('rl_r_raw', 'Asia/Kathmandu'), 'forecast rps: identical');
SELECT is(public.rl_fc('rl_e', 'Australia/Lord_Howe'), public.rl_fc('rl_e_raw', 'Australia/Lord_Howe'), 'forecast error_rate: identical');
SELECT is(public.rl_fc('rl_p', 'Asia/Kolkata'), public.rl_fc('rl_p_raw', 'Asia/Kolkata'), 'forecast p95_ms: identical');

-- TRUNCATE resets the rollup; it fills again from the rows that come next
TRUNCATE public.rl;
SELECT is((SELECT (watermark IS NULL AND slots = 0)::text FROM scaler.rollups WHERE source = 'public.rl'::regclass),
          'true', 'TRUNCATE resets the rollup');
INSERT INTO public.rl SELECT * FROM public.rl_raw;
DO $$ BEGIN FOR i IN 1..200 LOOP EXIT WHEN scaler.refresh_rollup('public.rl') = 0; END LOOP; END $$;
SELECT public.rl_all_same('refilled after TRUNCATE: identical');

-- drop_rollup: the triggers and slots go, reads are raw
SELECT lives_ok($$SELECT scaler.drop_rollup('public.rl')$$, 'drop_rollup');
SELECT is((SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.rl'::regclass), 0::bigint, 'its triggers are gone');
SELECT is((SELECT count(*) FROM scaler.rollup_slot WHERE source = 'public.rl'::regclass), 0::bigint, 'its slots are gone');
SELECT is(public.rl_same('UTC', '2025-03-07 05:17:31+00', '2025-03-11 02:44:00+00', NULL), 'same', 'raw again: identical');
SELECT throws_ok($$SELECT scaler.refresh_rollup('public.rl')$$, '42704', 'source "public.rl" has no rollup',
                 'refreshing a dropped rollup');

-- Refused sources
CREATE VIEW public.rl_view AS SELECT * FROM public.rl_raw;
SELECT throws_ok($$SELECT scaler.create_rollup('public.rl_view')$$, '42809', NULL, 'a view cannot have a rollup');
ALTER TABLE public.rl_raw ENABLE ROW LEVEL SECURITY;
SELECT throws_ok($$SELECT scaler.create_rollup('public.rl_raw')$$, '0A000',
                 'cannot create a rollup of "public.rl_raw": it has row-level security enabled', 'nor a table with row-level security');
ALTER TABLE public.rl_raw DISABLE ROW LEVEL SECURITY;
CREATE TABLE public.rl_bad (ts timestamptz, function_name char(8), duration_ms float8, status int);
SELECT throws_ok($$SELECT scaler.create_rollup('public.rl_bad')$$, '42804', NULL, 'nor one whose function_name is char(n)');
SELECT scaler.create_rollup('public.rl_raw');
SELECT throws_ok($$SELECT scaler.create_rollup('public.rl_raw')$$, '42710', NULL, 'one rollup per source');

SELECT * FROM finish();
ROLLBACK;
