#!/usr/bin/env bash
# traffic.sh: benchmark of the scaler.traffic value at the shape of
# serverless traffic (issue 11's targets): tiny values over long spans,
# whole-table statistics with rows in time order and in random order,
# heavy-tailed per-function grouping, 10,000 functions over a week, and a
# rare function over 90 days.
#
# Every measurement runs BENCH_RUNS times (default 5), each in a fresh
# backend, and prints the median time and the largest peak memory of that
# backend (VmHWM from /proc/<pid>/status, read as root or as the server's
# user), next to the reference it is compared with, measured in the same
# rounds (alternating, so the shared machine's load hits both alike).
# Targets are reported PASS/MISS, never enforced: the exit status is non-zero
# only when something fails to run.  Data sets are made once per size and
# kept in database BENCH_DATABASE (default scaler_bench_traffic).
#
#   test/with-cluster.sh test/bench/traffic.sh
#   BENCH_ROWS=1000000 BENCH_RUNS=3 test/with-cluster.sh test/bench/traffic.sh
#
# BENCH_ROWS (default 5 million) sizes the whole-table and 10,000-function
# sets; the per-function day has about 2.5 million rows whatever it is.
set -euo pipefail

db=${BENCH_DATABASE:-scaler_bench_traffic}
export BENCH_ROWS=${BENCH_ROWS:-5000000}
# shellcheck source=test/bench/lib.sh
. "$(dirname "$0")/lib.sh"

results=$(mktemp)
trap 'rm -f "$results"' EXIT

# once LABEL SETTINGS QUERY: one run in a new backend; prints "ms kB".
once()
{
	local settings=$2 query=$3
	"$psql_bin" -X -q -v ON_ERROR_STOP=1 -t -A -d "$db" <<-SQL
	SET jit = off;
	$settings
	SELECT pg_backend_pid() AS pid \gset
	\setenv BENCH_PID :pid
	SELECT clock_timestamp() AS t0 \gset
	SELECT count(q.*) FROM ($query) q \g /dev/null
	SELECT round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000, 1);
	\! awk '/^VmHWM/ { print \$2 }' /proc/\$BENCH_PID/status
	SQL
}

# compare NAME TARGET_RATIO SETTINGS QUERY REF_SETTINGS REF_QUERY: medians of
# both, alternating runs; prints one line and records it.
compare()
{
	local name=$1 target=$2 settings=$3 query=$4 ref_settings=$5 ref_query=$6
	local i out ms kb ref_ms mine=() refs=() hwm=0 ref_hwm=0 med ref_med ratio verdict

	for ((i = 0; i < runs; i++)); do
		out=$(once mine "$settings" "$query" | tr '\n' ' ')
		read -r ms kb <<< "$out"
		mine+=("$ms")
		[ "${kb:-0}" -gt "$hwm" ] && hwm=$kb
		out=$(once ref "$ref_settings" "$ref_query" | tr '\n' ' ')
		read -r ref_ms kb <<< "$out"
		refs+=("$ref_ms")
		[ "${kb:-0}" -gt "$ref_hwm" ] && ref_hwm=$kb
	done
	med=$(printf '%s\n' "${mine[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
	ref_med=$(printf '%s\n' "${refs[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
	ratio=$(awk -v a="$med" -v b="$ref_med" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
	verdict=$(awk -v r="$ratio" -v t="$target" 'BEGIN { print (t == "" ? "-" : (r <= t ? "PASS" : "MISS")) }')
	printf '%-58s %9s ms %7d MB | ref %9s ms %7d MB | %6sx (target <= %s) %s\n' \
		"$name" "$med" $((hwm / 1024)) "$ref_med" $((ref_hwm / 1024)) "$ratio" "${target:--}" "$verdict" |
		tee -a "$results"
}

setup()
{
	create_database
	sql <<-SQL
	SET client_min_messages = warning;
	CREATE EXTENSION IF NOT EXISTS scaler;
	CREATE SCHEMA IF NOT EXISTS bench;
	SELECT setseed(0.11);
	-- the transition function through a new FmgrInfo per row, as Citus calls it
	DROP AGGREGATE IF EXISTS bench.traffic_fresh(timestamptz, float8, int4);
	CREATE AGGREGATE bench.traffic_fresh(timestamptz, float8, int4) (
	    SFUNC = scaler._traffic_trans_fresh, STYPE = scaler.traffic,
	    FINALFUNC = scaler.traffic_agg_final, COMBINEFUNC = scaler.traffic_agg_combine);

	-- whole table: $rows rows over 30 days of 50 functions, in time order
	-- and the same rows in random order; and those with their times
	-- compressed into 10 days, to show what the span costs rows in random
	-- order (docs/performance.md)
	DO \$\$
	BEGIN
	    IF to_regclass('bench.ordered') IS NOT NULL AND
	       to_regclass('bench.shuffled_10d') IS NOT NULL THEN
	        IF (SELECT count(*) FROM bench.ordered) = $rows THEN
	            RETURN;
	        END IF;
	    END IF;
	    DROP TABLE IF EXISTS bench.ordered, bench.shuffled, bench.shuffled_10d;
	    CREATE TABLE bench.ordered AS
	    SELECT timestamptz '2026-06-01 00:00+00' + i * (interval '30 days' / $rows) AS ts,
	           'fn' || (i % 50) AS function_name,
	           exp(random() * 7) AS duration_ms,
	           CASE WHEN random() < 0.01 THEN 503 ELSE 200 END AS status
	    FROM generate_series(1, $rows) i;
	    CREATE TABLE bench.shuffled AS SELECT * FROM bench.ordered ORDER BY random();
	    CREATE TABLE bench.shuffled_10d AS
	    SELECT timestamptz '2026-06-01 00:00+00' + (ts - timestamptz '2026-06-01 00:00+00') / 3 AS ts,
	           function_name, duration_ms, status
	    FROM bench.shuffled;
	END
	\$\$;

	-- per function: 1,000 functions over 24 hours, heavy-tailed (function
	-- k gets a share ~ 1/k^1.1: the busiest hundreds a minute, most a few
	-- an hour), in bursts (an active minute has its function's load), with
	-- idle gaps; rows out of time order
	DO \$\$
	BEGIN
	    IF to_regclass('bench.day') IS NOT NULL THEN
	        RETURN;
	    END IF;
	    CREATE TABLE bench.day AS
	    SELECT ts, function_name, duration_ms, status FROM (
	        SELECT timestamptz '2026-06-01 00:00+00' + m * interval '1 minute' + random() * interval '1 minute' AS ts,
	               'fn' || k AS function_name,
	               exp(random() * 6) AS duration_ms,
	               CASE WHEN random() < 0.01 THEN 500 ELSE 200 END AS status
	        FROM generate_series(1, 1000) k,
	             LATERAL generate_series(0, 1439) m,
	             LATERAL generate_series(1, (CASE WHEN random() < least(1.0, 40.0 / k) THEN ceil(600.0 / k ^ 1.1) ELSE 0 END)::int)
	        WHERE (m / 37 + k) % 5 <> 0) s
	    ORDER BY random();
	END
	\$\$;

	-- 10,000 functions over 7 days, $rows rows, heavy-tailed, random order
	DO \$\$
	BEGIN
	    IF to_regclass('bench.week') IS NOT NULL THEN
	        IF (SELECT count(*) FROM bench.week) = $rows THEN
	            RETURN;
	        END IF;
	    END IF;
	    DROP TABLE IF EXISTS bench.week;
	    CREATE TABLE bench.week AS
	    SELECT timestamptz '2026-06-01 00:00+00' + random() * interval '7 days' AS ts,
	           'fn' || (floor(10000 * random() ^ 3))::int AS function_name,
	           exp(random() * 6) AS duration_ms,
	           CASE WHEN random() < 0.01 THEN 500 ELSE 200 END AS status
	    FROM generate_series(1, $rows);
	END
	\$\$;

	-- 90 days of a log with a rare function (100 rows) among busy ones
	DO \$\$
	BEGIN
	    IF to_regclass('bench.quarter_log') IS NOT NULL THEN
	        RETURN;
	    END IF;
	    CREATE TABLE bench.quarter_log (LIKE scaler.request_log);
	    INSERT INTO bench.quarter_log
	    SELECT timestamptz '2026-03-01 00:00+00' + random() * interval '90 days', 'busy' || (i % 20),
	           exp(random() * 6), 200
	    FROM generate_series(1, 1000000) i;
	    INSERT INTO bench.quarter_log
	    SELECT timestamptz '2026-03-01 00:00+00' + random() * interval '90 days', 'rare',
	           exp(random() * 6), 200
	    FROM generate_series(1, 100);
	    CREATE INDEX ON bench.quarter_log (function_name, ts);
	END
	\$\$;
	VACUUM ANALYZE bench.ordered, bench.shuffled, bench.shuffled_10d, bench.day, bench.week, bench.quarter_log;
	SQL
}

tiny_values()
{
	echo "Tiny values over long spans (sizes in bytes; times of aggregate + text + recv + hourly_requests LIMIT):"
	sql <<-'SQL'
	\timing off
	WITH v AS (
	    SELECT 'a week apart' AS pair, scaler.traffic_agg(ts, 12.5, 200) AS t
	    FROM (VALUES (timestamptz '2026-01-01 10:00+00'), ('2026-01-08 10:00+00')) x(ts)
	    UNION ALL
	    SELECT '160 years apart', scaler.traffic_agg(ts, 12.5, 200)
	    FROM (VALUES (timestamptz '1866-01-01 10:00+00'), ('2026-01-01 10:00+00')) x(ts))
	SELECT pair, pg_column_size(t) AS disk, length(scaler.traffic_send(t)) AS binary,
	       length(t::text) AS text FROM v;
	SQL
	compare "2 rows 160 years apart: agg, out, in, first report row" "" "" \
		"SELECT (SELECT hour FROM scaler.hourly_requests(((SELECT scaler.traffic_agg(ts, 12.5, 200) FROM (VALUES (timestamptz '1866-01-01 10:00+00'), ('2026-01-01 10:00+00')) x(ts))::text)::scaler.traffic) LIMIT 0)" \
		"" "SELECT 1"
}

# full_statistics TABLE: the query of full statistics over bench.TABLE.
full_statistics()
{
	echo "SELECT h.* FROM (SELECT scaler.traffic_agg(ts, duration_ms, status) t FROM bench.$1) a, scaler.hourly_requests(a.t) h"
}

whole_table()
{
	local serial="SET max_parallel_workers_per_gather = 0;"
	local t
	echo
	echo "Whole table, $rows rows (serial; reference: SELECT count(*) of the same table):"
	for t in ordered shuffled; do
		compare "traffic_agg(ts), rows $t" 1.3 "$serial" \
			"SELECT scaler.traffic_agg(ts) FROM bench.$t" "$serial" "SELECT count(*) FROM bench.$t"
		compare "full statistics + hourly_requests, rows $t" 1.6 "$serial" \
			"$(full_statistics "$t")" "$serial" "SELECT count(*) FROM bench.$t"
	done
	compare "the same, shuffled rows compressed into 10 days" "" "$serial" \
		"$(full_statistics shuffled_10d)" "$serial" "SELECT count(*) FROM bench.shuffled_10d"
	compare "full statistics, a new FmgrInfo per row (as Citus) vs native" "" "$serial" \
		"SELECT bench.traffic_fresh(ts, duration_ms, status) FROM bench.shuffled" \
		"$serial" "SELECT scaler.traffic_agg(ts, duration_ms, status) FROM bench.shuffled"
}

per_function()
{
	local serial="SET max_parallel_workers_per_gather = 0;"
	local n
	n=$(value <<< "SELECT count(*) || ' rows, ' || count(DISTINCT function_name) || ' functions' FROM bench.day")
	echo
	echo "Per function, a heavy-tailed day ($n; reference: count(*) GROUP BY function_name, hour):"
	compare "GROUP BY function_name, then hourly_requests (serial)" 1.0 "$serial" \
		"SELECT g.function_name, h.* FROM (SELECT function_name, scaler.traffic_agg(ts, duration_ms, status) t FROM bench.day GROUP BY 1) g, scaler.hourly_requests(g.t) h" \
		"$serial" "SELECT function_name, date_trunc('hour', ts), count(*) FROM bench.day GROUP BY 1, 2"
	compare "the same, default plan" 1.0 "" \
		"SELECT g.function_name, h.* FROM (SELECT function_name, scaler.traffic_agg(ts, duration_ms, status) t FROM bench.day GROUP BY 1) g, scaler.hourly_requests(g.t) h" \
		"" "SELECT function_name, date_trunc('hour', ts), count(*) FROM bench.day GROUP BY 1, 2"
}

ten_thousand()
{
	local wm="SET work_mem = '64MB';"
	local mine="SELECT g.function_name, h.* FROM (SELECT function_name, scaler.traffic_agg(ts, duration_ms, status) t FROM bench.week GROUP BY 1) g, scaler.hourly_requests(g.t) h"
	local plain="SELECT function_name, date_trunc('hour', ts), count(*), count(*) FILTER (WHERE status >= 500), percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY duration_ms), max(duration_ms), sum(duration_ms) / 3600000.0 FROM bench.week GROUP BY 1, 2"
	echo
	echo "10,000 functions over 7 days, $rows rows, work_mem 64MB (reference: plain SQL with percentile_cont):"
	compare "GROUP BY function_name + hourly_requests (serial)" 1.0 \
		"$wm SET max_parallel_workers_per_gather = 0;" "$mine" \
		"$wm SET max_parallel_workers_per_gather = 0;" "$plain"
	compare "default plan (parallel) vs serial" 1.0 "$wm" "$mine" \
		"$wm SET max_parallel_workers_per_gather = 0;" "$mine"
	echo "the hash aggregate, serial:"
	sql <<-SQL | grep -E "HashAggregate|Batches|Memory|Disk" | sed 's/^/    /'
	$wm SET max_parallel_workers_per_gather = 0; SET jit = off;
	EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF)
	SELECT function_name, scaler.traffic_agg(ts, duration_ms, status) FROM bench.week GROUP BY 1;
	SQL
}

rare_function()
{
	echo
	echo "A function with 100 rows over 90 days, hourly_requests gap-filled (reference: plain SQL, gap-filled):"
	compare "hourly_requests(since, until, 'rare', source)" 2.0 "" \
		"SELECT * FROM scaler.hourly_requests('2026-03-01', '2026-05-30', 'rare', 'bench.quarter_log')" \
		"" "SELECT g.hour, count(l.ts), percentile_cont(0.95) WITHIN GROUP (ORDER BY l.duration_ms) FROM generate_series(timestamptz '2026-03-01', timestamptz '2026-05-30' - interval '1 hour', interval '1 hour') g(hour) LEFT JOIN bench.quarter_log l ON l.function_name = 'rare' AND l.ts >= '2026-03-01' AND l.ts < '2026-05-30' AND date_trunc('hour', l.ts) = g.hour GROUP BY 1"
}

setup
tiny_values
whole_table
per_function
ten_thousand
rare_function
echo
echo "summary: $(grep -c PASS "$results" || true) PASS, $(grep -c MISS "$results" || true) MISS"
