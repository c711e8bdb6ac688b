#!/usr/bin/env bash
# test/upgrade/run.sh: the update path from 0.1, as TAP (run by make test
# against the running test server).
#
# values-0.1.tsv holds traffic values written by scaler 0.1 (format 1) in
# five zones, hourly-0.1.out what 0.1's hourly_requests printed for each in
# its zone; both were made by the 0.1 release.  A database with 0.1
# installed stores the values, is updated, and must read them back
# identically; its catalog must then match a fresh 0.2 install.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"; dropdb --if-exists scaler_upgrade_old 2>/dev/null || true; dropdb --if-exists scaler_upgrade_new 2>/dev/null || true; psql -X -q -d postgres -c "DROP ROLE IF EXISTS \"Ingest Writer\"" 2>/dev/null || true' EXIT
n=0
check()
{
	n=$((n + 1))
	if "$@" > "$work/check.out" 2>&1; then
		echo "ok $n - $description"
	else
		echo "not ok $n - $description"
		sed 's/^/# /' "$work/check.out" | head -n 40
	fi
}
sql()
{
	local db=$1
	shift
	psql -X -q -v ON_ERROR_STOP=1 -At -d "$db" "$@"
}

# The same query made hourly-0.1.out with 0.1.
hourly_query="SELECT z.zone || E'\t' || (SELECT string_agg(h::text, E'\n' ORDER BY h.hour)
    FROM (SELECT set_config('timezone', z.zone, false)) c, scaler.hourly_requests(z.t) h)
    FROM stored z ORDER BY zone"

echo "1..9"
dropdb --if-exists scaler_upgrade_old
dropdb --if-exists scaler_upgrade_new
createdb scaler_upgrade_old
createdb scaler_upgrade_new

description="0.1 installs"
check sql scaler_upgrade_old -c "CREATE EXTENSION scaler VERSION '0.1'"
# The values go in as the bytes 0.1 stored (0.2's input would rewrite
# them): casts without a function store and show a value's bytes as they are.
sql scaler_upgrade_old -c "CREATE TABLE stored (zone text, t scaler.traffic)" \
	-c "CREATE TEMP TABLE given (zone text, t text)" \
	-c "\\copy given FROM '$here/values-0.1.tsv'" \
	-c "CREATE CAST (bytea AS scaler.traffic) WITHOUT FUNCTION" \
	-c "CREATE CAST (scaler.traffic AS bytea) WITHOUT FUNCTION" \
	-c "INSERT INTO stored SELECT zone, decode(substr(t, 9), 'base64')::scaler.traffic FROM given"
format_query="SELECT string_agg(DISTINCT substr(t::bytea, 1, 4)::text, ',') FROM stored"
# a grant to a role whose name must be quoted, which the update copies
sql postgres -c 'SET client_min_messages = warning' -c 'DROP ROLE IF EXISTS "Ingest Writer"' -c 'CREATE ROLE "Ingest Writer"'
sql scaler_upgrade_old -c 'GRANT INSERT ON scaler.request_log TO "Ingest Writer"'

description="ALTER EXTENSION scaler UPDATE goes to 0.2"
check test "$(sql scaler_upgrade_old -c 'ALTER EXTENSION scaler UPDATE' \
	-c "SELECT extversion FROM pg_extension WHERE extname = 'scaler'")" = 0.2

description="the update keeps a grant on scaler.request_log to a role named \"Ingest Writer\""
check test "$(sql scaler_upgrade_old -c "SELECT has_table_privilege('Ingest Writer', 'scaler.request_log', 'INSERT')
    AND (SELECT relkind FROM pg_class WHERE oid = 'scaler.request_log'::regclass) = 'p'")" = t

description="values written by 0.1 are stored in format 1"
check test "$(sql scaler_upgrade_old -c "$format_query")" = '\x00000001'

description="values written by 0.1 report what 0.1 reported, in each zone"
sql scaler_upgrade_old -c "$hourly_query" > "$work/hourly.out"
check diff "$here/hourly-0.1.out" "$work/hourly.out"

description="merged with themselves, values written by 0.1 count every request and error twice"
check test "$(sql scaler_upgrade_old -c "SELECT bool_and(m.r = 2 * s.r AND m.e = 2 * s.e AND s.r > 0)
    FROM stored z,
         LATERAL (SELECT sum(requests) r, sum(errors) e FROM scaler.hourly_requests(z.t)) s,
         LATERAL (SELECT sum(requests) r, sum(errors) e
                    FROM scaler.hourly_requests((SELECT scaler.traffic_merge(v.t) FROM (VALUES (z.t), (z.t)) v(t)))) m")" = t

description="rewritten in the 0.2 format, they still report the same"
sql scaler_upgrade_old -c "UPDATE stored SET t = t::text::scaler.traffic" \
	-c "$format_query" > "$work/format.out"
sql scaler_upgrade_old -c "$hourly_query" > "$work/hourly2.out"
check diff "$here/hourly-0.1.out" "$work/hourly2.out"

description="no value is left in the 0.1 format after the rewrite"
check test "$(cat "$work/format.out")" = '\x00000002'
sql scaler_upgrade_old -c "DROP CAST (bytea AS scaler.traffic)" -c "DROP CAST (scaler.traffic AS bytea)"

description="an updated 0.1 has exactly the objects of a fresh 0.2"
sql scaler_upgrade_new -c "CREATE EXTENSION scaler" -c 'GRANT INSERT ON scaler.request_log TO "Ingest Writer"'
sql scaler_upgrade_old -f "$here/catalog.sql" > "$work/old.catalog"
sql scaler_upgrade_new -f "$here/catalog.sql" > "$work/new.catalog"
check diff "$work/new.catalog" "$work/old.catalog"
