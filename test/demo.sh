#!/usr/bin/env bash
# demo.sh: the end-to-end demo, run by `make demo` inside test/with-cluster.sh
# (so PGHOST/PGPORT/PGUSER/PGDATABASE point at a throwaway cluster).
#
# The demo is a list of steps, each a shell function named step_*; `steps`
# at the bottom says which run in which order.  To extend it, add a function
# and list it there.  Any failing step stops the demo with a non-zero status.
set -euo pipefail

# shellcheck source=test/lib.sh
. "$(dirname "$0")/lib.sh"

# sql [PSQL OPTIONS]: run SQL from stdin, stop at the first error, no psqlrc.
sql()
{
	"$SCALER_PGBIN/psql" -X -q -v ON_ERROR_STOP=1 --pset=footer=off "$@"
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
	banner "scaler.hourly_requests(): the last 24 hours of scaler.request_log"
	sql <<-'SQL'
	SELECT to_char(hour, 'MM-DD HH24:MI') AS hour, requests, errors,
	       round(error_rate::numeric, 4) AS error_rate, round(p50_ms::numeric, 1) AS p50_ms,
	       round(p95_ms::numeric, 1) AS p95_ms, round(p99_ms::numeric, 1) AS p99_ms,
	       peak_rpm, round(avg_concurrency::numeric, 2) AS avg_conc,
	       round(peak_concurrency::numeric, 2) AS peak_conc
	FROM scaler.hourly_requests();
	SQL
}

step_chart()
{
	banner "scaler.hourly_chart(): the daily shape and the spike at a glance"
	sql <<-'SQL'
	SELECT * FROM scaler.hourly_chart();
	SQL
}

step_hour_of_day()
{
	banner "scaler.hour_of_day: which hours are busiest"
	sql <<-'SQL'
	SELECT hour_of_day, avg_requests, peak_requests
	FROM scaler.hour_of_day((SELECT scaler.traffic_agg(ts, duration_ms, status) FROM scaler.request_log))
	ORDER BY avg_requests DESC NULLS LAST LIMIT 5;
	SQL
}

# A policy for "api": one instance per 4 concurrent requests, measured over
# the last 30 seconds.  The background worker (preloaded in the demo
# cluster) evaluates it every second.
step_policy()
{
	banner "a scaling policy, evaluated by the background worker every second"
	sql <<-'SQL'
	ALTER SYSTEM SET scaler.naptime = '1s';
	SELECT pg_reload_conf();
	SELECT scaler.create_policy('api', target => 4, function_name => 'api',
	                            stable_window => '30 seconds', min_capacity => 1,
	                            max_capacity => 40, scale_in_stabilization => '1 minute');
	SELECT name, metric, target, min_capacity, max_capacity, capacity FROM scaler.policies;
	SQL
}

listener_pid=
listener_log=
stop_listener()
{
	if [ -n "$listener_pid" ]; then
		kill -TERM "$listener_pid" 2>/dev/null || true
		wait "$listener_pid" 2>/dev/null || true
		listener_pid=
	fi
	[ -n "$listener_log" ] && rm -f "$listener_log" "$listener_log.err"
}
on_exit stop_listener

# scaler-listen runs a command per decision: here it logs the new capacity,
# where a real deployment would call its platform's API.
step_listener()
{
	banner "scaler-listen: a command per decision"
	listener_log=$(mktemp)
	echo "scaler-listen --name demo --exec 'echo \"\$SCALER_POLICY: \$SCALER_FROM -> \$SCALER_TO ...\"'"
	scaler-listen --name demo --exec \
		'echo "$(date +%T) capacity of $SCALER_POLICY: $SCALER_FROM -> $SCALER_TO (decision $SCALER_DECISION_ID)"' \
		>"$listener_log" 2>"$listener_log.err" &
	listener_pid=$!
	for _ in $(seq 1 100); do
		grep -q listening "$listener_log.err" && break
		sleep 0.1
	done
	if ! grep -q listening "$listener_log.err"; then
		cat "$listener_log.err" >&2
		echo "demo: scaler-listen did not start" >&2
		exit 1
	fi
	cat "$listener_log.err"
}

# A burst on "api": 10 seconds of 200 slow requests a second.  The worker
# sees the concurrency jump, decides, and the listener acts.
step_burst()
{
	banner "a burst of requests on api"
	for second in $(seq 1 10); do
		sql <<-'SQL'
		INSERT INTO scaler.request_log (ts, function_name, duration_ms, status)
		SELECT now() - random() * interval '1 second', 'api', 150 + random() * 150, 200
		FROM generate_series(1, 200);
		SQL
		printf 'second %2d: 200 requests\n' "$second"
		sleep 1
	done
}

step_decisions()
{
	banner "decisions arriving at the listener"
	for _ in $(seq 1 60); do
		if grep -q 'capacity of api: [0-9]* -> [0-9]*' "$listener_log" &&
			awk '/capacity of api/ { if ($NF + 0 > 0 && $(NF - 3) + 0 > 1) found = 1 } END { exit !found }' \
				<(sed 's/(decision \([0-9]*\))/\1/' "$listener_log"); then
			break
		fi
		sleep 1
	done
	cat "$listener_log"
	if ! grep -qE 'capacity of api: [0-9]+ -> ([2-9]|[1-9][0-9])' "$listener_log"; then
		echo "demo: no scale-out decision reached the listener within 60 s" >&2
		exit 1
	fi
	sql <<-'SQL'
	SELECT id, policy, to_char(decided_at, 'HH24:MI:SS') AS at, metric, round(value::numeric, 2) AS value,
	       from_capacity, to_capacity, reason
	FROM scaler.decision ORDER BY id;
	SELECT name, capacity, round(last_value::numeric, 2) AS last_value, panicking FROM scaler.policies;
	SQL
	stop_listener
}

# The day as a picture: requests per hour, the busiest minute, p95 and
# errors, and under it the capacity the "api" policy would have run over the
# day (a backtest replay with the live decision code), next to the checkout.
step_svg()
{
	local out
	banner "scaler.traffic_svg(): the day and the policy's capacity as a picture"
	out=$(cd "$(dirname "$0")/.." && pwd)/demo-traffic.svg
	sql -At <<-'SQL' >"$out"
	SELECT scaler.traffic_svg(since => now() - interval '24 hours', until => now(),
	                          function_name => 'api', policy => 'api', replay => true);
	SQL
	if ! head -n 1 "$out" | grep -q '^<?xml' || [ "$(tail -n 1 "$out")" != '</svg>' ]; then
		echo "demo: traffic_svg wrote no SVG document to $out" >&2
		exit 1
	fi
	echo "SELECT scaler.traffic_svg(since => now() - interval '24 hours', until => now(),"
	echo "                          function_name => 'api', policy => 'api', replay => true)"
	echo "wrote $out ($(wc -c <"$out") bytes): open it in a browser"
}

steps=(
	step_extension
	step_load_traffic
	step_hourly
	step_chart
	step_hour_of_day
	step_policy
	step_listener
	step_burst
	step_decisions
	step_svg
)

for step in "${steps[@]}"; do
	"$step"
done
printf '\ndemo finished\n'
