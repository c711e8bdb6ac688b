#!/usr/bin/env bash
# bench/rollup.sh: reads through a rollup and what the rollup costs ingest.
# 90 days x 50 functions x BENCH_ROLLUP_ROWS rows (default 2 million, so
# that `make bench` stays short; the targets of issue 9 are for >= 20
# million: BENCH_ROLLUP_ROWS=20000000) in a table with a rollup, then
# medians of BENCH_RUNS runs of:
#   - hourly_requests of one function over 90 days        (target <= 10 ms)
#   - hourly_requests of all functions over 90 days       (target <= 10x one)
#   - forecast with a 14-day lookback                     (target <= 20 ms)
#   - the refresh after BENCH_ROLLUP_INGEST seconds (default 60) of
#     1,000 rows/s ingest (pgbench -R 1000)               (target <= 50 ms)
#   - pgbench ingest (single-row INSERTs, 4 clients, 10 s) into a table with
#     the rollup triggers and into one without          (target >= 90 %)
# Prints medians (with the peak memory of the reads' backends) and ratios;
# targets are reported, not enforced.  BENCH_ROLLUP_READS_ONLY=1 stops
# after the reads (for iterating on them against a kept table).  The table
# and its rollup are kept for the next run with the same number of rows
# (BENCH_ROLLUP_FRESH=1 builds them again).
set -euo pipefail

db=scaler_bench_rollup
# shellcheck source=test/bench/lib.sh
. "$(dirname "$0")/lib.sh"
rows=${BENCH_ROLLUP_ROWS:-2000000}
case "$rows" in '' | *[!0-9]*) die "BENCH_ROLLUP_ROWS must be a positive integer, not '$rows'" ;; esac
ingest_seconds=${BENCH_ROLLUP_INGEST:-60}
pgbench_bin=$SCALER_PGBIN/pgbench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

create_database
echo "rollup bench: $rows rows, 90 days x 50 functions, $runs runs"
# the table of an earlier run, kept if it has its rollup (asked only once
# the extension exists: the query names scaler.rollups)
kept=
if [ "$(value <<< "SELECT count(*) FROM pg_catalog.pg_extension WHERE extname = 'scaler'")" = 1 ]; then
	kept=$(value <<'SQL'
SELECT coalesce(obj_description(to_regclass('public.bench_rl'), 'pg_class'), '')
 WHERE EXISTS (SELECT FROM scaler.rollups WHERE source = to_regclass('public.bench_rl'));
SQL
)
fi
if [ "${BENCH_ROLLUP_FRESH:-0}" = 1 ] || [ "$kept" != "bench rows $rows" ]; then
sql <<SQL
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS scaler;
SELECT scaler.drop_rollup(source) FROM scaler.rollups WHERE source::text = 'bench_rl';
DROP TABLE IF EXISTS bench_rl, bench_plain;
SELECT scaler.drop_policy(name) FROM scaler.policy WHERE name = 'bench_rl';
CREATE TABLE bench_rl (LIKE scaler.request_log);
INSERT INTO bench_rl (ts, function_name, duration_ms, status)
SELECT now() - interval '90 days' + (i::float8 / $rows) * interval '90 days' - interval '2 minutes',
       'f' || (i % 50), (i % 997) * 0.37, CASE WHEN i % 101 = 0 THEN 503 ELSE 200 END
  FROM generate_series(1, $rows) i;
CREATE INDEX ON bench_rl (function_name, ts);
CREATE INDEX ON bench_rl (ts);
VACUUM ANALYZE bench_rl;
SELECT scaler.create_rollup('bench_rl');
SELECT scaler.create_policy('bench_rl', 1, metric => 'concurrency', function_name => 'f7', source => 'bench_rl');
SQL
start=$(date +%s)
while [ "$(value <<< "SELECT scaler.refresh_rollup('bench_rl')")" != 0 ]; do :; done
echo "backfill refresh: $(( $(date +%s) - start )) s, $(value <<< "SELECT slots FROM scaler.rollups WHERE source = 'bench_rl'::regclass") slots"
value <<< "COMMENT ON TABLE bench_rl IS 'bench rows $rows'" > /dev/null
else
	echo "kept from the last run: bench_rl and its rollup"
fi
# Up to date (the rows of the last run's ingest included): the reads see a
# watermark a minute old, as the worker keeps it.
while [ "$(value <<< "SELECT scaler.refresh_rollup('bench_rl')")" != 0 ]; do :; done

# timed QUERY RUNS: the median time of RUNS runs of QUERY after one to warm
# up, in a session of its own, and that backend's peak memory (VmHWM, from
# /proc/<pid>/status, read as root or as the server's user; it counts the
# shared buffers the backend touched); prints "ms MB".
timed()
{
	"$psql_bin" -X -q -v ON_ERROR_STOP=1 -t -A -d "$db" <<-SQL | tr '\n' ' '
	SELECT pg_backend_pid() AS pid \gset
	\setenv BENCH_PID :pid
	CREATE FUNCTION pg_temp.median_ms(q text, n int) RETURNS float8 LANGUAGE plpgsql AS \$\$
	DECLARE
	    t0 timestamptz;
	    times float8[] := '{}';
	BEGIN
	    EXECUTE q;
	    FOR i IN 1..n LOOP
	        t0 := clock_timestamp();
	        EXECUTE q;
	        times := times || extract(epoch FROM clock_timestamp() - t0) * 1000;
	    END LOOP;
	    RETURN (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(times) x);
	END \$\$;
	SELECT round(pg_temp.median_ms(\$q\$$1\$q\$, $2)::numeric, 2);
	\! awk '/^VmHWM/ { printf "%d\\n", \$2 / 1024 }' /proc/\$BENCH_PID/status
	SQL
}
read -r one one_mb <<< "$(timed "SELECT count(*) FROM scaler.hourly_requests(now() - interval '90 days', now(), 'f7', 'bench_rl')" "$runs")"
read -r all all_mb <<< "$(timed "SELECT count(*) FROM scaler.hourly_requests(now() - interval '90 days', now(), NULL, 'bench_rl')" "$runs")"
read -r forecast forecast_mb <<< "$(timed "SELECT count(*) FROM scaler.forecast('bench_rl', '24 hours', '14 days')" "$runs")"
echo "hourly_requests, one function, 90 days: median $one ms, peak $one_mb MB (target <= 10 ms)"
echo "hourly_requests, all functions, 90 days: median $all ms, peak $all_mb MB, $(awk -v a="$all" -v o="$one" 'BEGIN { printf "%.1f", a / o }')x one (target <= 10x)"
echo "forecast, 14-day lookback: median $forecast ms, peak $forecast_mb MB (target <= 20 ms)"
[ "${BENCH_ROLLUP_READS_ONLY:-0}" = 1 ] && exit 0

# A minute of 1,000 rows/s whose ts lie in the minute the next refresh
# appends (ts = now() - 1 minute: past the watermark, before its target).
cat > "$work/late_minute.sql" <<'SQL'
INSERT INTO bench_rl (ts, function_name, duration_ms, status)
VALUES (now() - interval '1 minute', 'f' || (random() * 49)::int, random() * 300, 200);
SQL
value <<< "SELECT scaler.refresh_rollup('bench_rl')" > /dev/null
"$pgbench_bin" -n -d "$db" -f "$work/late_minute.sql" -R 1000 -c 2 -T "$ingest_seconds" > /dev/null 2>&1
refresh=$(value <<'SQL'
CREATE FUNCTION pg_temp.t() RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN PERFORM scaler.refresh_rollup('bench_rl'); RETURN extract(epoch FROM clock_timestamp() - t0) * 1000; END $$;
SELECT round(pg_temp.t()::numeric, 2);
SQL
)
echo "refresh after ${ingest_seconds} s of 1,000 rows/s: $refresh ms (target <= 50 ms)"

# Ingest with and without the rollup's triggers: rows of now, 4 clients,
# into tables of their own (bench_rl keeps the shape of 1,000 rows/s for
# the next run's reads); the rollup has a watermark, so its trigger looks
# at every row as it does on bench_rl.
sql <<'SQL'
SET client_min_messages = warning;
SELECT scaler.drop_rollup(source) FROM scaler.rollups WHERE source::text = 'bench_ingest_rl';
DROP TABLE IF EXISTS bench_ingest_rl, bench_ingest_plain;
CREATE TABLE bench_ingest_rl (LIKE bench_rl INCLUDING INDEXES);
CREATE TABLE bench_ingest_plain (LIKE bench_rl INCLUDING INDEXES);
INSERT INTO bench_ingest_rl VALUES (now() - interval '2 minutes', 'f0', 1, 200);
SELECT scaler.create_rollup('bench_ingest_rl');
SELECT scaler.refresh_rollup('bench_ingest_rl');
SQL
for t in bench_ingest_plain bench_ingest_rl; do
	echo "INSERT INTO $t (ts, function_name, duration_ms, status) VALUES (now(), 'f' || (random() * 49)::int, random() * 300, 200);" > "$work/$t.sql"
done
tps()
{
	"$pgbench_bin" -n -d "$db" -f "$work/$1.sql" -c 4 -j 2 -T 10 2>/dev/null |
		sed -n 's/^tps = \([0-9.]*\).*/\1/p'
}
plain_runs=() rollup_runs=()
for _ in 1 2 3; do
	plain_runs+=("$(tps bench_ingest_plain)")
	rollup_runs+=("$(tps bench_ingest_rl)")
done
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
plain=$(median "${plain_runs[@]}")
rolled=$(median "${rollup_runs[@]}")
echo "ingest: without rollup $plain tps, with the rollup triggers $rolled tps, $(awk -v a="$rolled" -v b="$plain" 'BEGIN { printf "%.1f", 100 * a / b }') % (target >= 90 %)"
