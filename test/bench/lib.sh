# bench/lib.sh: what the benchmark scripts share; sourced, not run.  Reads
# BENCH_ROWS (default 10 million) and BENCH_RUNS (default 5, at least 3)
# into $rows and $runs, and defines sql and value over database $db (which
# the sourcing script sets first), create_database and median.
# shellcheck shell=bash disable=SC2034  # variables are for the sourcing script
: "${db:?set db before sourcing bench/lib.sh}"

# shellcheck source=test/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

rows=${BENCH_ROWS:-10000000}
runs=${BENCH_RUNS:-5}
case "$rows" in '' | *[!0-9]*) die "BENCH_ROWS must be a positive integer, not '$rows'" ;; esac
case "$runs" in '' | *[!0-9]*) die "BENCH_RUNS must be an integer >= 3, not '$runs'" ;; esac
[ "$rows" -gt 0 ] || die "BENCH_ROWS must be positive"
[ "$runs" -ge 3 ] || die "BENCH_RUNS must be at least 3 (a median of fewer says little)"

psql_bin=$SCALER_PGBIN/psql

# sql [psql options]: run SQL from stdin in the bench database.
sql()
{
	"$psql_bin" -X -q -v ON_ERROR_STOP=1 --pset=footer=off -d "$db" "$@"
}

# value [psql options]: run SQL from stdin in the bench database, print the
# bare result.
value()
{
	"$psql_bin" -X -q -v ON_ERROR_STOP=1 -t -A -d "$db" "$@"
}

# create_database: create database $db unless it exists (connecting to the
# server's given database, PGDATABASE, to do so).
create_database()
{
	local exists

	exists=$("$psql_bin" -X -q -v ON_ERROR_STOP=1 -t -A -v db="$db" <<-'SQL'
	SELECT count(*) FROM pg_catalog.pg_database WHERE datname = :'db';
	SQL
	)
	if [ "$exists" = 0 ]; then
		"$psql_bin" -X -q -v ON_ERROR_STOP=1 -v db="$db" <<-'SQL'
		CREATE DATABASE :"db";
		SQL
	fi
}

# median: the median of the numbers on stdin, one a line.
median()
{
	sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
