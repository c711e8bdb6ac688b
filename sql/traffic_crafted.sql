--
-- Crafted values: every check the reader of the flat format makes, each
-- reached by a value built byte by byte.  A text value is "traffic:" and
-- the base64 of its flat bytes (docs/design.md, "The traffic value"), so a
-- case is its bytes in hex, spaces between the fields.
--
-- Version 2: int32 version, int32 quarters, per quarter int64 number and a
-- form byte; form 0 (rows): uint8 n, per row a flag byte (minute | 0x40
-- error | 0x80 duration) and a float8 duration when flagged; form 1
-- (summary): uint16 minute mask, per minute varint requests and busy
-- microseconds, varints errors and durations, float8 longest duration,
-- then the sketch: varint zero durations, varint bins used, an int32 first
-- key, its varint count, then per bin a varint gap and a varint count.
--
SET timezone = 'UTC';

CREATE FUNCTION crafted_text(hex text) RETURNS text
LANGUAGE sql STRICT AS $$
    SELECT 'traffic:' || translate(encode(decode(translate(hex, ' ', ''), 'hex'),
                                          'base64'), E'\n', '')
$$;
CREATE FUNCTION crafted(hex text) RETURNS scaler.traffic
LANGUAGE sql STRICT AS $$ SELECT crafted_text(hex)::scaler.traffic $$;

-- What the input makes of a value: its hours, or its error and DETAIL.
CREATE FUNCTION verdict(hex text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    t scaler.traffic;
    hours text;
    state text;
    detail text;
BEGIN
    t := crafted(hex);
    SELECT string_agg(format('%s req=%s err=%s p50=%s max=%s',
                             to_char(hour, 'YYYY-MM-DD HH24:MI'), requests, errors,
                             round(p50_ms::numeric, 1), max_ms), '; ' ORDER BY hour)
      INTO hours
      FROM scaler.hourly_requests(t);
    RETURN 'ok: ' || coalesce(hours, 'no hours');
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, detail = PG_EXCEPTION_DETAIL;
    RETURN state || ': ' || SQLERRM || ': ' || detail;
END
$$;

CREATE TABLE cases (ord serial, name text, hex text);

-- version 2: the frame
INSERT INTO cases (name, hex) VALUES
('one row',                '00000002 00000001 0000000000000000 00 01 00'),
('truncated',              '00000002 0000'),
('trailing byte',          '00000002 00000001 0000000000000000 00 01 00 00'),
('unknown version',        '00000003 00000000'),
('negative quarters',      '00000002 ffffffff'),
('quarters repeated',      '00000002 00000002 0000000000000005 00 01 00 0000000000000005 00 01 00'),
('quarters descending',    '00000002 00000002 0000000000000005 00 01 00 0000000000000004 00 01 00'),
('quarter past the end',   '00000002 00000001 7fffffffffffffff 00 01 00'),
('unknown form',           '00000002 00000001 0000000000000000 02 01 00');

-- version 2: rows
INSERT INTO cases (name, hex) VALUES
('two rows, one key',      '00000002 00000001 0000000000000000 00 02 00 00'),
('rows of an hour',        '00000002 00000002 0000000000000000 00 02 0e 4e 0000000000000003 00 01 81 4014000000000000'),
('no rows',                '00000002 00000001 0000000000000000 00 00 00'),
('64 rows',                '00000002 00000001 0000000000000000 00 40' || repeat(' 00', 64)),
('rows truncated',         '00000002 00000001 0000000000000000 00 02 00'),
('row minute 15',          '00000002 00000001 0000000000000000 00 01 0f'),
('row unknown flag',       '00000002 00000001 0000000000000000 00 01 20'),
('row duration truncated', '00000002 00000001 0000000000000000 00 01 80 3ff0'),
('row duration NaN',       '00000002 00000001 0000000000000000 00 01 80 7ff8000000000000'),
('row duration negative',  '00000002 00000001 0000000000000000 00 01 80 bff0000000000000'),
('row duration -0',        '00000002 00000001 0000000000000000 00 01 80 8000000000000000'),
('row duration 1e13 ms',   '00000002 00000001 0000000000000000 00 01 80 42a2309ce5400000'),
('rows by minute desc',    '00000002 00000001 0000000000000000 00 02 01 00'),
('rows by duration desc',  '00000002 00000001 0000000000000000 00 02 80 4000000000000000 80 3ff0000000000000');

-- version 2: summaries
INSERT INTO cases (name, hex) VALUES
('summary',                '00000002 00000001 0000000000000000 01 0001 01 00 00 00 0000000000000000 00 00'),
('summary, sketch',        '00000002 00000001 0000000000000000 01 0003 01 00 02 e807 01 02 4014000000000000 00 01 00000000 02'),
('mask empty',             '00000002 00000001 0000000000000000 01 0000'),
('mask minute 15',         '00000002 00000001 0000000000000000 01 8000'),
('minute without requests','00000002 00000001 0000000000000000 01 0001 00 00 00 00 0000000000000000 00 00'),
('overlong varint',        '00000002 00000001 0000000000000000 01 0001 8100'),
('varint past 2^64',       '00000002 00000001 0000000000000000 01 0001 ffffffffffffffffff02'),
('requests 2^63',          '00000002 00000001 0000000000000000 01 0001 80808080808080808001'),
('requests sum 2^63',      '00000002 00000001 0000000000000000 01 0003 808080808080808040 00 808080808080808040 00'),
('more errors',            '00000002 00000001 0000000000000000 01 0001 01 00 02 00 0000000000000000 00 00'),
('more durations',         '00000002 00000001 0000000000000000 01 0001 01 00 00 02 0000000000000000 02 00'),
('longest, no durations',  '00000002 00000001 0000000000000000 01 0001 01 00 00 00 3ff0000000000000 00 00'),
('longest NaN',            '00000002 00000001 0000000000000000 01 0001 01 00 00 01 7ff8000000000000 01 00'),
('sketch short',           '00000002 00000001 0000000000000000 01 0001 01 00 00 01 3ff0000000000000 00 00'),
('sketch over',            '00000002 00000001 0000000000000000 01 0001 01 00 00 01 3ff0000000000000 00 02 00000000 01 00 01'),
('sketch 1025 bins',       '00000002 00000001 0000000000000000 01 0001 01 00 00 01 3ff0000000000000 00 8108'),
('sketch key past limit',  '00000002 00000001 0000000000000000 01 0001 01 00 00 01 3ff0000000000000 00 01 7fffffff 01'),
('sketch gap 1024',        '00000002 00000001 0000000000000000 01 0001 02 00 00 02 3ff0000000000000 00 02 00000000 01 8008 01'),
('sketch wider than 1024', '00000002 00000001 0000000000000000 01 0001 03 00 00 03 3ff0000000000000 00 03 00000000 01 e807 01 64 01'),
('sketch count 0',         '00000002 00000001 0000000000000000 01 0001 01 00 00 01 3ff0000000000000 00 01 00000000 00'),
('sketch count 2^32',      '00000002 00000001 0000000000000000 01 0001 01 00 00 01 3ff0000000000000 00 01 00000000 8080808010'),
('sketch total wraps',     '00000002 00000001 0000000000000000 01 0001 01 00 00 01 3ff0000000000000 ffffffffffffffffff01 01 00000000 01');

-- version 1, as scaler 0.1 wrote it (int32 version 1, the time zone's
-- name, the minutes, the hours; see traffic_io.c)
INSERT INTO cases (name, hex) VALUES
('0.1 minute',             '00000001 00000003 555443 0000000000000000 00000001 0000000000000001 0000000000000000 00000000'),
('0.1 hour',               '00000001 00000003 555443 0000000000000000 00000001 0000000000000002 4024000000000000 00000001'
                           ' 0000000000000000 0000000000000001 0000000000000001 4014000000000000 0000000000000000 00000000 00000001 00000001'),
('0.1 zone name empty',    '00000001 00000000'),
('0.1 zone name too long', '00000001 00001000'),
('0.1 zone name with NUL', '00000001 00000003 550043'),
('0.1 zone unknown',       '00000001 0000000c 4e6f77686572652f5a6f6e65'),
('0.1 minutes negative',   '00000001 00000003 555443 0000000000000000 ffffffff'),
('0.1 minutes past end',   '00000001 00000003 555443 7fffffffffffffff 00000001 0000000000000001 0000000000000000 00000000'),
('0.1 requests negative',  '00000001 00000003 555443 0000000000000000 00000001 ffffffffffffffff 0000000000000000 00000000'),
('0.1 busy time NaN',      '00000001 00000003 555443 0000000000000000 00000001 0000000000000001 7ff8000000000000 00000000'),
('0.1 quarter past 2^63',  '00000001 00000003 555443 0000000000000000 00000002 4000000000000000 4000000000000000'
                           ' 0000000000000000 0000000000000000 00000000'),
('0.1 busy, no requests',  '00000001 00000003 555443 0000000000000000 00000001 0000000000000000 3ff0000000000000 00000000'),
('0.1 hours negative',     '00000001 00000003 555443 0000000000000000 00000000 ffffffff'),
('0.1 hours repeated',     '00000001 00000003 555443 0000000000000000 00000000 00000002'
                           ' 0000000000000000 0000000000000000 0000000000000000 0000000000000000 0000000000000000 00000000 00000000'
                           ' 0000000000000000 0000000000000000 0000000000000000 0000000000000000 0000000000000000 00000000 00000000'),
('0.1 hour past the end',  '00000001 00000003 555443 0000000000000000 00000000 00000001'
                           ' 7fffffffffffffff 0000000000000000 0000000000000000 0000000000000000 0000000000000000 00000000 00000000'),
('0.1 errors negative',    '00000001 00000003 555443 0000000000000000 00000000 00000001'
                           ' 0000000000000000 ffffffffffffffff 0000000000000000 0000000000000000 0000000000000000 00000000 00000000'),
('0.1 longest, no durations', '00000001 00000003 555443 0000000000000000 00000000 00000001'
                           ' 0000000000000000 0000000000000000 0000000000000000 3ff0000000000000 0000000000000000 00000000 00000000'),
('0.1 sketch 1025 bins',   '00000001 00000003 555443 0000000000000000 00000000 00000001'
                           ' 0000000000000000 0000000000000000 0000000000000001 3ff0000000000000 0000000000000000 00000000 00000401'),
('0.1 sketch short',       '00000001 00000003 555443 0000000000000000 00000000 00000001'
                           ' 0000000000000000 0000000000000000 0000000000000001 3ff0000000000000 0000000000000000 00000000 00000000'),
('0.1 more errors',        '00000001 00000003 555443 0000000000000000 00000001 0000000000000001 0000000000000000 00000001'
                           ' 0000000000000000 0000000000000002 0000000000000000 0000000000000000 0000000000000000 00000000 00000000'),
('0.1 trailing byte',      '00000001 00000003 555443 0000000000000000 00000001 0000000000000001 0000000000000000 00000000 00');

SELECT name, verdict(hex) FROM cases ORDER BY ord;

-- Text input reports 22P02 throughout (binary input, 22P03, is in
-- traffic_errors), except for counts that add up past 2^63 - 1: 22003, as
-- wherever a count is added.
SELECT name, verdict(hex)
  FROM cases
 WHERE verdict(hex) NOT LIKE 'ok:%' AND verdict(hex) NOT LIKE '22P02:%'
 ORDER BY ord;

-- A value the input accepts is written back as the bytes it was given
-- (a 0.1 value in today's format, then stable), and merges with itself
-- into twice its counts.
SELECT name,
       crafted(hex)::text = crafted_text(hex) AS same_bytes,
       crafted(hex)::text::scaler.traffic::text = crafted(hex)::text AS stable,
       (SELECT sum(requests) FROM scaler.hourly_requests(
            (SELECT scaler.traffic_merge(t) FROM (VALUES (crafted(hex)), (crafted(hex))) v(t))))
       = 2 * (SELECT sum(requests) FROM scaler.hourly_requests(crafted(hex))) AS merges_with_itself
  FROM cases
 WHERE verdict(hex) LIKE 'ok:%'
 ORDER BY ord;

-- 0.1 values as 0.1 stored them (the input rewrites them in today's
-- format, so a binary cast stands in for a table 0.1 wrote).  A 0.1 hour
-- holds its errors, which are spread over its quarters by what those hold:
-- by what the 0.1 value holds, not by what it is merged into, so that any
-- order of merging gives the same value.  b: in Asia/Kolkata, the hour of
-- 23:30 UTC has a request at 23:30 and one at 00:00, and 2 errors; a: 100
-- requests at 23:30, none an error.
CREATE CAST (bytea AS scaler.traffic) WITHOUT FUNCTION;
CREATE TABLE stored (k text, t scaler.traffic);
INSERT INTO stored VALUES
('a', crafted('00000002 00000001 fffffffffffffffe 01 0001 64 00 00 00 0000000000000000 00 00')),
('b', decode('00000001' || '0000000c' || '417369612f4b6f6c6b617461'
             || 'ffffffffffffffe2' || '0000001f'
             || '0000000000000001' || repeat('0', 16 * 29) || '0000000000000001'
             || repeat('0', 16 * 31)
             || '00000001' || 'ffffffff94b62e00' || '0000000000000002' || repeat('0', 64), 'hex')::scaler.traffic);
DROP CAST (bytea AS scaler.traffic);
SELECT (SELECT scaler.traffic_merge(t ORDER BY k) FROM stored)::text
       = (SELECT scaler.traffic_merge(t ORDER BY k DESC) FROM stored)::text AS either_order_same_value;
SELECT 'a, b' AS merged, hour, requests, errors
  FROM scaler.hourly_requests((SELECT scaler.traffic_merge(t ORDER BY k) FROM stored))
UNION ALL
SELECT 'b, a', hour, requests, errors
  FROM scaler.hourly_requests((SELECT scaler.traffic_merge(t ORDER BY k DESC) FROM stored))
UNION ALL
SELECT 'b', hour, requests, errors
  FROM scaler.hourly_requests((SELECT t FROM stored WHERE k = 'b'))
ORDER BY 1, 2;
