#!/usr/bin/env bash
# policy.sh: what a tick of 1,000 policies costs, and what the worker costs
# ingestion.  Runs against the server in PGHOST/PGPORT/PGDATABASE (under
# test/with-cluster.sh, which preloads scaler and points scaler.database at
# PGDATABASE):
#
#   test/with-cluster.sh test/bench/policy.sh
#
# 1. One evaluation tick of 1,000 policies (one function each) over a log of
#    1 million rows and over one of 10 million rows: median of $TICKS ticks
#    each, and their ratio.  Each function has the same 20 requests in the
#    window in both logs, so the ratio isolates the table's size: the window
#    is an index range scan, so it should stay near 1 (target <= 1.2; target
#    tick < 250 ms).  Ticks over the two logs alternate, so that load from
#    elsewhere on the machine hits both alike.
# 2. pgbench inserting single rows into scaler.request_log for $SECONDS_EACH
#    seconds, with the worker off and with it ticking every second over
#    1,000 policies reading that table; alternating four times, median tps
#    of each and the ratio (target >= 95%).
#
# Takes about four minutes on two cores; most of it is loading 11M rows.
set -euo pipefail

TICKS=${TICKS:-11}
SECONDS_EACH=${SECONDS_EACH:-12}
POLICIES=1000

db=${PGDATABASE:?run under test/with-cluster.sh}
# shellcheck source=test/bench/lib.sh
. "$(dirname "$0")/lib.sh"

psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

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
	psql_q <<-SQL
	DELETE FROM bench.$1 WHERE ts > now() - interval '5 minutes';
	INSERT INTO bench.$1 (ts, function_name, duration_ms, status)
	SELECT now() - interval '10 seconds' - (j * interval '2 seconds'), 'fn' || f, 50 + j, 200
	  FROM generate_series(1, 1000) f, generate_series(1, 20) j;
	SQL
	psql_q -c "VACUUM ANALYZE bench.$1"
}

# a log of $2 rows of history, before the window, spread over a week
make_log()
{
	psql_q <<-SQL
	CREATE TABLE bench.$1 (LIKE scaler.request_log);
	INSERT INTO bench.$1 (ts, function_name, duration_ms, status)
	SELECT now() - interval '10 minutes' - random() * interval '7 days', 'fn' || (1 + i % 1000),
	       random() * 200, CASE WHEN i % 100 = 0 THEN 500 ELSE 200 END
	  FROM generate_series(1, $2) i;
	CREATE INDEX ON bench.$1 (function_name, ts);
	SELECT count(scaler.create_policy('$1' || f, 1, function_name => 'fn' || f,
	                                  source => 'bench.$1'))
	  FROM generate_series(1, 1000) f \g /dev/null
	SQL
}

# alternate ticks over the policies of bench.small and bench.big, after one
# warm-up tick each; prints the times of small ticks, then of big ones
ticks()
{
	{
		for i in $(seq 0 "$TICKS"); do
			for set in small big; do
				echo "UPDATE scaler.policy SET enabled = name LIKE '$set%';"
				echo '\timing on'
				echo 'SELECT count(*) FROM scaler.evaluate();'
				echo '\timing off'
			done
		done
	} | psql -X -q -v ON_ERROR_STOP=1 -At 2>&1 | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n +3
}

cleanup()
{
	psql_q -c "ALTER SYSTEM RESET scaler.enabled" -c "ALTER SYSTEM RESET scaler.naptime" \
		-c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
}
trap cleanup EXIT

set_worker off
log "setting up 2 x $POLICIES policies over logs of 1M and 10M rows"
psql_q <<-'SQL'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS scaler;
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;
SQL
make_log small 1000000
make_log big 10000000
fresh_window small
fresh_window big
rows1=$(psql_q -At -c "SELECT count(*) FROM bench.small")
rows10=$(psql_q -At -c "SELECT count(*) FROM bench.big")
times=$(ticks)
t1=$(echo "$times" | awk 'NR % 2 == 1' | median)
t10=$(echo "$times" | awk 'NR % 2 == 0' | median)
log "tick over $rows1 rows: median $t1 ms; over $rows10 rows: median $t10 ms"
psql_q <<< "SELECT count(scaler.drop_policy(name)) FROM scaler.policy WHERE name LIKE 'big%' \g /dev/null"

log "ingestion: pgbench ${SECONDS_EACH}s per run, worker off/on alternating"
psql_q <<-'SQL'
SET client_min_messages = warning;
UPDATE scaler.policy SET enabled = true;
SELECT count(scaler.alter_policy('small' || f, source => 'scaler.request_log')) FROM generate_series(1, 1000) f \g /dev/null
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
for _ in 1 2 3 4; do
	set_worker off; off+=("$(pgb)")
	set_worker on; on+=("$(pgb)")
done
set_worker off
rm -f "$script"
ticked=$(psql_q -At -c "SELECT count(*) FROM scaler.policy_state WHERE policy LIKE 'small%' AND last_evaluated_at > now() - interval '5 minutes'")
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
