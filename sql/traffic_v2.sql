-- scaler.traffic v2: cost follows traffic, exact sums, checked arithmetic,
-- bounded work.
SET timezone = 'UTC';

-- Two rows a week apart, and two rows 160 years apart, cost well under 1 KB
-- on disk, in binary and in text; the report of the week has every hour.
CREATE TABLE far AS
SELECT 'week' AS name, scaler.traffic_agg(ts, 12.5, 200) AS t
FROM (VALUES (timestamptz '2026-01-01 10:00+00'), ('2026-01-08 10:00+00')) v(ts)
UNION ALL
SELECT '160 years', scaler.traffic_agg(ts, 12.5, 503)
FROM (VALUES (timestamptz '1866-01-01 10:00+00'), ('2026-01-01 10:00+00')) v(ts);
SELECT name, pg_column_size(t) < 1024 AS disk_under_1kb,
       length(scaler.traffic_send(t)) < 1024 AS binary_under_1kb,
       length(t::text) < 1024 AS text_under_1kb
FROM far ORDER BY name;
SELECT count(*) AS hours, sum(requests) AS requests, sum(errors) AS errors
FROM scaler.hourly_requests((SELECT t FROM far WHERE name = 'week'));
SELECT count(*) AS hours, sum(requests) AS requests, sum(errors) AS errors
FROM scaler.hourly_requests((SELECT t FROM far WHERE name = '160 years'))
WHERE requests > 0;

-- A quarter with few rows keeps the rows; with 16 it becomes a summary.
-- Either way the value, and what it reports, depend only on the rows.
CREATE TABLE busy AS
SELECT timestamptz '2026-01-01 10:00+00' + i * interval '10 seconds' AS ts,
       (i % 7) * 1.25 AS duration_ms, CASE WHEN i % 5 = 0 THEN 500 ELSE 200 END AS status
FROM generate_series(0, 89) i;
SELECT (SELECT scaler.traffic_agg(ts, duration_ms, status) FROM (SELECT * FROM busy ORDER BY ts) s)::text =
       (SELECT scaler.traffic_agg(ts, duration_ms, status) FROM (SELECT * FROM busy ORDER BY ts DESC) s)::text
       AS order_independent,
       (SELECT scaler.traffic_merge(t) FROM (
            SELECT scaler.traffic_agg(ts, duration_ms, status) AS t FROM busy GROUP BY extract(second FROM ts)) p)::text =
       (SELECT scaler.traffic_agg(ts, duration_ms, status) FROM busy)::text
       AS split_independent;
SELECT * FROM scaler.hourly_requests((SELECT scaler.traffic_agg(ts, duration_ms, status) FROM busy));

-- -0.0 and 0.0 are one duration: the same value
SELECT (SELECT scaler.traffic_agg(ts, d) FROM (VALUES (timestamptz '2026-01-01', '-0'::float8)) v(ts, d))::text =
       (SELECT scaler.traffic_agg(ts, d) FROM (VALUES (timestamptz '2026-01-01', 0::float8)) v(ts, d))::text
       AS negative_zero_is_zero;

-- A duration too long to sum in microseconds is refused.
SELECT scaler.traffic_agg(now(), 1e13::float8);
\echo :LAST_ERROR_SQLSTATE

-- Checked arithmetic: a value the input accepts (the minute 2024-01-01
-- 00:00 UTC holding 2^62 requests) merges with itself into an overflow error, never a wrapped
-- count; a value of 2^63 - 1 requests takes no further row.
-- unsigned LEB128, as the flat form stores counts
CREATE FUNCTION pg_temp.varint(n numeric) RETURNS bytea
LANGUAGE plpgsql AS $$
DECLARE
    out bytea := '';
BEGIN
    LOOP
        IF n < 128 THEN
            RETURN out || set_byte('\x00'::bytea, 0, n::int);
        END IF;
        out := out || set_byte('\x00'::bytea, 0, (mod(n, 128) + 128)::int);
        n := div(n, 128);
    END LOOP;
END
$$;
CREATE FUNCTION pg_temp.one_minute(requests int8) RETURNS scaler.traffic
LANGUAGE sql AS $$
    SELECT ('traffic:' || translate(encode(
        int4send(2) || int4send(1) || int8send(8766 * 96) || '\x01'::bytea ||
        int2send(1::int2) || pg_temp.varint(requests) || pg_temp.varint(0) ||
        pg_temp.varint(0) || pg_temp.varint(0) || float8send(0) ||
        pg_temp.varint(0) || pg_temp.varint(0),
        'base64'), E'\n', ''))::scaler.traffic
$$;
SELECT sum(requests) FROM scaler.hourly_requests(pg_temp.one_minute(4611686018427387904));
SELECT scaler.traffic_merge(t) FROM (VALUES (pg_temp.one_minute(4611686018427387904)),
                                            (pg_temp.one_minute(4611686018427387904))) v(t);
\echo :LAST_ERROR_SQLSTATE
SELECT scaler.traffic_merge(t) FROM (VALUES (pg_temp.one_minute(9223372036854775807)),
    ((SELECT scaler.traffic_agg(timestamptz '2024-01-01 00:00+00')))) v(t);
\echo :LAST_ERROR_SQLSTATE

-- The two forms of hourly_requests agree, also on an hour cut by since or
-- until: concurrency is busy time over the whole hour in both.
CREATE TABLE clip_log (ts timestamptz, function_name text, duration_ms float8, status int);
INSERT INTO clip_log
SELECT timestamptz '2026-01-01 10:00+00' + i * interval '1 minute', 'api', 30000, 200
FROM generate_series(0, 179) i;
SELECT h.hour, h.avg_concurrency, h.avg_concurrency = a.avg_concurrency AS forms_agree
FROM scaler.hourly_requests('2026-01-01 10:30+00', '2026-01-01 12:30+00', 'api', 'clip_log') h
JOIN scaler.hourly_requests((SELECT scaler.traffic_agg(ts, duration_ms, status) FROM clip_log
                             WHERE ts >= '2026-01-01 10:30+00' AND ts < '2026-01-01 12:30+00')) a
     USING (hour)
ORDER BY 1;
SELECT count(*) AS same_rows FROM (
    SELECT * FROM scaler.hourly_requests('2026-01-01 10:30+00', '2026-01-01 12:30+00', 'api', 'clip_log')
    INTERSECT ALL
    SELECT * FROM scaler.hourly_requests((SELECT scaler.traffic_agg(ts, duration_ms, status) FROM clip_log
                                          WHERE ts >= '2026-01-01 10:30+00' AND ts < '2026-01-01 12:30+00'))) s;

-- Bounded work: a range over 100 years is refused; long walks (every hour
-- of 6,000 years, gap-filled) stop at statement_timeout.
SELECT count(*) FROM scaler.hourly_requests('1500-01-01', '2040-01-01', NULL, 'clip_log');
\echo :LAST_ERROR_SQLSTATE
SET statement_timeout = '100ms';
SELECT count(*) FROM scaler.hourly_requests('1930-01-01', '2029-01-01', NULL, 'clip_log');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM scaler.hourly_requests((SELECT scaler.traffic_agg(ts)
    FROM (VALUES (timestamptz '4000-01-01 00:00+00 BC'), ('2026-01-01 00:00+00')) v(ts)));
\echo :LAST_ERROR_SQLSTATE
RESET statement_timeout;
-- hour_of_week counts the empty hours between rows without walking them
-- (traffic_cycles checks what it counts)
SELECT count(*), sum(days) > 50000000 AS every_hour FROM scaler.hour_of_week((SELECT scaler.traffic_agg(ts)
    FROM (VALUES (timestamptz '4000-01-01 00:00+00 BC'), ('2026-01-01 00:00+00')) v(ts)));

-- The transition function called through a new FmgrInfo for every row, as
-- Citus's worker_partial_agg calls it: the same value, bit for bit.
CREATE AGGREGATE pg_temp.traffic_fresh(timestamptz, float8, int4) (
    SFUNC = scaler._traffic_trans_fresh,
    STYPE = scaler.traffic,
    FINALFUNC = scaler.traffic_agg_final,
    COMBINEFUNC = scaler.traffic_agg_combine
);
SELECT (SELECT pg_temp.traffic_fresh(ts, duration_ms, status) FROM busy)::text =
       (SELECT scaler.traffic_agg(ts, duration_ms, status) FROM busy)::text AS fresh_fmgr_same_value;

-- Rows are kept with 32-bit minute keys, about 1,000 years either side of
-- 2000; a quarter beyond that keeps a summary, whatever its rows.  A value
-- written with rows there (valid, as an older build wrote it) is read into
-- that form, so it reports the same and prints like the aggregate's value.
-- A value in today's form is stored byte for byte as it came.
CREATE FUNCTION pg_temp.one_row_text(ts timestamptz, ms float8) RETURNS text
LANGUAGE sql AS $$
    SELECT 'traffic:' || translate(encode(
        int4send(2) || int4send(1)
        || int8send(floor(extract(epoch FROM ts) / 900)::int8 - 10957 * 96)
        || '\x0001'::bytea
        || set_byte('\x00'::bytea, 0, 128 + floor(extract(minute FROM ts))::int % 15)
        || float8send(ms), 'base64'), E'\n', '')
$$;
SELECT y, (SELECT scaler.traffic_agg(ts, 12.5) FROM (VALUES (ts)) v(ts))::text =
          pg_temp.one_row_text(ts, 12.5)::scaler.traffic::text AS same_value,
       pg_temp.one_row_text(ts, 12.5)::scaler.traffic::text = pg_temp.one_row_text(ts, 12.5)
          AS stored_as_it_came,
       (SELECT array_agg(h::text) FROM scaler.hourly_requests(pg_temp.one_row_text(ts, 12.5)::scaler.traffic) h) =
       (SELECT array_agg(h::text) FROM scaler.hourly_requests((SELECT scaler.traffic_agg(ts, 12.5) FROM (VALUES (ts)) v(ts))) h)
          AS same_report
FROM (VALUES (2026, timestamptz '2026-03-01 10:07+00'), (500, '0500-03-01 10:07+00'),
             (3500, '3500-03-01 10:07+00')) v(y, ts)
ORDER BY y;
