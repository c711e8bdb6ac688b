-- A flat value whose minutes would run past the end of the timestamp range
-- is rejected, also when first + nminutes overflows int64 (it used to pass
-- the range check and crash the backend); the last valid minute still reads.
SET timezone = 'UTC';
\set VERBOSITY default

-- version, zone "UTC", first minute, nminutes, then nminutes zero counts and sums
CREATE FUNCTION pg_temp.flat_text(first bigint, nminutes int) RETURNS text
LANGUAGE sql IMMUTABLE
RETURN 'traffic:' || pg_catalog.translate(pg_catalog.encode(
    pg_catalog.int4send(1) || pg_catalog.int4send(3) || pg_catalog.convert_to('UTC', 'UTF8') ||
    pg_catalog.int8send(first) || pg_catalog.int4send(nminutes) ||
    pg_catalog.decode(pg_catalog.repeat('00', 16 * nminutes), 'hex'),
    'base64'), E'\n', '');

-- first + nminutes wraps around to a negative number
SELECT pg_temp.flat_text(9223372036854775802, 3000)::scaler.traffic;
\echo :LAST_ERROR_SQLSTATE
SELECT pg_temp.flat_text(9223372036854775802, 10)::scaler.traffic;
\echo :LAST_ERROR_SQLSTATE
-- one minute past the end, without wrapping
SELECT pg_temp.flat_text(153722855520 - 1000, 1001)::scaler.traffic;
\echo :LAST_ERROR_SQLSTATE

-- the last minute of the timestamp range survives a text round trip
SELECT t::text::scaler.traffic::text = t::text AS round_trip, requests
FROM (SELECT scaler.traffic_agg(ts) AS t
      FROM (VALUES (timestamptz '294276-12-31 23:59:30+00')) v(ts)) s,
     scaler.hourly_requests(s.t);

-- A summary whose sketch counts wrap past 2^64: 2^64 - 5 zero durations and
-- a bin of 10 summed to 5, its duration count, and it used to be taken (p50
-- 0 beside a max of 1 ms, and a merge with itself failing on zeros).
SELECT 'traffic:AAAAAgAAAAEAAAAAAB334AEAAQoAAAU/8AAAAAAAAPv//////////wEBAAAAAAo='::scaler.traffic;
\echo :LAST_ERROR_SQLSTATE
-- the same summary with its 5 durations all zero reads
SELECT requests, p50_ms, max_ms
FROM scaler.hourly_requests('traffic:AAAAAgAAAAEAAAAAAB334AEAAQoAAAUAAAAAAAAAAAUA'::scaler.traffic);
