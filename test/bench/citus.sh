#!/usr/bin/env bash
# citus.sh: scaler.traffic_agg on a Citus cluster, distributed table against
# a local copy of the same rows (issue 11, items 6 and 7).
#
# Needs Citus installed into the PostgreSQL tree in use: the private copy in
# SCALER_PGTREE (see test/pgtree.sh) when set, the system's otherwise.  Citus
# is not a dependency of scaler: when citus.so or citus.control is missing,
# this prints "citus: not found, skipped" and exits 0.  scaler must be
# installed into the same tree (make bench does that).
#
# It starts its own throwaway cluster, independent of test/with-cluster.sh: a
# coordinator and two workers on loopback (ports BENCH_CITUS_PORT, default
# 55601, and the two after it; listen_addresses = '127.0.0.1', trust
# authentication for 127.0.0.1 only, servers in TimeZone UTC, jit off), run as
# postgres in a mktemp -d directory that is always stopped and removed on
# exit, also on failure or interruption.  On the coordinator: CREATE
# EXTENSION citus, the two workers added, CREATE EXTENSION scaler (Citus
# propagates it), then BENCH_CITUS_ROWS (default 2 million) request rows of
# the scaler.request_log shape (ts, function_name, duration_ms, status; 200
# functions; 7 days; ts in random order, as logs gathered from many hosts
# arrive; exponential durations, median ~35 ms; ~1% 5xx) generated with a
# fixed seed into a local table bench_local and copied into bench_dist,
# distributed by function_name in BENCH_CITUS_SHARDS shards (default 32,
# Citus's default).
#
# It prints:
# 1. The medians over BENCH_RUNS rounds (default 5, at least 3) of
#    SELECT scaler.traffic_agg(ts, duration_ms, status) over the whole table,
#    and of SELECT count(*), each over bench_dist and bench_local, and the
#    distributed/local ratios (target of issue 11 item 6: traffic_agg within
#    3x).  A round times each query once, on the coordinator with
#    clock_timestamp() around a PL/pgSQL EXECUTE (the aggregate's final
#    function runs; nothing is sent to the client), after one untimed warm-up
#    round.  The coordinator session runs serially
#    (max_parallel_workers_per_gather = 0); the workers keep their defaults.
# 2. EXPLAIN (VERBOSE) of the distributed traffic_agg, and whether Citus
#    pushed it down as worker_partial_agg / coord_combine_agg.
# 3. Whether scaler.hourly_requests of the distributed traffic_agg equals
#    (as text, row by row) the one of the local table: in a UTC session; in
#    a session with TimeZone = 'America/New_York' (Citus does not send the
#    session's TimeZone to the workers; values hold UTC quarter hours and
#    the coordinator buckets them, so this is EQUAL too); and with SET
#    LOCAL citus.propagate_set_commands = 'local' plus SET LOCAL TimeZone =
#    'America/New_York' in one transaction.  New York's hours begin on the
#    same instants as UTC's, so the same two checks follow in Asia/Kolkata
#    (+05:30), where bucketing in the wrong zone would show.  Then the
#    report per function_name (GROUP BY the distribution column), which
#    Citus runs whole on the workers, in Kolkata: without the zone sent,
#    issue 11 item 7 wants an error 22023 with a hint, not the workers'
#    hours; with it, EQUAL.  An error is printed with its SQLSTATE and hint.
# 4. Where the distributed time goes (best of 5 each): the text size of the
#    partial states the shards send; on one shard, on its worker,
#    traffic_agg, traffic_agg::text and worker_partial_agg (Citus's per-row
#    path) against count(*); on the coordinator, parsing all the shards'
#    partial texts and merging them (what coord_combine_agg does).
#
# The figures and checks are reported, not enforced: the exit status is 0
# whatever they say, non-zero only when something fails to run.
#
#   SCALER_PGTREE=/tmp/pgtree-me test/bench/citus.sh
#   BENCH_CITUS_ROWS=500000 BENCH_RUNS=3 test/bench/citus.sh
# shellcheck disable=SC2317  # functions below run from traps
set -euo pipefail

rows=${BENCH_CITUS_ROWS:-2000000}
runs=${BENCH_RUNS:-5}
port0=${BENCH_CITUS_PORT:-55601}
shards=${BENCH_CITUS_SHARDS:-32}
if [ -n "${SCALER_PGTREE:-}" ]; then
	tree=$(realpath -m "$SCALER_PGTREE")
else
	tree=
fi
pgbin=$tree/usr/lib/postgresql/15/bin
pglib=$tree/usr/lib/postgresql/15/lib
pgext=$tree/usr/share/postgresql/15/extension

die()
{
	echo "citus.sh: $*" >&2
	exit 1
}

case "$rows" in '' | *[!0-9]*) die "BENCH_CITUS_ROWS must be a positive integer, not '$rows'" ;; esac
case "$runs" in '' | *[!0-9]*) die "BENCH_RUNS must be an integer >= 3, not '$runs'" ;; esac
case "$shards" in '' | *[!0-9]*) die "BENCH_CITUS_SHARDS must be a positive integer, not '$shards'" ;; esac
case "$port0" in '' | *[!0-9]*) die "BENCH_CITUS_PORT must be a port number, not '$port0'" ;; esac
[ "$rows" -gt 0 ] || die "BENCH_CITUS_ROWS must be positive"
[ "$runs" -ge 3 ] || die "BENCH_RUNS must be at least 3 (a median of fewer says little)"

if [ ! -f "$pglib/citus.so" ] || [ ! -f "$pgext/citus.control" ]; then
	echo "citus: not found, skipped"
	exit 0
fi
[ -x "$pgbin/postgres" ] || die "no PostgreSQL binaries in $pgbin"
if [ ! -f "$pglib/scaler.so" ] || [ ! -f "$pgext/scaler.control" ]; then
	die "scaler is not installed in ${tree:-the system tree} (make install${tree:+ DESTDIR=$tree})"
fi

ports=("$port0" $((port0 + 1)) $((port0 + 2)))
names=(coordinator worker1 worker2)
dir=
started=()

# Run a command as the postgres user (or directly if we already are it).
as_postgres()
{
	if [ "$(id -un)" = postgres ]; then
		"$@"
	else
		runuser -u postgres -- "$@"
	fi
}

cleanup()
{
	local d

	for d in "${started[@]}"; do
		as_postgres "$pgbin/pg_ctl" -D "$d" -w -t 30 -m fast stop > /dev/null 2>&1 ||
			as_postgres "$pgbin/pg_ctl" -D "$d" -w -m immediate stop > /dev/null 2>&1 ||
			echo "citus.sh: could not stop the server in $d" >&2
	done
	started=()
	case "$dir" in
	*/scaler-citus.*) rm -rf "$dir" ;;
	esac
	dir=
}
# On a signal: clean up, then die of that same signal.
on_signal()
{
	trap - EXIT "$1"
	cleanup
	kill -s "$1" $$
}
trap cleanup EXIT
trap 'on_signal INT' INT
trap 'on_signal TERM' TERM
trap 'on_signal HUP' HUP

# psql to the coordinator's database bench, over loopback TCP.
coord()
{
	"$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${ports[0]}" -U postgres \
		-d bench "$@"
}

start_node()
{
	local i=$1 data=$dir/${names[$1]}

	if ! as_postgres "$pgbin/initdb" -D "$data" --auth=trust -U postgres \
		-E UTF8 --locale=C.UTF-8 --no-sync > "$dir/${names[$i]}-initdb.log" 2>&1; then
		cat "$dir/${names[$i]}-initdb.log" >&2
		die "initdb of the ${names[$i]} failed"
	fi
	# Only the socket of this cluster and loopback TCP, trusted.
	as_postgres tee "$data/pg_hba.conf" > /dev/null <<-HBA
	local all all trust
	host all all 127.0.0.1/32 trust
	HBA
	as_postgres tee -a "$data/postgresql.conf" > /dev/null <<-CONF

	# throwaway Citus cluster (test/bench/citus.sh)
	port = ${ports[$i]}
	listen_addresses = '127.0.0.1'
	unix_socket_directories = '$dir/sock'
	shared_preload_libraries = 'citus'
	timezone = 'UTC'
	jit = off
	max_connections = 200
	fsync = off
	synchronous_commit = off
	full_page_writes = off
	log_line_prefix = '%m [%p] %q%a '
	CONF
	if ! as_postgres "$pgbin/pg_ctl" -D "$data" -l "$dir/${names[$i]}.log" \
		-w -t 60 start > /dev/null; then
		tail -n 30 "$dir/${names[$i]}.log" >&2 || true
		die "the ${names[$i]} did not start on port ${ports[$i]} (in use?)"
	fi
	started+=("$data")
	"$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${ports[$i]}" -U postgres \
		-d postgres -c 'CREATE DATABASE bench' -c '\c bench' \
		-c 'SET client_min_messages = warning' -c 'CREATE EXTENSION citus' ||
		die "could not create the database bench with citus on the ${names[$i]}"
}

dir=$(mktemp -d "${TMPDIR:-/tmp}/scaler-citus.XXXXXX")
chmod 755 "$dir"
chown postgres: "$dir" 2>/dev/null || [ "$(id -un)" = postgres ] ||
	die "cannot chown $dir to postgres (run as root or as postgres)"
as_postgres mkdir "$dir/sock"

echo "citus.sh: Citus cluster on 127.0.0.1 ports ${ports[*]} (${tree:-system tree})" >&2
for i in 0 1 2; do
	start_node "$i"
done

coord > /dev/null <<-SQL
SET client_min_messages = warning;
SELECT citus_set_coordinator_host('127.0.0.1', ${ports[0]});
SELECT citus_add_node('127.0.0.1', ${ports[1]});
SELECT citus_add_node('127.0.0.1', ${ports[2]});
CREATE EXTENSION scaler;
SQL
coord -t -A <<-'SQL'
SELECT 'versions: citus ' || (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'citus')
    || ', scaler ' || (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'scaler')
    || ' (workers: ' || (SELECT string_agg(result, ', ') FROM run_command_on_workers(
        $$SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'scaler'$$)) || ')';
SQL

echo "citus.sh: loading $rows rows" >&2
coord -v rows="$rows" -v shards="$shards" > /dev/null <<-'SQL'
SET client_min_messages = warning;
SET citus.shard_count = :shards;
SELECT setseed(0.11);
CREATE TABLE bench_local (
    ts timestamptz,
    function_name text,
    duration_ms float8,
    status int4
);
-- 7 days, times uniformly at random (so in random order), 200 functions.
INSERT INTO bench_local
SELECT timestamptz '2026-03-02 00:00:00+00' + random() * interval '7 days',
       'fn_' || lpad((floor(random() * 200))::int::text, 3, '0'),
       round((-ln(1.0 - random()) * 50.0)::numeric, 3)::float8,
       CASE WHEN random() < 0.01 THEN 503 ELSE 200 END
FROM generate_series(1, :rows);
CREATE TABLE bench_dist (LIKE bench_local);
SELECT create_distributed_table('bench_dist', 'function_name');
INSERT INTO bench_dist SELECT * FROM bench_local;
VACUUM ANALYZE bench_local;
VACUUM ANALYZE bench_dist;
SQL
coord -t -A <<-'SQL'
SELECT 'rows: local ' || (SELECT count(*) FROM bench_local) || ', distributed '
    || (SELECT count(*) FROM bench_dist) || ' in '
    || (SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = 'bench_dist'::regclass)
    || ' shards on ' || (SELECT count(DISTINCT groupid) FROM pg_dist_placement p
        JOIN pg_dist_shard s USING (shardid) WHERE s.logicalrelid = 'bench_dist'::regclass)
    || ' workers';
SQL

echo
echo "--- whole-table timings: median of $runs rounds, ms ---"
coord -v runs="$runs" <<-'SQL'
SET client_min_messages = warning;
SET max_parallel_workers_per_gather = 0;
-- Temporary objects stay on the coordinator (no "created only locally").
SET citus.enable_ddl_propagation = off;
CREATE TEMP TABLE q (seq int, label text, tbl text, sql text);
INSERT INTO q VALUES
    (1, 'traffic_agg(ts, duration_ms, status)', 'distributed',
     'SELECT scaler.traffic_agg(ts, duration_ms, status) FROM bench_dist'),
    (2, 'traffic_agg(ts, duration_ms, status)', 'local',
     'SELECT scaler.traffic_agg(ts, duration_ms, status) FROM bench_local'),
    (3, 'count(*)', 'distributed', 'SELECT count(*) FROM bench_dist'),
    (4, 'count(*)', 'local', 'SELECT count(*) FROM bench_local');
CREATE TEMP TABLE timing (seq int, round int, ms float8);
CREATE FUNCTION pg_temp.time_query(sql text) RETURNS float8
LANGUAGE plpgsql AS $fn$
DECLARE
    t0 timestamptz := clock_timestamp();
BEGIN
    EXECUTE sql;
    RETURN 1000 * extract(epoch FROM clock_timestamp() - t0);
END
$fn$;
-- Round 0 is the warm-up; rounds go over every query in turn, so load from
-- elsewhere on the (shared) machine hits them alike.
SELECT format('INSERT INTO timing SELECT %s, %s, pg_temp.time_query(%L)', q.seq, r, q.sql)
FROM generate_series(0, :runs) r, q
ORDER BY r, q.seq
\gexec
CREATE TEMP VIEW med AS
SELECT q.seq, q.label, q.tbl,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY t.ms) AS ms
FROM q JOIN timing t USING (seq)
WHERE t.round > 0
GROUP BY q.seq, q.label, q.tbl;
\pset footer off
SELECT d.label AS query, round(d.ms::numeric, 1) AS distributed_ms,
       round(l.ms::numeric, 1) AS local_ms,
       round((d.ms / l.ms)::numeric, 2) AS "distributed/local"
FROM med d JOIN med l ON l.label = d.label AND l.tbl = 'local'
WHERE d.tbl = 'distributed'
ORDER BY d.seq;
SELECT CASE WHEN d.ms <= 3 * l.ms THEN 'PASS' ELSE 'MISS' END
       || format(': distributed traffic_agg within 3x local (issue 11 item 6): %sx',
                 round((d.ms / l.ms)::numeric, 2)) AS target
FROM med d, med l
WHERE d.seq = 1 AND l.seq = 2;
SQL

echo
echo "--- EXPLAIN (VERBOSE) SELECT scaler.traffic_agg(ts, duration_ms, status) FROM bench_dist ---"
coord -t -A -c 'EXPLAIN (VERBOSE) SELECT scaler.traffic_agg(ts, duration_ms, status) FROM bench_dist' \
	> "$dir/explain.txt"
grep -E 'Output:|Custom Scan|Task Count|Node:|Aggregate' "$dir/explain.txt" | head -n 12 | cut -c1-200
if grep -q 'worker_partial_agg' "$dir/explain.txt" && grep -q 'coord_combine_agg' "$dir/explain.txt"; then
	echo "pushdown: yes (worker_partial_agg on the shards, coord_combine_agg on the coordinator)"
else
	echo "pushdown: NO (no worker_partial_agg / coord_combine_agg in the plan)"
fi

# hourly TBL FILE [SQL run first in the transaction] [by_function]: the text
# of every row of hourly_requests(traffic_agg over TBL) into FILE, or with
# by_function of hourly_requests per function_name (GROUP BY the
# distribution column: Citus runs the report whole on the workers); on an
# error, FILE holds the error (verbose: "ERROR:  <sqlstate>: <message>",
# then HINT, ...) and the status is 1.
hourly()
{
	local tbl=$1 out=$2 pre=${3:-} query

	if [ "${4:-}" = by_function ]; then
		query="SELECT function_name, (scaler.hourly_requests(
		           scaler.traffic_agg(ts, duration_ms, status))).*
		       FROM $tbl GROUP BY function_name ORDER BY 1, 2"
	else
		query="SELECT h.* FROM scaler.hourly_requests(
		           (SELECT scaler.traffic_agg(ts, duration_ms, status) FROM $tbl)) h"
	fi
	if coord -t -A -F ' | ' -o "$out" 2> "$out.err" <<-SQL
	\set VERBOSITY verbose
	BEGIN;
	$pre
	$query;
	COMMIT;
	SQL
	then
		return 0
	fi
	grep -E '^(psql:[^ ]* )?(ERROR|HINT|DETAIL)' "$out.err" | sed 's/^psql:[^ ]* //' > "$out"
	return 1
}

# compare LABEL SQL [by_function]: hourly_requests of bench_dist against
# bench_local, both after SQL (SET LOCAL ... in the same transaction).
compare()
{
	local label=$1 pre=$2 form=${3:-} d=$dir/hourly-dist l=$dir/hourly-local drc=0 lrc=0

	hourly bench_dist "$d" "$pre" "$form" || drc=$?
	hourly bench_local "$l" "$pre" "$form" || lrc=$?
	echo "$label:"
	if [ $lrc -ne 0 ]; then
		sed 's/^/  local: /' "$l" | cut -c1-300
	fi
	if [ $drc -ne 0 ]; then
		sed 's/^/  distributed: /' "$d" | cut -c1-300
		return 0
	fi
	[ $lrc -eq 0 ] || return 0
	# (the hour, after the function's name when by function)
	local f=1-2
	[ "$form" = by_function ] && f=1-4
	echo "  local: $(wc -l < "$l") rows, first $(head -n 1 "$l" | cut -d' ' -f$f)," \
		"last $(tail -n 1 "$l" | cut -d' ' -f$f)"
	echo "  distributed: $(wc -l < "$d") rows, first $(head -n 1 "$d" | cut -d' ' -f$f)," \
		"last $(tail -n 1 "$d" | cut -d' ' -f$f)"
	if cmp -s "$d" "$l"; then
		echo "  EQUAL: identical hourly_requests text"
	else
		echo "  DIFFERENT:"
		# Row by row: which columns differ, and the first differing pair.
		awk -F ' [|] ' -v dist="$d" '
			BEGIN {
				split("hour requests errors error_rate p50_ms p95_ms p99_ms max_ms peak_rpm avg_concurrency peak_concurrency", name, " ")
			}
			{
				if ((getline other < dist) <= 0) { extra_local++; next }
				n = split(other, o, / [|] /)
				if ($0 == other) next
				rows++
				for (i = 1; i <= NF || i <= n; i++)
					if ($i != o[i]) cols[i]++
				if (!first) { first = "    local:       " $0 "\n    distributed: " other }
			}
			END {
				while ((getline other < dist) > 0) extra_dist++
				printf "    %d rows differ (%d only in local, %d only in distributed)\n", rows, extra_local, extra_dist
				for (i = 1; i <= 11; i++)
					if (cols[i]) printf "    %s differs in %d rows\n", name[i], cols[i]
				if (first) print "    first differing row:\n" first
			}' "$l" | cut -c1-260
	fi
}

echo
echo "--- hourly_requests: distributed against local ---"
compare "session TimeZone UTC (the workers' zone)" "SET LOCAL TimeZone = 'UTC';"
compare "session TimeZone America/New_York (not propagated: Citus's default)" \
	"SET LOCAL TimeZone = 'America/New_York';"
compare "session TimeZone America/New_York with citus.propagate_set_commands = 'local'" \
	"SET LOCAL citus.propagate_set_commands = 'local'; SET LOCAL TimeZone = 'America/New_York';"
# New York's hours start on the same instants as UTC's, so hourly rows can
# agree even when the workers bucket in UTC; a :30 zone shows the difference.
compare "session TimeZone Asia/Kolkata (+05:30, not propagated)" \
	"SET LOCAL TimeZone = 'Asia/Kolkata';"
compare "session TimeZone Asia/Kolkata with citus.propagate_set_commands = 'local'" \
	"SET LOCAL citus.propagate_set_commands = 'local'; SET LOCAL TimeZone = 'Asia/Kolkata';"
# A report per function runs whole on the workers, in a session Citus
# opened: it refuses (22023) unless the transaction sends its TimeZone.
compare "per function (run on the workers), Asia/Kolkata, not propagated: refused" \
	"SET LOCAL TimeZone = 'Asia/Kolkata';" by_function
compare "per function (run on the workers), Asia/Kolkata with citus.propagate_set_commands = 'local'" \
	"SET LOCAL citus.propagate_set_commands = 'local'; SET LOCAL TimeZone = 'Asia/Kolkata';" by_function

# best_of_5 DEFINITION: a temporary function pg_temp.t(sql) returning the
# best of 5 timings of sql in ms (for the breakdown below).
best_of_5()
{
	cat <<-'SQL'
	SET citus.enable_ddl_propagation = off;
	SET max_parallel_workers_per_gather = 0;
	CREATE FUNCTION pg_temp.t(sql text) RETURNS numeric
	LANGUAGE plpgsql AS $fn$
	DECLARE
	    t0 timestamptz;
	    best float8 := 'infinity';
	BEGIN
	    FOR i IN 1..5 LOOP
	        t0 := clock_timestamp();
	        EXECUTE sql;
	        best := least(best, 1000 * extract(epoch FROM clock_timestamp() - t0));
	    END LOOP;
	    RETURN round(best::numeric, 1);
	END
	$fn$;
	SQL
}

echo
echo "--- where the distributed time goes (best of 5, ms) ---"
coord -t -A <<-'SQL'
SELECT format('partial states sent by the %s shards, as text: %s bytes in all (min %s, max %s); whole-table value of the local table: %s bytes',
              count(*), sum(length(result)), min(length(result)), max(length(result)),
              (SELECT length(scaler.traffic_agg(ts, duration_ms, status)::text) FROM bench_local))
FROM run_command_on_shards('bench_dist',
    $$SELECT scaler.traffic_agg(ts, duration_ms, status)::text FROM %s$$);
SQL
shard=$(coord -t -A -c "SELECT shard_name FROM citus_shards WHERE table_name = 'bench_dist'::regclass AND nodeport = ${ports[1]} ORDER BY shardid LIMIT 1")
aggoid=$(coord -t -A -c "SELECT 'scaler.traffic_agg(timestamptz, float8, int4)'::regprocedure::oid")
{
	best_of_5
	cat <<-SQL
	SET citus.override_table_visibility = off;
	SELECT format('one shard (%s rows) on worker1: count(*) %s, traffic_agg %s, traffic_agg::text %s, worker_partial_agg %s',
	              (SELECT count(*) FROM $shard),
	              pg_temp.t('SELECT count(*) FROM $shard'),
	              pg_temp.t('SELECT scaler.traffic_agg(ts, duration_ms, status) FROM $shard'),
	              pg_temp.t('SELECT scaler.traffic_agg(ts, duration_ms, status)::text FROM $shard'),
	              pg_temp.t('SELECT worker_partial_agg(''$aggoid''::oid, ROW(ts, duration_ms, status)) FROM $shard'));
	SQL
} | "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${ports[1]}" -U postgres -d bench -t -A
{
	best_of_5
	cat <<-'SQL'
	CREATE TEMP TABLE parts AS
	SELECT result AS v
	FROM run_command_on_shards('bench_dist',
	    $$SELECT scaler.traffic_agg(ts, duration_ms, status)::text FROM %s$$);
	SELECT format('coordinator, the %s partial texts: parse %s, parse and traffic_merge %s',
	              (SELECT count(*) FROM pg_temp.parts),
	              pg_temp.t('SELECT count(v::scaler.traffic) FROM pg_temp.parts'),
	              pg_temp.t('SELECT scaler.traffic_merge(v::scaler.traffic) FROM pg_temp.parts'));
	SQL
} | coord -t -A
