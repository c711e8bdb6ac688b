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

-- Format 1 (0.1) values with counts a value cannot hold are rejected at
-- input, not stored as a value no reader (not even traffic_out) reads back.
-- version, zone "UTC", first minute, the minutes' counts, then their sums
CREATE FUNCTION pg_temp.v1_bytes(first bigint, counts bigint[], sums float8[]) RETURNS bytea
LANGUAGE sql IMMUTABLE
RETURN pg_catalog.int4send(1) || pg_catalog.int4send(3) || pg_catalog.convert_to('UTC', 'UTF8') ||
    pg_catalog.int8send(first) || pg_catalog.int4send(pg_catalog.cardinality(counts)) ||
    (SELECT pg_catalog.string_agg(pg_catalog.int8send(c), ''::bytea ORDER BY i)
       FROM unnest(counts) WITH ORDINALITY u(c, i)) ||
    (SELECT pg_catalog.string_agg(pg_catalog.float8send(s), ''::bytea ORDER BY i)
       FROM unnest(sums) WITH ORDINALITY u(s, i)) ||
    pg_catalog.int4send(0);
CREATE FUNCTION pg_temp.v1_text(first bigint, counts bigint[], sums float8[]) RETURNS text
LANGUAGE sql IMMUTABLE
RETURN 'traffic:' || pg_catalog.translate(pg_catalog.encode(pg_temp.v1_bytes(first, counts, sums), 'base64'), E'\n', '');
-- 2026-01-01 00:00 UTC in minutes
\set m0 29453760
-- a minute's durations adding up to more microseconds than an int64 holds
SELECT pg_temp.v1_text(:m0, '{1}', '{5e16}')::scaler.traffic;
\echo :LAST_ERROR_SQLSTATE
-- the largest that fits reads back
SELECT requests, avg_concurrency > 0 AS busy
FROM scaler.hourly_requests(pg_temp.v1_text(:m0, '{1}', '{9e15}')::scaler.traffic::text::scaler.traffic);
-- two minutes of one quarter whose counts add up past 2^63 - 1
SELECT pg_temp.v1_text(:m0, '{4611686018427387904,4611686018427387904}', '{0,0}')::scaler.traffic;
\echo :LAST_ERROR_SQLSTATE

-- A value stored by 0.1 is still in format 1 on disk (input rewrites only
-- what it reads): such a value added into one that counts the same minutes
-- adds to them (it used to overwrite them).  A cast without a function
-- stores the bytes as they are, as 0.1's input did.
CREATE CAST (bytea AS scaler.traffic) WITHOUT FUNCTION;
SELECT sum(h.requests) AS requests
FROM (SELECT scaler.traffic_merge(t) AS t
        FROM (VALUES (pg_temp.v1_bytes(:m0, '{100,50}', '{1000,500}')::scaler.traffic),
                     (pg_temp.v1_bytes(:m0, '{100,50}', '{1000,500}')::scaler.traffic)) v(t)) m,
     scaler.hourly_requests(m.t) h;
-- Rows in a quarter a thousand years away, which keeps a summary whatever
-- its rows: valid bytes, but not canonical.  Output prints the canonical
-- value, the one traffic_agg makes of the same rows.
SELECT t::text = (SELECT scaler.traffic_agg(ts, d)
                    FROM (VALUES (timestamptz '3100-01-01 00:00+00', NULL::float8),
                                 ('3100-01-01 00:01+00', 5)) v(ts, d))::text AS canonical,
       t::text::scaler.traffic::text = t::text AS round_trip
FROM (SELECT ('\x0000000200000001'::bytea
              -- (quarters count from 2000-01-01, PostgreSQL's epoch)
              || pg_catalog.int8send(((extract(epoch FROM timestamptz '3100-01-01 00:00+00') - 946684800) / 900)::bigint)
              || '\x0002'::bytea || '\x00'::bytea || '\x81'::bytea || pg_catalog.float8send(5)
             )::scaler.traffic AS t) s;
DROP CAST (bytea AS scaler.traffic);

-- Two values each of whose quarters is valid, but whose sum is not: the
-- merge refuses it (22003) instead of storing a value no reader reads back.
-- version 2, one quarter kept as a summary with one minute (mask) of
-- requests given as a varint, busy time 0, no errors, no durations, an
-- empty sketch; 2^62 + 2^61 requests is the varint 80 80 80 80 80 80 80 80 60
CREATE FUNCTION pg_temp.v2_one_minute(minute int, requests_varint bytea) RETURNS scaler.traffic
LANGUAGE sql IMMUTABLE
RETURN ('traffic:' || pg_catalog.translate(pg_catalog.encode(
    pg_catalog.int4send(2) || pg_catalog.int4send(1) || pg_catalog.int8send(1963584) ||
    '\x01'::bytea || pg_catalog.substr(pg_catalog.int4send(1 << minute), 3) ||
    requests_varint || '\x00'::bytea ||
    '\x0000'::bytea || pg_catalog.float8send(0) || '\x0000'::bytea,
    'base64'), E'\n', ''))::scaler.traffic;
\set big '\'\\x808080808080808060\''
SELECT sum(requests) FROM scaler.hourly_requests(pg_temp.v2_one_minute(0, :big));
SELECT scaler.traffic_merge(t)::text
FROM (VALUES (pg_temp.v2_one_minute(0, :big)), (pg_temp.v2_one_minute(1, :big))) v(t);
\echo :LAST_ERROR_SQLSTATE
