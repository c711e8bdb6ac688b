-- Bad input gets a clear error with a specific SQLSTATE; nothing crashes.
SET timezone = 'UTC';
\set VERBOSITY default

-- NULL ts rows are skipped; no rows at all gives NULL
SELECT hour, requests FROM scaler.hourly_requests((
    SELECT scaler.traffic_agg(ts, duration_ms, status)
    FROM (VALUES (NULL::timestamptz, 5.0::float8, 500), ('2026-01-01 10:20+00', 3.0, 200)) v(ts, duration_ms, status)));
-- (and after a row was counted: the state goes on unchanged, the error uncounted)
SELECT hour, requests, errors FROM scaler.hourly_requests((
    SELECT scaler.traffic_agg(ts, duration_ms, status)
    FROM (VALUES ('2026-01-01 10:20+00'::timestamptz, 3.0::float8, 200), (NULL, 5.0, 500),
                 ('2026-01-01 11:05+00', 1.0, 200)) v(ts, duration_ms, status)));
SELECT scaler.traffic_agg(ts) IS NULL AS no_rows FROM (VALUES (NULL::timestamptz)) v(ts);

-- infinite timestamps
SELECT scaler.traffic_agg(ts) FROM (VALUES ('infinity'::timestamptz)) v(ts);
\echo :LAST_ERROR_SQLSTATE
SELECT scaler.traffic_agg(ts) FROM (VALUES ('-infinity'::timestamptz)) v(ts);
\echo :LAST_ERROR_SQLSTATE

-- negative, NaN and infinite durations
SELECT scaler.traffic_agg(now(), d) FROM (VALUES (-1.5::float8)) v(d);
\echo :LAST_ERROR_SQLSTATE
SELECT scaler.traffic_agg(now(), d) FROM (VALUES ('NaN'::float8)) v(d);
\echo :LAST_ERROR_SQLSTATE
SELECT scaler.traffic_agg(now(), d) FROM (VALUES ('Infinity'::float8)) v(d);
\echo :LAST_ERROR_SQLSTATE

-- the transition function is not for direct calls
SELECT scaler.traffic_agg_trans(NULL, now());
\echo :LAST_ERROR_SQLSTATE

-- values built under different TimeZone settings are the same value (a
-- value keeps UTC quarter hours), so they merge; the result is read in the
-- session's zone
CREATE TABLE two_zones (t scaler.traffic);
INSERT INTO two_zones SELECT scaler.traffic_agg(timestamptz '2026-01-01 10:00+00');
SET timezone = 'Europe/Paris';
INSERT INTO two_zones SELECT scaler.traffic_agg(timestamptz '2026-01-01 10:00+00');
SELECT count(DISTINCT t::text) AS distinct_values FROM two_zones;
SELECT hour, requests FROM scaler.hourly_requests((SELECT scaler.traffic_merge(t) FROM two_zones));
SET timezone = 'UTC';
SELECT hour, requests FROM scaler.hourly_requests((SELECT scaler.traffic_merge(t) FROM two_zones));

-- source form: bad windows
SELECT * FROM scaler.hourly_requests('2026-01-02', '2026-01-01');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM scaler.hourly_requests('-infinity', '2026-01-01');
\echo :LAST_ERROR_SQLSTATE

-- source form: a source without the needed columns, or of the wrong types
CREATE TABLE no_duration (ts timestamptz, function_name text, status int);
SELECT * FROM scaler.hourly_requests('2026-01-01', '2026-01-02', NULL, 'no_duration');
\echo :LAST_ERROR_SQLSTATE
CREATE VIEW local_ts AS SELECT ts::timestamp AS ts, function_name, 1.0::float8 AS duration_ms, status FROM no_duration;
SELECT * FROM scaler.hourly_requests('2026-01-01', '2026-01-02', NULL, 'local_ts');
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE no_function (ts timestamptz, duration_ms float8, status int);
SELECT count(*) FROM scaler.hourly_requests('2026-01-01', '2026-01-02', NULL, 'no_function');
SELECT * FROM scaler.hourly_requests('2026-01-01', '2026-01-02', 'api', 'no_function');
\echo :LAST_ERROR_SQLSTATE

-- text input: garbage, bad base64, truncated and altered values
SELECT 'garbage'::scaler.traffic;
\echo :LAST_ERROR_SQLSTATE
SELECT 'traffic:###'::scaler.traffic;
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE good AS
SELECT scaler.traffic_agg(ts, (extract(epoch FROM ts)::int % 97)::float8, CASE WHEN extract(minute FROM ts) = 7 THEN 500 END) AS t
FROM generate_series(timestamptz '2026-01-01 00:00+00', '2026-01-01 04:59:40+00', '10 seconds') ts;
-- the SQLSTATE and detail of reading text as a traffic value ('ok' if it reads)
CREATE FUNCTION pg_temp.text_input_error(v text, OUT state text, OUT detail text)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM v::scaler.traffic;
    state := 'ok';
EXCEPTION WHEN others THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, detail = PG_EXCEPTION_DETAIL;
END $$;
SELECT ('traffic:' || translate(encode(substr(decode(substr(t::text, 9), 'base64'), 1, 100), 'base64'), E'\n', ''))::scaler.traffic FROM good;
-- a base64 defect after whole groups (decoded by table) or at the padded
-- end (decoded by PostgreSQL's pg_b64_decode) is the same error
SELECT d.what, (SELECT length(t::text) FROM good) > 400 AS long_enough, r.state, r.detail
FROM (VALUES ('space after 200 characters', 208, ' '), ('newline after 200', 208, E'\n'),
             ('"=" in a group', 210, '='), ('a non-ASCII letter', 209, 'é'),
             ('an asterisk', 211, '*'), ('"-" (base64url)', 400, '-')) d(what, pos, c),
LATERAL (SELECT * FROM pg_temp.text_input_error(
             overlay((SELECT t::text FROM good) PLACING d.c FROM d.pos FOR 1))) r
UNION ALL
SELECT 'the last character dropped', true, r.state, r.detail
FROM pg_temp.text_input_error((SELECT left(t::text, -1) FROM good)) r
UNION ALL
SELECT 'the last group dropped', true, r.state, r.detail
FROM pg_temp.text_input_error((SELECT left(t::text, -4) FROM good)) r;
\echo :LAST_ERROR_SQLSTATE

-- Fuzz: change one byte of a valid value, many times over.  Each altered
-- value is either rejected with 22P02 or accepted, and then round-trips and
-- can be merged with itself (or that merge overflows, 22003); no other
-- outcome (another error, a crash) is acceptable.
CREATE FUNCTION fuzz_traffic(tries int) RETURNS TABLE (rejected int, accepted int, other int)
LANGUAGE plpgsql AS $$
DECLARE
    bytes bytea := decode(substr((SELECT t FROM good)::text, 9), 'base64');
    altered bytea;
    v scaler.traffic;
BEGIN
    rejected := 0; accepted := 0; other := 0;
    PERFORM setseed(0.5);
    FOR i IN 1 .. tries LOOP
        altered := set_byte(bytes, (random() * (length(bytes) - 1))::int, (random() * 255)::int);
        IF random() < 0.3 THEN
            altered := substr(altered, 1, (random() * length(altered))::int);
        END IF;
        BEGIN
            v := ('traffic:' || translate(encode(altered, 'base64'), E'\n', ''))::scaler.traffic;
            IF v::text::scaler.traffic::text = v::text THEN
                BEGIN
                    PERFORM scaler.traffic_merge(x) FROM (VALUES (v), (v)) m(x);
                EXCEPTION WHEN numeric_value_out_of_range THEN
                    NULL;
                END;
                accepted := accepted + 1;
            ELSE
                other := other + 1;
            END IF;
        EXCEPTION
            WHEN invalid_text_representation THEN rejected := rejected + 1;
            WHEN OTHERS THEN
                RAISE NOTICE 'unexpected % %', SQLSTATE, SQLERRM;
                other := other + 1;
        END;
    END LOOP;
    RETURN NEXT;
END
$$;
SELECT rejected > 0 AS some_rejected, other FROM fuzz_traffic(1500);

-- binary input: COPY a value out, damage fields in the file, COPY it back.
-- The files live in the server's data directory (relative paths), which it
-- can always write, written and damaged there by COPY TO PROGRAM.
CREATE TABLE bin_in (t scaler.traffic);
COPY (SELECT t FROM good) TO PROGRAM 'cat > scaler_regress_good.bin' WITH (FORMAT binary);
COPY bin_in FROM 'scaler_regress_good.bin' WITH (FORMAT binary);
SELECT (SELECT t FROM bin_in)::text = (SELECT t FROM good)::text AS binary_ok;
CREATE FUNCTION damage(byte_offset text, byte_value text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('COPY (SELECT 1) TO PROGRAM %L',
        format('cat > /dev/null && cp scaler_regress_good.bin scaler_regress_bad.bin && '
               'printf "\%s" | dd of=scaler_regress_bad.bin bs=1 seek=$((%s)) conv=notrunc 2>/dev/null',
               byte_value, byte_offset));
END $$;
-- the datum starts at byte 25 (19-byte header, field count, field length):
-- its format version, then the number of quarters
SELECT damage('25', '377');
COPY bin_in FROM 'scaler_regress_bad.bin' WITH (FORMAT binary);
\echo :LAST_ERROR_SQLSTATE
SELECT damage('29', '177');
COPY bin_in FROM 'scaler_regress_bad.bin' WITH (FORMAT binary);
\echo :LAST_ERROR_SQLSTATE
-- the form of the first quarter (after its int64 quarter number)
SELECT damage('41', '377');
COPY bin_in FROM 'scaler_regress_bad.bin' WITH (FORMAT binary);
\echo :LAST_ERROR_SQLSTATE
-- a sketch count: the last byte of the value, before the 2-byte trailer
SELECT damage('$(stat -c %s scaler_regress_good.bin) - 3', '377');
COPY bin_in FROM 'scaler_regress_bad.bin' WITH (FORMAT binary);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS still_one_row FROM bin_in;
COPY (SELECT 1) TO PROGRAM 'cat > /dev/null && rm -f scaler_regress_good.bin scaler_regress_bad.bin';
