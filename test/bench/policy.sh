#!/usr/bin/env bash
# policy.sh: what a tick of 1,000 policies costs, and what the worker costs
# ingestion.  Runs against the server in PGHOST/PGPORT/PGDATABASE (under
# test/with-cluster.sh, which preloads scaler and points scaler.database at
# PGDATABASE):
#
#   test/with-cluster.sh test/bench/policy.sh
#
# 1. One evaluation tick of 1,000 policies (one function each) over a log of
#    1 million rows, then of 10 million rows: median of $TICKS ticks each,
#    and their ratio.  Each function has the same 20 requests in the window
#    in both cases, so the ratio isolates the table's size: the window is an
#    index range scan, so it should stay near 1 (target <= 1.2; target tick
#    < 250 ms).
# 2. pgbench inserting single rows into scaler.request_log for $SECONDS_EACH
#    seconds, with the worker off and with it ticking every second over
#    1,000 policies reading that table; alternating twice, median tps of
#    each and the ratio (target >= 95%).
#
# Takes about four minutes on two cores; most of it is loading 10M rows.
set -euo pipefail

TICKS=${TICKS:-11}
SECONDS_EACH=${SECONDS_EACH:-20}
POLICIES=1000

psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

median()
{
	sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

log() { echo "[bench] $*" >&2; }

set_worker()
{
	psql_q -c "ALTER SYSTEM SET scaler.enabled = $1" -c "ALTER SYSTEM SET scaler.naptime = '1s'" \
		-c "SELECT pg_reload_conf()" >/dev/null
	sleep 1
}

# the same 20 requests per function in the last minute (outside the panic tail)
fresh_window()
{
	psql_q <<-'SQL'
	DELETE FROM bench.log WHERE ts > now() - interval '5 minutes';
	INSERT INTO bench.log (ts, function_name, duration_ms, status)
	SELECT now() - interval '10 seconds' - (j * interval '2 seconds'), 'fn' || f, 50 + j, 200
	  FROM generate_series(1, 1000) f, generate_series(1, 20) j;
	SQL
	psql_q -c "VACUUM ANALYZE bench.log"
}

# median milliseconds of $TICKS evaluation ticks, after one warm-up tick
ticks()
{
	{
		echo '\timing on'
		echo 'SELECT count(*) FROM scaler.evaluate();'   # warm-up: plans, first decisions
		for _ in $(seq "$TICKS"); do echo 'SELECT count(*) FROM scaler.evaluate();'; done
	} | psql -X -q -v ON_ERROR_STOP=1 -At 2>&1 | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n "$TICKS" | median
}

cleanup()
{
	psql_q -c "ALTER SYSTEM RESET scaler.enabled" -c "ALTER SYSTEM RESET scaler.naptime" \
		-c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
}
trap cleanup EXIT

set_worker off
log "setting up $POLICIES policies and 1M log rows"
psql_q <<-'SQL'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS scaler;
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;
CREATE TABLE bench.log (LIKE scaler.request_log INCLUDING ALL);
SELECT count(scaler.drop_policy(name)) FROM scaler.policy WHERE name LIKE 'bench%' \g /dev/null
SELECT count(scaler.create_policy('bench' || f, 1, function_name => 'fn' || f, source => 'bench.log'))
  FROM generate_series(1, 1000) f \g /dev/null
-- history: before the window, spread over a week
INSERT INTO bench.log (ts, function_name, duration_ms, status)
SELECT now() - interval '10 minutes' - random() * interval '7 days', 'fn' || (1 + i % 1000),
       random() * 200, CASE WHEN i % 100 = 0 THEN 500 ELSE 200 END
  FROM generate_series(1, 1000000) i;
SQL
fresh_window
t1=$(ticks)
rows1=$(psql_q -At -c "SELECT count(*) FROM bench.log")
log "tick over $rows1 rows: median $t1 ms"

log "growing the log to 10M rows"
psql_q <<-'SQL'
DROP INDEX bench.log_function_name_ts_idx;
INSERT INTO bench.log (ts, function_name, duration_ms, status)
SELECT now() - interval '10 minutes' - random() * interval '7 days', 'fn' || (1 + i % 1000),
       random() * 200, CASE WHEN i % 100 = 0 THEN 500 ELSE 200 END
  FROM generate_series(1, 9000000) i;
CREATE INDEX log_function_name_ts_idx ON bench.log (function_name, ts);
SQL
fresh_window
t10=$(ticks)
rows10=$(psql_q -At -c "SELECT count(*) FROM bench.log")
log "tick over $rows10 rows: median $t10 ms"

log "ingestion: pgbench ${SECONDS_EACH}s per run, worker off/on alternating"
psql_q <<-'SQL'
SET client_min_messages = warning;
SELECT count(scaler.alter_policy('bench' || f, source => 'scaler.request_log')) FROM generate_series(1, 1000) f \g /dev/null
SQL
script=$(mktemp)
cat > "$script" <<-'PGB'
\set f random(1, 1000)
INSERT INTO scaler.request_log (ts, function_name, duration_ms, status) VALUES (now(), 'fn' || :f, 50, 200);
PGB
pgb()
{
	pgbench -n -c 2 -j 2 -T "$SECONDS_EACH" -f "$script" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}
off=(); on=()
for _ in 1 2; do
	set_worker off; off+=("$(pgb)")
	set_worker on; on+=("$(pgb)")
done
set_worker off
rm -f "$script"
ticked=$(psql_q -At -c "SELECT count(*) FROM scaler.policy_state WHERE policy LIKE 'bench%' AND last_evaluated_at > now() - interval '5 minutes'")
tps_off=$(printf '%s\n' "${off[@]}" | median)
tps_on=$(printf '%s\n' "${on[@]}" | median)

echo
echo "scaler policy benchmark ($POLICIES policies, $TICKS ticks per size)"
printf '  tick over %9s rows: median %8.1f ms\n' "$rows1" "$t1"
printf '  tick over %9s rows: median %8.1f ms\n' "$rows10" "$t10"
printf '  ratio 10M / 1M:               %8.2f   (target <= 1.2; tick target < 250 ms)\n' \
	"$(awk -v a="$t10" -v b="$t1" 'BEGIN { print a / b }')"
printf '  pgbench inserts, worker off:  %8.0f tps (runs: %s)\n' "$tps_off" "${off[*]}"
printf '  pgbench inserts, worker on:   %8.0f tps (runs: %s; it evaluated %s policies)\n' "$tps_on" "${on[*]}" "$ticked"
printf '  with / without worker:        %8.1f %%  (target >= 95%%)\n' \
	"$(awk -v a="$tps_on" -v b="$tps_off" 'BEGIN { print 100 * a / b }')"
