-- A report over a rollup adds the rows of a stored quarter without a check
-- per row while the hour's totals are far from the top of int64; near it,
-- row by row with the checks: the exact total, or 22003, never a wrapped
-- count.  The slot is replaced by a value built byte by byte (the format is
-- described in sql/traffic_crafted.sql): in 10:00-10:15 a summary of
-- 2^63 - 10 requests, in 10:15-10:30 n rows.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS scaler;
SET TimeZone = 'UTC';
SELECT plan(5);

CREATE TABLE public.rs (LIKE scaler.request_log);
INSERT INTO public.rs (ts, function_name, duration_ms, status)
VALUES ('2024-03-01 10:20+00', 'f', 5, 200);
SELECT scaler.create_rollup('public.rs');
DO $$ BEGIN FOR i IN 1..20 LOOP EXIT WHEN scaler.refresh_rollup('public.rs') = 0; END LOOP; END $$;

CREATE FUNCTION pg_temp.near_top(nrows int) RETURNS scaler.traffic
LANGUAGE sql AS $$
    WITH q AS (SELECT (extract(epoch FROM timestamptz '2024-03-01 10:00+00'
                                        - timestamptz '2000-01-01 00:00+00') / 900)::bigint AS q)
    SELECT ('traffic:' || translate(encode(decode(
               '00000002' || '00000002'
               || lpad(to_hex(q), 16, '0') || '01' || '0001' || 'f6ffffffffffffff7f' || '00'
               || '00' || '00' || '0000000000000000' || '00' || '00'
               || lpad(to_hex(q + 1), 16, '0') || '00' || lpad(to_hex(nrows), 2, '0')
               || repeat('00', nrows), 'hex'), 'base64'), E'\n', ''))::scaler.traffic
      FROM q
$$;

CREATE FUNCTION pg_temp.report_requests() RETURNS numeric
LANGUAGE sql AS $$
    SELECT sum(requests)::numeric FROM scaler.hourly_requests(
        '2024-03-01 10:00+00', '2024-03-01 11:00+00', 'f', 'public.rs')
$$;

SELECT is(pg_temp.report_requests(), 1::numeric, 'the row is reported through the rollup');
UPDATE scaler.rollup_slot SET traffic = pg_temp.near_top(2)
 WHERE source = 'public.rs'::regclass AND function_name = 'f';
SELECT is(pg_temp.report_requests(), 2::numeric ^ 63 - 8,
          'rows of a quarter after a summary near 2^63: the exact total');
SELECT is((SELECT sum(requests)::numeric FROM scaler.hourly_requests(pg_temp.near_top(2))),
          2::numeric ^ 63 - 8, 'the same as the value''s own report');

UPDATE scaler.rollup_slot SET traffic = pg_temp.near_top(12)
 WHERE source = 'public.rs'::regclass AND function_name = 'f';
SELECT throws_ok($$SELECT pg_temp.report_requests()$$, '22003', NULL,
                 'rows that would carry the hour past 2^63 - 1: out of range');
SELECT throws_ok($$SELECT * FROM scaler.hourly_requests(pg_temp.near_top(12))$$, '22003', NULL,
                 'the same for the value''s own report');

SELECT * FROM finish();
ROLLBACK;
