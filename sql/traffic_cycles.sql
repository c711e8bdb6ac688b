-- hour_of_day and hour_of_week agree with grouping the gap-filled hourly rows
-- by local hour (and day of week); a state's size depends on hours, not rows.
SET timezone = 'Europe/Berlin';
SELECT setseed(0.21);
CREATE TABLE cyc AS
SELECT timestamptz '2026-03-20 00:00+00' + random() * interval '20 days' AS ts,
       random() * 50 AS duration_ms
FROM generate_series(1, 30000);
CREATE TABLE cyc_state AS SELECT scaler.traffic_agg(ts, duration_ms) AS t FROM cyc;

SELECT count(*) AS rows,
       NOT EXISTS (
           SELECT hour_of_day, days, requests, avg_requests, peak_requests
           FROM scaler.hour_of_day((SELECT t FROM cyc_state)) WHERE days > 0
           EXCEPT
           SELECT extract(hour FROM hour)::int, count(*)::int, sum(requests), avg(requests), max(requests)
           FROM scaler.hourly_requests((SELECT t FROM cyc_state)) GROUP BY 1) AS matches
FROM scaler.hour_of_day((SELECT t FROM cyc_state));

SELECT count(*) AS rows,
       NOT EXISTS (
           SELECT dow, hour_of_day, days, requests, avg_requests, peak_requests
           FROM scaler.hour_of_week((SELECT t FROM cyc_state)) WHERE days > 0
           EXCEPT
           SELECT extract(dow FROM hour)::int, extract(hour FROM hour)::int, count(*)::int,
                  sum(requests), avg(requests), max(requests)
           FROM scaler.hourly_requests((SELECT t FROM cyc_state)) GROUP BY 1, 2) AS matches
FROM scaler.hour_of_week((SELECT t FROM cyc_state));

-- the busiest hour of the day, as a user would ask
SELECT hour_of_day FROM scaler.hour_of_day((SELECT t FROM cyc_state))
ORDER BY avg_requests DESC NULLS LAST, hour_of_day LIMIT 0;

-- Size: a 30-day value with durations spread over every bin the sketch
-- keeps (its worst case) stays under 4.2 KB per quarter hour (1,024 bins of
-- 4 bytes, and the minutes), and adding rows of the same shape does not
-- grow it.
SET timezone = 'UTC';
CREATE TABLE wide AS
SELECT timestamptz '2026-01-01 00:00+00' + h * interval '1 hour' + (k % 60) * interval '1 minute' AS ts,
       power(2, k / 38.0) * 0.0001 AS duration_ms
FROM generate_series(0, 719) h, generate_series(0, 1100) k;
SELECT count(*) AS hours,
       pg_column_size((SELECT scaler.traffic_agg(ts, duration_ms) FROM wide)) < 720 * 4 * 4200 AS under_4200_per_quarter,
       pg_column_size((SELECT scaler.traffic_agg(ts, duration_ms) FROM wide)) =
       pg_column_size((SELECT scaler.traffic_agg(ts, duration_ms) FROM (SELECT * FROM wide UNION ALL SELECT * FROM wide) w))
           AS size_independent_of_rows
FROM scaler.hourly_requests((SELECT scaler.traffic_agg(ts, duration_ms) FROM wide));

-- Sparse values over years, in zones with DST (Berlin, New York, Dublin's
-- negative DST, Lord Howe's 30 minutes, Casablanca's Ramadan), and fixed
-- :30 and :45 zones; and over the years when zones left local mean time,
-- offsets not in whole quarters (Amsterdam's +00:19:32 to 1937, Monrovia's
-- -00:44:30 to 1972): the empty hours between rows are counted a stretch
-- of constant offset at a time, and still agree with grouping every
-- gap-filled hour.  Rows land on and around DST transitions too.
CREATE TABLE cyc_sparse AS
SELECT timestamptz '2019-01-01 00:00+00' + random() * interval '6 years' AS ts
FROM generate_series(1, 400)
UNION ALL
SELECT d + o * interval '15 minutes'
FROM unnest(ARRAY['2023-03-26 01:00+00', '2023-10-29 01:00+00', '2023-04-02 15:00+00',
                  '2023-10-01 15:30+00', '2023-03-12 07:00+00']::timestamptz[]) d,
     generate_series(-4, 4) o;
CREATE TABLE cyc_sparse_state AS SELECT scaler.traffic_agg(ts) AS t FROM cyc_sparse;
CREATE TABLE cyc_old_state AS SELECT scaler.traffic_agg(ts) AS t
FROM (SELECT timestamptz '1885-01-01 00:00+00' + random() * interval '90 years' AS ts
      FROM generate_series(1, 200)) r;
CREATE FUNCTION cyc_match(zone text, state regclass) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    t scaler.traffic;
    ok boolean;
BEGIN
    EXECUTE format('SELECT t FROM %s', state) INTO t;
    PERFORM set_config('timezone', zone, true);
    SELECT NOT EXISTS (
               SELECT hour_of_day, days, requests, peak_requests
               FROM scaler.hour_of_day(t)
               EXCEPT
               SELECT extract(hour FROM hour)::int, count(*)::int, sum(requests), max(requests)
               FROM scaler.hourly_requests(t) GROUP BY 1)
       AND NOT EXISTS (
               SELECT dow, hour_of_day, days, requests, peak_requests
               FROM scaler.hour_of_week(t)
               EXCEPT
               SELECT extract(dow FROM hour)::int, extract(hour FROM hour)::int, count(*)::int,
                      sum(requests), max(requests)
               FROM scaler.hourly_requests(t) GROUP BY 1, 2)
      INTO ok;
    RETURN ok;
END
$$;
BEGIN;
SELECT zone, cyc_match(zone, 'cyc_sparse_state')
FROM unnest(ARRAY['UTC', 'Europe/Berlin', 'America/New_York', 'Europe/Dublin',
                  'Australia/Lord_Howe', 'Africa/Casablanca', 'Asia/Kolkata',
                  'Asia/Kathmandu', 'Pacific/Chatham', 'America/St_Johns']) zone;
SELECT zone, cyc_match(zone, 'cyc_old_state')
FROM unnest(ARRAY['Europe/Amsterdam', 'Africa/Monrovia', 'Asia/Kolkata',
                  'America/St_Johns']) zone;
COMMIT;

-- Two rows 160 years apart are 1.4 million hours, Berlin's from local mean
-- time (to 1893) on: the same.
CREATE TABLE cyc_far AS SELECT scaler.traffic_agg(ts) AS t
FROM (VALUES (timestamptz '1880-06-01 12:00+00'), ('2040-06-01 12:00+00')) v(ts);
BEGIN;
SELECT cyc_match('Europe/Berlin', 'cyc_far');
COMMIT;
SET timezone = 'Europe/Berlin';
-- and the whole timestamp range, 2.6 billion hours, in milliseconds (hour
-- by hour that took minutes)
SET statement_timeout = '30s';
CREATE TABLE cyc_whole AS SELECT scaler.traffic_agg(ts) AS t
FROM (VALUES (timestamptz '4700-01-01 00:00+00 BC'), ('294000-01-01 00:00+00')) v(ts);
SELECT sum(days) AS hours, sum(requests) AS requests FROM scaler.hour_of_week((SELECT t FROM cyc_whole));
SET timezone = 'UTC';
SELECT sum(days) AS hours, sum(requests) AS requests FROM scaler.hour_of_day((SELECT t FROM cyc_whole));
RESET statement_timeout;
