#!/usr/bin/env bash
# coldstart.sh: benchmark of cold starts and warm-idle time (issue 10): a
# fixed keep-alive of 10 minutes, 20 minutes and 1 hour against
# keep_alive 'auto' (the idle-time histogram of src/keepalive.c), each
# replayed for every function through scaler.backtest_summary().
#
# Runs against an already running server (PGHOST/PGPORT/PGUSER/PGDATABASE;
# test/with-cluster.sh provides one), in its own database (BENCH_DATABASE,
# default scaler_bench_coldstart), which it creates along with the extension.
#
# The traffic, cs.log: BENCH_FUNCTIONS (default 500, at least 20) functions
# over 3 days (day 1 is the warm-up the replay learns from; days 2 and 3 are
# replayed), serverless-shaped, a fixed random seed (the same data every
# run; a table of the same size is reused):
#   30% http     requests every minute at a rate log-uniform in 0.02 - 20
#                per minute (three orders of magnitude), with a daily wave
#   30% timer    one call every 1, 2, 5, 10, 15, 30, 60 or 120 minutes
#   25% bursty   bursts of 2 - 10 requests over 2 minutes, separated by idle
#                gaps log-normal around a median of 5 minutes to 3 hours
#   15% rare     a request in a minute with probability 0.002 - 0.02
# so rates span four orders of magnitude (0.002 to 20 per minute).
# Each function has a policy: concurrency, target 1, one-minute steps,
# scale_in_stabilization 0 (so that the keep-alive alone decides when the
# last instance goes), min_capacity 0.
#
# Prints, per keep-alive: the 75th percentile across functions of
# cold_start_pct (the measure of Shahrad et al., ATC 2020), the share of
# functions without any cold start, the total warm-idle instance-hours
# relative to the fixed 10 minutes, and how long the 500 summaries took.
# Targets (reported PASS/MISS, not enforced): auto's p75 cold-start
# percentage at most half of fixed 10 minutes' with no more warm-idle time,
# and each variant's replay of all functions under 10 s.  The exit status
# is non-zero only when something fails to run.
#
#   test/with-cluster.sh test/bench/coldstart.sh
#   BENCH_FUNCTIONS=100 test/with-cluster.sh test/bench/coldstart.sh
set -euo pipefail

nfn=${BENCH_FUNCTIONS:-500}
db=${BENCH_DATABASE:-scaler_bench_coldstart}
# shellcheck source=test/bench/lib.sh
. "$(dirname "$0")/lib.sh"

case "$nfn" in '' | *[!0-9]*) die "BENCH_FUNCTIONS must be an integer >= 20, not '$nfn'" ;; esac
[ "$nfn" -ge 20 ] || die "BENCH_FUNCTIONS must be at least 20"

create_database

sql <<-'SQL'
	SET client_min_messages = warning;
	CREATE EXTENSION IF NOT EXISTS scaler;
	CREATE SCHEMA IF NOT EXISTS cs;
	COMMENT ON SCHEMA cs IS 'scaler benchmark (test/bench/coldstart.sh): generated serverless traffic and results';
	CREATE TABLE IF NOT EXISTS cs.log (LIKE scaler.request_log INCLUDING ALL);
	CREATE TABLE IF NOT EXISTS cs.made (functions int);
	SQL

have=$(value -c "SELECT coalesce(max(functions), 0) FROM cs.made")
if [ "$have" != "$nfn" ]; then
	echo "generating serverless traffic for $nfn functions over 3 days ..."
	sql -v nfn="$nfn" -v log=cs.log -v gen="$(dirname "$0")/../gen/serverless_traffic.sql" <<-'SQL'
	SET client_min_messages = warning;
	TRUNCATE cs.log, cs.made;
	\i :gen

	INSERT INTO cs.made VALUES (:nfn);
	VACUUM ANALYZE cs.log;
	SQL
fi

value -v nfn="$nfn" >/dev/null <<-'SQL'
	SET client_min_messages = warning;
	SELECT count(scaler.drop_policy(name)) FROM scaler.policy WHERE name LIKE 'cs.%';
	SELECT count(scaler.create_policy('cs.f' || i, 1, function_name => 'f' || i, source => 'cs.log',
	                                  scale_in_stabilization => '0'))
	  FROM generate_series(0, :nfn - 1) i;
	DROP TABLE IF EXISTS cs.result, cs.timing;
	CREATE TABLE cs.result (variant text, policy text, requests bigint, cold_starts bigint,
	                        cold_start_pct float8, warm_idle_instance_hours float8,
	                        instance_hours float8);
	CREATE TABLE cs.timing (variant text, ms float8);
	SQL

since="2026-01-02 00:00+00"
until="2026-01-04 00:00+00"
echo "requests replayed (days 2 and 3): $(value -c "SELECT count(*) FROM cs.log WHERE ts > '$since' AND ts <= '$until'")"

for variant in "10 minutes" "20 minutes" "1 hour" "auto"; do
	value -v variant="$variant" -v since="$since" -v until="$until" >/dev/null <<-'SQL'
	SET max_parallel_workers_per_gather = 0;
	SET jit = off;
	CREATE TEMP TABLE t0 AS SELECT clock_timestamp() AS t0;
	INSERT INTO cs.result
	SELECT :'variant', p.name, s.requests, s.cold_starts, s.cold_start_pct,
	       s.warm_idle_instance_hours, s.instance_hours
	  FROM scaler.policy p,
	       scaler.backtest_summary(p.name, :'since', :'until',
	                               jsonb_build_object('keep_alive', :'variant')) s
	 WHERE p.name LIKE 'cs.%';
	INSERT INTO cs.timing SELECT :'variant', extract(epoch FROM clock_timestamp() - t0) * 1000 FROM t0;
	SQL
done

sql <<-'SQL'
	WITH v AS (
	    SELECT variant,
	           percentile_cont(0.75) WITHIN GROUP (ORDER BY cold_start_pct) AS p75,
	           avg((cold_starts = 0)::int) FILTER (WHERE requests > 0) AS no_cold,
	           sum(warm_idle_instance_hours) AS idle,
	           sum(instance_hours) AS hours
	      FROM cs.result GROUP BY variant)
	SELECT v.variant AS keep_alive,
	       round(v.p75::numeric, 1) AS p75_cold_start_pct,
	       round(100 * v.no_cold::numeric, 1) AS pct_functions_no_cold_start,
	       round(v.idle::numeric, 1) AS warm_idle_instance_hours,
	       round((v.idle / b.idle)::numeric, 2) AS idle_vs_10_min,
	       round(t.ms::numeric, 0) AS replay_ms
	  FROM v, cs.timing t, (SELECT idle FROM v WHERE variant = '10 minutes') b
	 WHERE t.variant = v.variant
	 ORDER BY CASE v.variant WHEN 'auto' THEN 2 ELSE 1 END, v.hours;

	WITH v AS (
	    SELECT variant, percentile_cont(0.75) WITHIN GROUP (ORDER BY cold_start_pct) AS p75,
	           sum(warm_idle_instance_hours) AS idle
	      FROM cs.result GROUP BY variant),
	a AS (SELECT * FROM v WHERE variant = 'auto'),
	f AS (SELECT * FROM v WHERE variant = '10 minutes')
	SELECT 'auto p75 cold-start pct <= half of fixed 10 min' AS target,
	       round(a.p75::numeric, 1) || ' vs ' || round(f.p75::numeric, 1) AS measured,
	       CASE WHEN a.p75 <= f.p75 / 2 THEN 'PASS' ELSE 'MISS' END AS result
	  FROM a, f
	UNION ALL
	SELECT 'auto warm-idle time <= fixed 10 min',
	       round(a.idle::numeric, 1) || ' vs ' || round(f.idle::numeric, 1) || ' instance-hours',
	       CASE WHEN a.idle <= f.idle THEN 'PASS' ELSE 'MISS' END
	  FROM a, f
	UNION ALL
	SELECT 'replay of all functions under 10 s (' || variant || ')',
	       round(ms::numeric, 0) || ' ms', CASE WHEN ms < 10000 THEN 'PASS' ELSE 'MISS' END
	  FROM cs.timing;
	SQL
