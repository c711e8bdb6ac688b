-- Text and binary I/O round-trip exactly, and combining partial states gives
-- the same answer as one pass over all rows.
SET timezone = 'America/New_York';
SELECT setseed(0.3);
CREATE TABLE rt_rows AS
SELECT 'f' || (random() * 4)::int AS function_name,
       timestamptz '2026-10-28 00:00+00' + random() * interval '8 days' AS ts,
       CASE WHEN random() < 0.1 THEN NULL ELSE exp(random() * 8) / 3 END AS duration_ms,
       CASE WHEN random() < 0.1 THEN NULL WHEN random() < 0.03 THEN 500 ELSE 200 END AS status
FROM generate_series(1, 40000);

CREATE TABLE states AS
SELECT function_name, scaler.traffic_agg(ts, duration_ms, status) AS t
FROM rt_rows GROUP BY function_name;

-- hourly rows of a value, as text, for exact comparison
CREATE FUNCTION hourly_text(t scaler.traffic) RETURNS SETOF text
LANGUAGE sql AS $$ SELECT h::text FROM scaler.hourly_requests(t) h $$;
-- the same, with the floating-point sums rounded: merged states add
-- durations in another order, which may change their last bits
CREATE OR REPLACE FUNCTION hourly_canon(t scaler.traffic) RETURNS SETOF text
LANGUAGE sql AS $$
    SELECT format('%s %s %s %s %s %s %s %s %s %s', hour, requests, errors, p50_ms, p95_ms, p99_ms,
                  max_ms, peak_rpm, round(avg_concurrency::numeric, 9), round(peak_concurrency::numeric, 9))
    FROM scaler.hourly_requests(t)
$$;

-- text: the output parses back to a value with the same output and rows
SELECT function_name,
       t::text::scaler.traffic::text = t::text AS text_round_trip,
       NOT EXISTS (SELECT hourly_text(t) EXCEPT ALL SELECT hourly_text(t::text::scaler.traffic))
       AND NOT EXISTS (SELECT hourly_text(t::text::scaler.traffic) EXCEPT ALL SELECT hourly_text(t))
           AS same_hours
FROM states ORDER BY function_name;

-- binary: COPY out and back in
\copy (SELECT function_name, t FROM states) TO 'results/traffic_states.bin' WITH (FORMAT binary)
CREATE TABLE states_copy (function_name text, t scaler.traffic);
\copy states_copy FROM 'results/traffic_states.bin' WITH (FORMAT binary)
SELECT s.function_name, c.t::text = s.t::text AS binary_round_trip
FROM states s JOIN states_copy c USING (function_name) ORDER BY 1;

-- combine: per-function partial states merged equal one pass over every row
SELECT NOT EXISTS (
         SELECT hourly_canon((SELECT scaler.traffic_merge(t) FROM states))
         EXCEPT ALL
         SELECT hourly_canon((SELECT scaler.traffic_agg(ts, duration_ms, status) FROM rt_rows)))
       AND (SELECT count(*) FROM hourly_canon((SELECT scaler.traffic_merge(t) FROM states))) =
           (SELECT count(*) FROM hourly_canon((SELECT scaler.traffic_agg(ts, duration_ms, status) FROM rt_rows)))
       AS merged_equals_one_pass;

-- merging in any order, and merging a value with itself doubles every count
SELECT NOT EXISTS (SELECT hourly_canon((SELECT scaler.traffic_merge(t ORDER BY function_name DESC) FROM states))
                   EXCEPT ALL
                   SELECT hourly_canon((SELECT scaler.traffic_merge(t ORDER BY function_name) FROM states)))
       AS order_free,
       (SELECT sum(requests) FROM scaler.hourly_requests(
            (SELECT scaler.traffic_merge(t) FROM (SELECT t FROM states UNION ALL SELECT t FROM states) x)))
       = 2 * (SELECT count(*) FROM rt_rows) AS doubled;

-- NULL states are ignored by the merge
SELECT scaler.traffic_merge(t) IS NULL AS all_null FROM (VALUES (NULL::scaler.traffic)) v(t);
SELECT (SELECT scaler.traffic_merge(t) FROM (SELECT t FROM states WHERE function_name = 'f1'
                                           UNION ALL SELECT NULL) x)::text =
       (SELECT t FROM states WHERE function_name = 'f1')::text AS null_ignored;

-- Merging sketches whose keys together span more than a sketch keeps (1,024
-- bins): the lowest collapse into the lowest bin kept, as in one pass over
-- every row, whatever the order.  All rows are in one quarter, which each
-- part has as a summary (64 rows or more): tiny durations (1e-6 to 1e-3 ms,
-- each in a key of its own), middle ones and large ones (up to 1e6 ms), so
-- that the median lies among the collapsed keys.
CREATE TABLE wide_rows AS
SELECT timestamptz '2026-11-02 10:00+00' + g * interval '1 second' AS ts,
       CASE WHEN g <= 150 THEN 1e-6 * power(1000, g / 150.0)
            WHEN g <= 220 THEN power(10, (g - 150) / 70.0)
            ELSE 1e3 * power(1000, (g - 220) / 80.0) END AS duration_ms,
       200 AS status,
       CASE WHEN g <= 150 THEN 'tiny' WHEN g <= 220 THEN 'middle' ELSE 'large' END AS part
FROM generate_series(1, 300) g;
CREATE TABLE wide_parts AS
SELECT part, scaler.traffic_agg(ts, duration_ms, status)::text AS v
FROM wide_rows GROUP BY part;
SELECT o.n AS merge_order,
       (SELECT scaler.traffic_merge(v::scaler.traffic ORDER BY array_position(o.parts, part))
        FROM wide_parts)::text
       = (SELECT scaler.traffic_agg(ts, duration_ms, status) FROM wide_rows)::text AS same_value,
       (SELECT p50_ms FROM scaler.hourly_requests(
            (SELECT scaler.traffic_merge(v::scaler.traffic ORDER BY array_position(o.parts, part))
             FROM wide_parts)))
       = (SELECT p50_ms FROM scaler.hourly_requests(
            (SELECT scaler.traffic_agg(ts, duration_ms, status) FROM wide_rows))) AS same_median
FROM (VALUES (1, ARRAY['tiny', 'middle', 'large']), (2, ARRAY['large', 'middle', 'tiny']),
             (3, ARRAY['middle', 'tiny', 'large']), (4, ARRAY['large', 'tiny', 'middle'])) o(n, parts)
ORDER BY 1;
-- the median is one of the collapsed keys: the lowest bin kept, well above
-- the 1e-6 to 1e-3 ms the tiny rows took
SELECT p50_ms > 1e-3 AND p50_ms < 1 AS median_collapsed,
       max_ms = 1e6 AS longest_kept
FROM scaler.hourly_requests((SELECT scaler.traffic_agg(ts, duration_ms, status) FROM wide_rows));
