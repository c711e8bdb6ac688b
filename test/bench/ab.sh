#!/usr/bin/env bash
# ab.sh: compare two builds of scaler.so on one query, alternating them in
# new backends of one server, so that the shared machine's load hits both.
#
#   SCALER_PGTREE=DIR SCALER_PRELOAD=pg_cron test/with-cluster.sh \
#       test/bench/ab.sh OLD.so NEW.so 'QUERY' ['REFERENCE'] ['SETUP.sql']
#
# Each round installs OLD.so, then NEW.so, into the private copy of
# PostgreSQL in $SCALER_PGTREE (test/pgtree.sh), and in a new backend
# measures QUERY against REFERENCE (default SELECT 1) three times,
# alternating the two; it prints each round's median ratio, then the
# median per build.  It works in database BENCH_DATABASE (default
# scaler_bench_ab), with scaler created there; SETUP.sql, if given, runs
# there once first (to make the tables the query reads).  BENCH_RUNS
# rounds (default 5); plans are serial unless BENCH_PARALLEL=1.
#
# A build swapped in takes effect only in backends that load scaler.so
# themselves: a library in shared_preload_libraries is the one the
# postmaster mapped when it started, whatever the file is now.  So the
# server must not preload scaler, and every backend is checked, in
# /proc/<pid>/maps, to map the file just installed.
set -euo pipefail

db=${BENCH_DATABASE:-scaler_bench_ab}
# shellcheck source=test/bench/lib.sh
. "$(dirname "$0")/lib.sh"

[ $# -ge 3 ] || die "usage: ab.sh OLD.so NEW.so QUERY [REFERENCE] [SETUP.sql]"
old=$1
new=$2
query=$3
reference=${4:-SELECT 1}
setup=${5:-}
for so in "$old" "$new"; do
	[ -f "$so" ] || die "no such library: $so"
done
[ -n "${SCALER_PGTREE:-}" ] ||
	die "set SCALER_PGTREE: ab.sh swaps scaler.so in a private copy of PostgreSQL (test/pgtree.sh), never the system's"
lib=$(scaler_in_tree "$(scaler_pg_config --pkglibdir)")/scaler.so
[ -f "$lib" ] || die "no $lib (make install DESTDIR=\$SCALER_PGTREE first)"

create_database
sql <<< 'CREATE EXTENSION IF NOT EXISTS scaler'
case ",$(value <<< 'SHOW shared_preload_libraries')," in
*,scaler,* | *,\ scaler,*)
	die "the server preloads scaler, so swapping scaler.so changes nothing; start it with SCALER_PRELOAD=pg_cron" ;;
esac

saved=$(mktemp)
results=$(mktemp)
cp "$lib" "$saved"
# Put back the library that was installed, whatever happens.
trap 'install -m 0755 "$saved" "$lib.ab" && mv "$lib.ab" "$lib"; rm -f "$saved" "$results"' EXIT

if [ -n "$setup" ]; then
	sql -f "$setup" > /dev/null
fi

parallel=0
[ "${BENCH_PARALLEL:-0}" = 1 ] && parallel=2

# install FILE: replace scaler.so by FILE in one step (a new inode, so a
# backend that loads it maps FILE and never a half-written one).
install_library()
{
	install -m 0755 "$1" "$lib.ab"
	mv "$lib.ab" "$lib"
}

# measure NAME: in a new backend, the median of three QUERY/REFERENCE
# ratios, after checking that the backend maps the library installed.
measure()
{
	local name=$1 out mapped ratio

	out=$(value -v ref="$reference" -v q="$query" <<-SQL
	SET max_parallel_workers_per_gather = $parallel;
	CREATE FUNCTION pg_temp.run_ms(q text) RETURNS float8 LANGUAGE plpgsql AS \$\$
	DECLARE t0 timestamptz;
	BEGIN
	    t0 := clock_timestamp();
	    EXECUTE q;
	    RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
	END \$\$;
	SELECT scaler.traffic_agg(now()) IS NOT NULL;
	SELECT regexp_replace(line, '^(\S+\s+){4}(\S+)\s+(.*)$', '\2 \3')
	FROM regexp_split_to_table(pg_read_file('/proc/self/maps'), E'\n') line
	WHERE line LIKE '%/scaler.so%' LIMIT 1;
	SELECT pg_temp.run_ms(:'ref') + pg_temp.run_ms(:'q') > 0;
	SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY r)::numeric, 3)
	FROM (SELECT pg_temp.run_ms(:'q') / pg_temp.run_ms(:'ref') AS r
	      FROM generate_series(1, 3)) s;
	SQL
	)
	mapped=$(sed -n 2p <<< "$out")
	ratio=$(sed -n 4p <<< "$out")
	[ "$mapped" = "$(stat -c %i "$lib") $(realpath "$lib")" ] ||
		die "a backend maps '$mapped', not the $name build just installed"
	echo "$name $ratio" | tee -a "$results"
}

for _ in $(seq "$runs"); do
	install_library "$old"
	measure old
	install_library "$new"
	measure new
done

echo "QUERY: $query"
echo "REFERENCE: $reference"
for arm in old new; do
	ratios=$(awk -v arm=$arm '$1 == arm { print $2 }' "$results" | sort -n)
	echo "$arm: median $(median <<< "$ratios") x the reference; rounds $(tr '\n' ' ' <<< "$ratios")"
done
