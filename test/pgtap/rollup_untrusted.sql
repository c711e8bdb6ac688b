-- What a source's rows and its owner's code can do to a rollup's refresh,
-- which runs as the extension's owner (a superuser), also in the worker:
--   - planning a query on the source runs code the owner wrote (here a
--     partition's CHECK constraint, which constraint exclusion evaluates at
--     every plan): the refresh and the adoption of an attached table run it
--     as the table's owner, never as the extension's, whoever refreshes;
--   - rows with an infinite ts, a duration or a status a traffic value
--     cannot hold do not stop the refresh (an infinite ts once made it loop
--     for ever under the lock every writer waits for): they are counted
--     without what the value cannot hold, infinite ones not at all; nor do
--     they stop the worker's upkeep of scaler.request_log;
--   - a source cannot be a partition or part of an inheritance tree, whose
--     parent's statements would change its rows unseen;
--   - a function name too long for a B-tree entry (one row of one) neither
--     stops the refresh nor fails a late writer: slots are keyed by its
--     hash.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS scaler;
SET TimeZone = 'UTC';
SELECT plan(23);

CREATE ROLE ru_owner;
CREATE SCHEMA ru AUTHORIZATION ru_owner;
GRANT EXECUTE ON FUNCTION scaler.create_rollup(regclass), scaler.refresh_rollup(regclass) TO ru_owner;
SET ROLE ru_owner;
CREATE TABLE ru.seen (who name);
CREATE FUNCTION ru.note() RETURNS void LANGUAGE sql VOLATILE AS $$
    INSERT INTO ru.seen VALUES (current_user)
$$;
-- IMMUTABLE with a constant argument: planning folds it, so it runs then
CREATE FUNCTION ru.spy(t text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    PERFORM ru.note();
    RETURN t;
END $$;
CREATE TABLE ru.log (ts timestamptz NOT NULL, function_name text, duration_ms float8, status int)
    PARTITION BY RANGE (ts);
CREATE TABLE ru.log_d1 PARTITION OF ru.log FOR VALUES FROM ('2025-05-01 00:00+00') TO ('2025-05-02 00:00+00');
CREATE TABLE ru.log_rest PARTITION OF ru.log DEFAULT;
INSERT INTO ru.log SELECT '2025-05-01 00:00+00'::timestamptz + i * interval '5 minutes', 'f', i, 200
  FROM generate_series(0, 99) i;
SELECT scaler.create_rollup('ru.log');
ALTER TABLE ru.log_d1 ADD CONSTRAINT spy CHECK (ru.spy('x') IS NOT NULL);
CREATE PROCEDURE ru.refresh() LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..100 LOOP EXIT WHEN scaler.refresh_rollup('ru.log') = 0; END LOOP;
END $$;
DELETE FROM ru.seen;
CALL ru.refresh();
RESET ROLE;
SELECT ok((SELECT count(*) FROM ru.seen WHERE who = 'ru_owner') > 0,
          'planning the refresh''s reads runs the owner''s CHECK constraint ...');
SELECT is((SELECT count(*) FROM ru.seen WHERE who <> 'ru_owner'), 0::bigint,
          '... as the owner, never as the extension''s owner');

-- a superuser's refresh (the worker's), with a late row to recompute
INSERT INTO ru.log VALUES ('2025-05-01 10:00:30+00', 'f', 1, 200);
DELETE FROM ru.seen;
CALL ru.refresh();
SELECT ok((SELECT count(*) FROM ru.seen WHERE who = 'ru_owner') > 0
          AND (SELECT count(*) FROM ru.seen WHERE who <> 'ru_owner') = 0,
          'a superuser''s refresh runs it as the owner too');

-- ATTACH PARTITION of a table with such a constraint: its rows are read as
-- its owner (constraint exclusion on, so that planning a read of the table
-- alone evaluates its constraint)
SET ROLE ru_owner;
CREATE TABLE ru.log_d0 (LIKE ru.log);
INSERT INTO ru.log_d0 VALUES ('2025-04-30 12:00+00', 'f', 2, 200);
ALTER TABLE ru.log_d0 ADD CONSTRAINT spy CHECK (ru.spy('y') IS NOT NULL);
DELETE FROM ru.seen;
SET constraint_exclusion = on;
ALTER TABLE ru.log ATTACH PARTITION ru.log_d0 FOR VALUES FROM ('2025-04-30 00:00+00') TO ('2025-05-01 00:00+00');
RESET constraint_exclusion;
RESET ROLE;
SELECT ok((SELECT count(*) FROM ru.seen WHERE who = 'ru_owner') > 0
          AND (SELECT count(*) FROM ru.seen WHERE who <> 'ru_owner') = 0,
          'the rows of an attached table are read as its owner');
SELECT is((SELECT sum(requests) FROM scaler.hourly_requests('2025-04-30 00:00+00', '2025-05-02 00:00+00', NULL, 'ru.log')),
          102::numeric, 'and count');

-- statuses of a bigint column beyond int4, read raw: a value keeps whether
-- each is an error, as evaluation counts it
CREATE TABLE public.ru_big (ts timestamptz, function_name text, duration_ms float8, status bigint);
INSERT INTO public.ru_big VALUES
    ('2025-05-01 10:02+00', 'f', 1, 99999999999), ('2025-05-01 10:03+00', 'f', 1, 503),
    ('2025-05-01 10:04+00', 'f', 1, -99999999999), ('2025-05-01 10:05+00', 'f', 1, NULL);
SELECT is((SELECT sum(requests)::bigint || ' ' || sum(errors)::bigint
             FROM scaler.hourly_requests('2025-05-01 00:00+00', '2025-05-02 00:00+00', NULL, 'public.ru_big')),
          '4 2', 'a bigint status beyond int4 read raw: an error if 500 or more, not a failed cast');

-- rows a traffic value cannot hold, or no day has
CREATE TABLE public.ru_bad (ts timestamptz, function_name text, duration_ms float8, status bigint);
INSERT INTO public.ru_bad VALUES
    ('-infinity', 'f', 1, 200), ('infinity', 'f', 1, 200),
    ('2025-05-01 10:00+00', 'f', -5, 200), ('2025-05-01 10:01+00', 'f', 'NaN', 200),
    ('2025-05-01 10:02+00', 'f', 1, 99999999999), ('2025-05-01 10:03+00', 'f', 1, 503);
SELECT scaler.create_rollup('public.ru_bad');
SET LOCAL statement_timeout = '20s';
SELECT lives_ok($q$DO $$ BEGIN FOR i IN 1..100 LOOP EXIT WHEN scaler.refresh_rollup('public.ru_bad') = 0; END LOOP; END $$$q$,
                'a refresh over infinite timestamps, bad durations and statuses finishes');
RESET statement_timeout;
SELECT is((SELECT watermark > now() - interval '1 hour' FROM scaler.rollup WHERE source = 'public.ru_bad'::regclass),
          true, 'and moves the watermark up to now');
SELECT is((SELECT sum(requests)::bigint || ' ' || sum(errors)::bigint
             FROM scaler.hourly_requests('2025-05-01 00:00+00', '2025-05-02 00:00+00', NULL, 'public.ru_bad')),
          '4 2', 'the finite rows count, without the durations the value cannot hold (a status beyond int4 is an error)');
SELECT is((SELECT count(*) FROM scaler.rollup_slot WHERE source = 'public.ru_bad'::regclass), 1::bigint,
          'in the one slot of their day');

-- the worker's upkeep of scaler.request_log moves rows out of DEFAULT into
-- daily partitions: rows no partition name can hold stay there
INSERT INTO scaler.request_log (ts, function_name, duration_ms, status)
VALUES ('-infinity', 'f', 1, 200), ('infinity', 'f', 1, 200), ('20000-01-01 00:00+00', 'f', 1, 200),
       ('2025-01-01 10:00+00', 'f', 1, 200);
SELECT lives_ok($$SELECT scaler._maintain_request_log()$$,
                'the upkeep of scaler.request_log goes on past infinite and far timestamps');
SELECT is((SELECT tableoid::regclass::text FROM scaler.request_log WHERE ts = '2025-01-01 10:00+00'),
          'scaler.request_log_p20250101', 'and moves the rows it can into their day''s partition');
SELECT is((SELECT count(*) FROM ONLY scaler.request_log_default), 3::bigint, 'leaving the others in DEFAULT');
-- the partition's bounds are UTC midnights whatever the caller's DateStyle
-- and TimeZone: under Postgres style, Kolkata's "IST" reads back as Israel's,
-- and the bounds were written 03:30 off (the row at 01:00 then failed the
-- ATTACH, and with it the upkeep of every tick)
INSERT INTO scaler.request_log (ts, function_name, duration_ms, status) VALUES ('2025-01-02 01:00+00', 'f', 1, 200);
SET DateStyle = 'Postgres, MDY';
SET TimeZone = 'Asia/Kolkata';
SELECT lives_ok($$SELECT scaler._maintain_request_log()$$,
                'the upkeep under DateStyle Postgres in Asia/Kolkata');
RESET DateStyle;
SET TimeZone = 'UTC';
SELECT is((SELECT pg_catalog.pg_get_expr(c.relpartbound, c.oid) FROM pg_catalog.pg_class c
            WHERE c.oid = 'scaler.request_log_p20250102'::regclass),
          $$FOR VALUES FROM ('2025-01-02 00:00:00+00') TO ('2025-01-03 00:00:00+00')$$,
          'makes the partition of UTC 2 January 2025');

-- a function name of about 4,800 bytes compressed, past the 2,704 a B-tree
-- entry holds
CREATE TABLE public.ru_names (ts timestamptz NOT NULL, function_name text, duration_ms float8, status int);
CREATE TEMP TABLE long_name AS
SELECT string_agg(md5(i::text), '' ORDER BY i) AS name FROM generate_series(1, 300) i;
INSERT INTO public.ru_names
SELECT '2025-06-01 00:00+00'::timestamptz + i * interval '7 minutes', CASE WHEN i % 3 = 0 THEN 'short' ELSE l.name END, i, 200
  FROM generate_series(0, 599) i, long_name l;
SELECT scaler.create_rollup('public.ru_names');
SELECT lives_ok($q$DO $do$ BEGIN
                    FOR i IN 1..20 LOOP EXIT WHEN scaler.refresh_rollup('public.ru_names') = 0; END LOOP;
                  END $do$$q$,
                'a function name too long for a B-tree entry does not stop the refresh');
SELECT is((SELECT count(*) FROM scaler.rollup_slot s, long_name l
            WHERE s.source = 'public.ru_names'::regclass AND s.function_name = l.name), 3::bigint,
          'and gets its slots, one a day');
SELECT lives_ok($$INSERT INTO public.ru_names SELECT '2025-06-01 10:00+00', name, 1, 500 FROM long_name;
                  INSERT INTO public.ru_names SELECT '2025-06-01 11:00+00', name, 2, 200 FROM long_name$$,
                'rows of it written late, in two statements, are recorded');
SELECT is((SELECT i.inserted FROM scaler.rollup_invalid i, long_name l
            WHERE i.source = 'public.ru_names'::regclass AND i.function_name = l.name), 2::bigint,
          'in one record of their slot');
SELECT is((SELECT string_agg(h::text, ',' ORDER BY h.hour)
             FROM long_name l, scaler.hourly_requests('2025-06-01 00:00+00', '2025-06-04 00:00+00', l.name,
                                                      'public.ru_names') h
            WHERE h.requests > 0),
          (SELECT string_agg(h::text, ',' ORDER BY h.hour)
             FROM (SELECT scaler.traffic_agg(ts, duration_ms, status) AS t FROM public.ru_names, long_name l
                    WHERE function_name = l.name) a,
                  scaler.hourly_requests(a.t) h
            WHERE h.requests > 0),
          'and its hours read from the slots are those of its rows');

-- a source that is a partition, or in an inheritance tree: statements on
-- the parent fire the parent's triggers, so its changes would go unseen
CREATE TABLE public.ru_plain (ts timestamptz NOT NULL, function_name text, duration_ms float8, status int);
SELECT scaler.create_rollup('public.ru_plain');
SELECT throws_ok($$CREATE TABLE public.ru_child () INHERITS (public.ru_plain)$$, '0A000', NULL,
                 'a source cannot get inheritance children');
CREATE TABLE public.ru_parted (LIKE public.ru_plain) PARTITION BY RANGE (ts);
SELECT throws_ok($$ALTER TABLE public.ru_parted ATTACH PARTITION public.ru_plain
                   FOR VALUES FROM ('2020-01-01 00:00+00') TO ('2021-01-01 00:00+00')$$, '42809', NULL,
                 'nor become a partition');
CREATE TABLE public.ru_part PARTITION OF public.ru_parted FOR VALUES FROM ('2021-01-01 00:00+00') TO ('2022-01-01 00:00+00');
SELECT throws_ok($$SELECT scaler.create_rollup('public.ru_part')$$, '42809', NULL,
                 'and a partition cannot get a rollup of its own');

SELECT * FROM finish();
ROLLBACK;
