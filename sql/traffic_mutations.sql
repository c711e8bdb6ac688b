--
-- Mutated values: 20,000 text values made from valid ones by changing,
-- cutting or dropping bytes of their flat form, or a character of their
-- base64.  Whatever the bytes, the input either refuses the value (22P02)
-- or accepts one that behaves as a value: it reports, its text reads back
-- as itself, and merged with itself it counts twice its requests (or raises
-- 22003).  traffic_crafted reaches each check of the reader by hand; this
-- reaches the combinations nobody wrote down.  The seed makes the run
-- repeatable.
--
SET timezone = 'UTC';
SELECT setseed(0.25);

CREATE TEMP TABLE seeds (id int, t text);
-- summaries (busy quarters, wide and narrow sketches), rows, errors, ts only
INSERT INTO seeds
SELECT 1, scaler.traffic_agg(ts, d, s)::text
FROM (SELECT timestamptz '2026-03-01' + i * interval '1 second' AS ts,
             exp(random() * 7) AS d,
             CASE WHEN random() < 0.05 THEN 503 ELSE 200 END AS s
      FROM generate_series(1, 3000) i) r;
INSERT INTO seeds
SELECT 2, scaler.traffic_agg(ts, d, 200)::text
FROM (SELECT timestamptz '2026-03-01' + random() * interval '3 days' AS ts,
             CASE WHEN random() < 0.1 THEN NULL ELSE random() * 1e5 END AS d
      FROM generate_series(1, 200) i) r;
INSERT INTO seeds
SELECT 3, scaler.traffic_agg(ts)::text
FROM (SELECT timestamptz '1990-01-01' + random() * interval '60 years' AS ts
      FROM generate_series(1, 40) i) r;
INSERT INTO seeds
SELECT 4, scaler.traffic_agg(ts, d, 500)::text
FROM (SELECT timestamptz '2026-03-01 10:00' + i * interval '10 seconds' AS ts,
             1e-3 * exp(random() * 20) AS d
      FROM generate_series(1, 500) i) r;

CREATE TEMP TABLE outcome (state text);

DO $$
DECLARE
    src text;
    b bytea;
    txt text;
    pos int;
    v scaler.traffic;
    requests numeric;
    merged numeric;
    state text;
BEGIN
    FOR i IN 1 .. 20000 LOOP
        SELECT t INTO src FROM seeds WHERE id = 1 + i % 4;
        b := decode(substr(src, 9), 'base64');
        FOR k IN 1 .. 1 + i % 3 LOOP
            EXIT WHEN length(b) = 0;
            pos := floor(random() * length(b))::int;
            IF random() < 0.7 THEN
                b := set_byte(b, pos, floor(random() * 256)::int);
            ELSIF random() < 0.5 THEN
                b := substr(b, 1, pos);
            ELSE
                b := substr(b, 1, pos) || substr(b, pos + 2);
            END IF;
        END LOOP;
        txt := 'traffic:' || translate(encode(b, 'base64'), E'\n', '');
        IF random() < 0.2 THEN
            pos := 9 + floor(random() * (length(txt) - 8))::int;
            txt := overlay(txt placing chr(32 + floor(random() * 95)::int) from pos for 1);
        END IF;

        BEGIN
            v := txt::scaler.traffic;
            state := 'accepted';
        EXCEPTION WHEN others THEN
            state := SQLSTATE;
        END;
        IF state = 'accepted' THEN
            BEGIN
                -- hour_of_week, not hourly_requests: a mutated quarter
                -- number may put centuries of empty hours in the value
                SELECT sum(h.requests) INTO requests FROM scaler.hour_of_week(v) h;
                IF v::text::scaler.traffic::text IS DISTINCT FROM v::text THEN
                    state := 'text does not read back';
                END IF;
                SELECT sum(h.requests) INTO merged
                FROM scaler.hour_of_week((SELECT scaler.traffic_merge(x)
                                          FROM (VALUES (v), (v)) m(x))) h;
                IF merged IS DISTINCT FROM 2 * requests THEN
                    state := format('merged with itself: %s requests, not 2 x %s',
                                    merged, requests);
                END IF;
            EXCEPTION WHEN numeric_value_out_of_range THEN
                state := 'accepted, merge overflows';
            WHEN others THEN
                state := 'accepted, then ' || SQLSTATE || ': ' || SQLERRM;
            END;
        END IF;
        INSERT INTO outcome VALUES (state);
    END LOOP;
END
$$;

-- nothing but refusals and working values
SELECT state, count(*) FROM outcome
WHERE state NOT IN ('accepted', 'accepted, merge overflows', '22P02')
GROUP BY state;
-- and enough of both for the run to mean something
SELECT count(*) FILTER (WHERE state = 'accepted') >= 500 AS many_accepted,
       count(*) FILTER (WHERE state = '22P02') >= 5000 AS many_refused
FROM outcome;
