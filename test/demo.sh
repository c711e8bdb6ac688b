#!/usr/bin/env bash
# demo.sh: the end-to-end demo, run by `make demo` inside test/with-cluster.sh
# (so PGHOST/PGPORT/PGUSER/PGDATABASE point at a throwaway cluster).
#
# The demo is a list of steps, each a shell function named step_*; `steps`
# at the bottom says which run in which order.  To extend it, add a function
# and list it there.  Any failing step stops the demo with a non-zero status.
set -euo pipefail

psql_bin=${SCALER_PGBIN:-/usr/lib/postgresql/15/bin}/psql

# sql: run SQL from stdin, stop at the first error, no psqlrc.
sql()
{
	"$psql_bin" -X -q -v ON_ERROR_STOP=1 --pset=footer=off
}

banner()
{
	printf '\n=== %s ===\n\n' "$*"
}

step_extension()
{
	banner "scaler extension"
	sql <<-'SQL'
	CREATE EXTENSION IF NOT EXISTS scaler;
	SELECT extname, extversion FROM pg_catalog.pg_extension WHERE extname = 'scaler';
	SQL
}

# One day of traffic for three functions, ending now, about 100k rows:
# - a daily shape: quiet at night, busiest mid-afternoon (local hours of the
#   session's TimeZone);
# - a spike on "api" of 8 minutes (from 20 past the hour, three hours
#   ago, so it lands in one hourly bucket), with slower responses and more
#   errors while it lasts;
# - log-normal durations (Box-Muller on random()), a few 5xx statuses, and
#   about 1% cold starts.
# setseed makes the rows the same on every run relative to now().
step_load_traffic()
{
	banner "one day of generated traffic in scaler.request_log"
	sql <<-'SQL'
	SELECT pg_catalog.setseed(0.42);
	WITH fn(function_name, share, median_ms) AS (
	    VALUES ('api', 0.60, 40.0), ('checkout', 0.25, 180.0), ('thumbnail', 0.15, 600.0)
	), minute AS (
	    SELECT m,
	           -- fraction of the busiest rate: 0.1 at night, 1.0 around 15:00
	           0.1 + 0.9 * exp(-power(extract(hour FROM m) + extract(minute FROM m) / 60.0 - 15, 2) / 32.0)
	               AS shape,
	           m >= date_trunc('hour', now()) - interval '3 hours' + interval '20 minutes'
	               AND m < date_trunc('hour', now()) - interval '3 hours' + interval '28 minutes'
	               AS spike
	    FROM generate_series(date_trunc('minute', now()) - interval '24 hours',
	                         date_trunc('minute', now()) - interval '1 minute',
	                         interval '1 minute') AS m
	), per_minute AS (
	    SELECT minute.m, minute.spike, fn.function_name, fn.median_ms,
	           round(140 * fn.share * minute.shape * (0.8 + 0.4 * random())
	                 + CASE WHEN minute.spike AND fn.function_name = 'api' THEN 450 ELSE 0 END)::int AS n
	    FROM minute CROSS JOIN fn
	)
	INSERT INTO scaler.request_log (ts, function_name, duration_ms, status, cold_start)
	SELECT p.m + random() * interval '1 minute',
	       p.function_name,
	       round((p.median_ms * CASE WHEN p.spike THEN 2.5 ELSE 1 END
	              * exp(0.6 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())))::numeric, 2)::float8,
	       CASE WHEN random() < CASE WHEN p.spike THEN 0.04 ELSE 0.004 END
	            THEN (ARRAY[500, 502, 503, 504])[1 + floor(random() * 4)::int]
	            ELSE 200 END,
	       random() < 0.01
	FROM per_minute AS p, generate_series(1, p.n);
	ANALYZE scaler.request_log;
	SELECT function_name, count(*) AS requests,
	       count(*) FILTER (WHERE status >= 500) AS errors,
	       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms)::numeric, 1) AS median_ms
	FROM scaler.request_log GROUP BY function_name ORDER BY function_name;
	SQL
}

step_hourly()
{
	banner "scaler.hourly_requests(now() - interval '24 hours', now())"
	sql <<-'SQL'
	SELECT * FROM scaler.hourly_requests(now() - interval '24 hours', now());
	SQL
}

# A plain-SQL bar chart of the same rows, so the daily shape and the spike
# are visible at a glance.
step_chart()
{
	banner "requests per hour"
	sql <<-'SQL'
	SELECT to_char(hour, 'MM-DD HH24:00') AS hour, requests,
	       repeat('#', (50.0 * requests / NULLIF(max(requests) OVER (), 0))::int) AS chart
	FROM scaler.hourly_requests(now() - interval '24 hours', now());
	SQL
}

step_hour_of_day()
{
	banner "scaler.hour_of_day: which hour is busiest"
	sql <<-'SQL'
	SELECT hour_of_day, requests
	FROM scaler.hour_of_day((SELECT scaler.traffic_agg(ts, duration_ms, status) FROM scaler.request_log));
	SQL
}

steps=(
	step_extension
	step_load_traffic
	step_hourly
	step_chart
	step_hour_of_day
)

for step in "${steps[@]}"; do
	"$step"
done
printf '\ndemo finished\n'
