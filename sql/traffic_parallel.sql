-- Parallel and partitionwise plans give the same results as serial ones.
SET timezone = 'Asia/Kolkata';
SELECT setseed(0.9);
CREATE TABLE par_rows AS
SELECT 'f' || (random() * 5)::int AS function_name,
       timestamptz '2026-07-01 00:00+00' + random() * interval '10 days' AS ts,
       exp(random() * 6) AS duration_ms,
       CASE WHEN random() < 0.02 THEN 502 ELSE 200 END AS status
FROM generate_series(1, 200000);
ANALYZE par_rows;

-- Every figure, as printed: sums are exact integers, so any split of the
-- rows must print bit-identical rows (and build the identical value: the
-- value's digest is checked per group below).
CREATE OR REPLACE FUNCTION hourly_canon(t scaler.traffic) RETURNS SETOF text
LANGUAGE sql AS $$
    SELECT h::text FROM scaler.hourly_requests(t) h
$$;

SET max_parallel_workers_per_gather = 0;
CREATE TABLE serial_all AS SELECT hourly_canon(scaler.traffic_agg(ts, duration_ms, status)) AS h FROM par_rows;
CREATE TABLE serial_grouped AS
SELECT function_name, hourly_canon(t) AS h
FROM (SELECT function_name, scaler.traffic_agg(ts, duration_ms, status) AS t FROM par_rows GROUP BY 1) g;

CREATE TABLE serial_values AS
SELECT function_name, md5(scaler.traffic_agg(ts, duration_ms, status)::text) AS digest
FROM par_rows GROUP BY 1;

-- and the same for rows without duration or error, which a value counts
-- in a tally once they are dense (par_rows is in random time order)
CREATE TABLE serial_plain AS
SELECT function_name, md5(scaler.traffic_agg(ts)::text) AS digest
FROM par_rows GROUP BY 1
UNION ALL SELECT NULL, md5(scaler.traffic_agg(ts)::text) FROM par_rows;

SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT scaler.traffic_agg(ts, duration_ms, status) FROM par_rows;
SELECT NOT EXISTS (SELECT hourly_canon(scaler.traffic_agg(ts, duration_ms, status)) FROM par_rows
                   EXCEPT ALL SELECT h FROM serial_all)
       AND (SELECT count(*) FROM serial_all) =
           (SELECT count(*) FROM (SELECT hourly_canon(scaler.traffic_agg(ts, duration_ms, status)) FROM par_rows) x)
       AS parallel_equals_serial;

SET enable_hashagg = off;
EXPLAIN (COSTS OFF)
SELECT function_name, scaler.traffic_agg(ts, duration_ms, status) FROM par_rows GROUP BY 1;
SELECT NOT EXISTS (
    SELECT function_name, hourly_canon(t)
    FROM (SELECT function_name, scaler.traffic_agg(ts, duration_ms, status) AS t FROM par_rows GROUP BY 1) g
    EXCEPT ALL SELECT * FROM serial_grouped) AS parallel_grouped_equals_serial;
SELECT NOT EXISTS (
    SELECT function_name, md5(scaler.traffic_agg(ts, duration_ms, status)::text) FROM par_rows GROUP BY 1
    EXCEPT ALL SELECT * FROM serial_values) AS parallel_values_equal_serial;
SELECT NOT EXISTS (
    SELECT function_name, md5(scaler.traffic_agg(ts)::text) FROM par_rows GROUP BY 1
    UNION ALL SELECT NULL, md5(scaler.traffic_agg(ts)::text) FROM par_rows
    EXCEPT ALL SELECT * FROM serial_plain) AS parallel_plain_values_equal_serial;
RESET enable_hashagg;

-- partitionwise: partial aggregation per partition, combined above
CREATE TABLE part_rows (function_name text, ts timestamptz, duration_ms float8, status int)
    PARTITION BY RANGE (ts);
CREATE TABLE part_rows_1 PARTITION OF part_rows FOR VALUES FROM ('2026-07-01') TO ('2026-07-04');
CREATE TABLE part_rows_2 PARTITION OF part_rows FOR VALUES FROM ('2026-07-04') TO ('2026-07-08');
CREATE TABLE part_rows_3 PARTITION OF part_rows FOR VALUES FROM ('2026-07-08') TO ('2026-08-01');
INSERT INTO part_rows SELECT * FROM par_rows;
ANALYZE part_rows;
SET max_parallel_workers_per_gather = 0;
SET enable_partitionwise_aggregate = on;
EXPLAIN (COSTS OFF)
SELECT function_name, scaler.traffic_agg(ts, duration_ms, status) FROM part_rows GROUP BY 1;
SELECT NOT EXISTS (
    SELECT function_name, hourly_canon(t)
    FROM (SELECT function_name, scaler.traffic_agg(ts, duration_ms, status) AS t FROM part_rows GROUP BY 1) g
    EXCEPT ALL SELECT * FROM serial_grouped)
   AND (SELECT count(*) FROM serial_grouped) =
       (SELECT count(*) FROM (SELECT function_name, hourly_canon(t)
        FROM (SELECT function_name, scaler.traffic_agg(ts, duration_ms, status) AS t
              FROM part_rows GROUP BY 1) g) x)
   AS partitionwise_equals_serial;
SELECT NOT EXISTS (
    SELECT function_name, md5(scaler.traffic_agg(ts, duration_ms, status)::text) FROM part_rows GROUP BY 1
    EXCEPT ALL SELECT * FROM serial_values) AS partitionwise_values_equal_serial;
SELECT NOT EXISTS (
    SELECT function_name, md5(scaler.traffic_agg(ts)::text) FROM part_rows GROUP BY 1
    EXCEPT ALL SELECT * FROM serial_plain WHERE function_name IS NOT NULL)
    AS partitionwise_plain_values_equal_serial;

-- hash aggregation that spills to disk gives the same states
SET max_parallel_workers_per_gather = 0;
SET work_mem = '64kB';
SET enable_sort = off;
SELECT NOT EXISTS (
    SELECT function_name, hourly_canon(t)
    FROM (SELECT function_name, scaler.traffic_agg(ts, duration_ms, status) AS t FROM par_rows GROUP BY 1) g
    EXCEPT ALL SELECT * FROM serial_grouped) AS spilled_equals_serial;
RESET work_mem;
RESET enable_sort;

-- as a window aggregate, with growing and with moving frames
SELECT ts, (SELECT sum(requests) FROM scaler.hourly_requests(running)) AS running,
       (SELECT sum(requests) FROM scaler.hourly_requests(last3)) AS last3
FROM (SELECT ts,
             scaler.traffic_agg(ts) OVER (ORDER BY ts) AS running,
             scaler.traffic_agg(ts) OVER (ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS last3
      FROM par_rows WHERE function_name = 'f1' ORDER BY ts LIMIT 5) w;
