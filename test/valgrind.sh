#!/usr/bin/env bash
# valgrind.sh: run the pg_regress suite (make installcheck) against a server
# running under valgrind memcheck, and report memcheck errors in scaler's code.
#
# Builds scaler, installs it into a private PostgreSQL copy (test/pgtree.sh),
# starts a throwaway cluster (Unix socket only, port $SCALER_PORT) whose
# postmaster and every backend run under valgrind, runs `make installcheck`
# against it, stops it, and then prints every valgrind error block with a
# frame in scaler's code (scaler.so, or one of src/*.[ch] by file and line).
# Not part of `make test`: it takes about half an hour.
#
#   VALGRIND_SUPP=/tmp/valgrind.supp test/valgrind.sh
#   VALGRIND_SUPP=/tmp/valgrind.supp test/valgrind.sh REGRESS=traffic_roundtrip
#
# Arguments are passed to `make installcheck` (REGRESS=... picks tests).
# VALGRIND_PGTAP names pgTAP files to run too, after it, with pg_prove
# (the rollup readers and the cold-start functions are tested only there):
#
#   VALGRIND_PGTAP="test/pgtap/rollup_*.sql" test/valgrind.sh REGRESS=traffic_order
#
# Under valgrind everything runs 20 to 50 times slower: an assertion about
# wall-clock time (a cancel "within 1 second") may fail there and says
# nothing about memory.
#
# Environment:
#   SCALER_PGTREE   private PostgreSQL copy (default /tmp/pgtree-valgrind)
#   SCALER_PORT     port (default 54329)
#   VALGRIND_SUPP   suppression file, normally PostgreSQL's src/tools/valgrind.supp
#                   (not shipped here); without it, expect noise outside scaler.
#                   test/valgrind-extra.supp is always used as well.
#   VALGRIND_OPTS_EXTRA  more valgrind options
#   VALGRIND_PGTAP  pgTAP files (globs) to run with pg_prove in database postgres;
#                   none that needs pg_cron (it is not preloaded here)
#
# The cluster is always stopped and its data removed; the valgrind logs (one
# per process, %p.log) stay in the directory printed at the end.  Exit status:
# 0 if installcheck passed, no backend crashed and no error block is in
# scaler's code, 1 otherwise.
# Debian's postgres is not built with USE_VALGRIND, so palloc chunks are not
# checked individually: overruns inside a memory context block go unseen.
set -euo pipefail

cd "$(dirname "$0")/.."
SCALER_PGTREE=${SCALER_PGTREE:-/tmp/pgtree-valgrind}
# shellcheck source=test/lib.sh
. test/lib.sh
tree=$(scaler_in_tree "")
port=${SCALER_PORT:-54329}
pgbin=$SCALER_PGBIN
make=${MAKE:-make}
supp=${VALGRIND_SUPP:-}

command -v valgrind > /dev/null || {
	echo "valgrind.sh: valgrind is not installed (apt-get install valgrind)" >&2
	exit 2
}
if [ -n "$supp" ] && [ ! -r "$supp" ]; then
	echo "valgrind.sh: cannot read VALGRIND_SUPP=$supp" >&2
	exit 2
fi
[ -n "$supp" ] ||
	echo "valgrind.sh: VALGRIND_SUPP not set; running without PostgreSQL's suppressions" >&2

test/pgtree.sh "$tree"
"$make" -s
"$make" -s install DESTDIR="$tree" > /dev/null

dir=$(postgres_dir scaler-valgrind)
as_postgres mkdir "$dir/sock" "$dir/logs"
if [ -n "$supp" ]; then
	# The server runs as postgres and must be able to read it.
	cp "$supp" "$dir/valgrind.supp"
	chmod a+r "$dir/valgrind.supp"
fi

started=
# shellcheck disable=SC2317  # runs from the exit trap
cleanup()
{
	if [ -n "$started" ]; then
		started=
		# Backends under valgrind exit slowly: give them time.
		as_postgres "$pgbin/pg_ctl" -D "$dir/data" -w -t 300 -m fast stop > /dev/null ||
			as_postgres "$pgbin/pg_ctl" -D "$dir/data" -w -m immediate stop > /dev/null ||
			echo "valgrind.sh: could not stop the server in $dir" >&2
	fi
	rm -rf "$dir/data" "$dir/sock"
}
on_exit cleanup

as_postgres "$pgbin/initdb" -D "$dir/data" --auth=trust -U postgres \
	-E UTF8 --locale=C.UTF-8 --no-sync > "$dir/initdb.log" 2>&1 || {
	cat "$dir/initdb.log" >&2
	exit 1
}

# shellcheck disable=SC2054  # the comma in --error-markers is part of the value
vgopts=(--quiet --trace-children=yes --track-origins=yes --read-var-info=yes
	--num-callers=30 --error-markers=VALGRINDERROR-BEGIN,VALGRINDERROR-END
	--log-file="$dir/logs/%p.log")
[ -z "$supp" ] || vgopts+=(--suppressions="$dir/valgrind.supp")
# Known PostgreSQL false positives that PG's file misses on Debian's binary.
cp test/valgrind-extra.supp "$dir/valgrind-extra.supp"
chmod a+r "$dir/valgrind-extra.supp"
vgopts+=(--suppressions="$dir/valgrind-extra.supp")
# shellcheck disable=SC2206  # word splitting of extra options is intended
vgopts+=(${VALGRIND_OPTS_EXTRA:-})

start=$(date +%s)
# The postmaster forks its backends without exec, so they stay under valgrind.
# No JIT: it could inline scaler's bitcode into generated code, where errors
# would no longer be attributed to scaler.so (and llvmjit adds noise).
as_postgres valgrind "${vgopts[@]}" "$pgbin/postgres" -D "$dir/data" \
	-c port="$port" -c listen_addresses='' -c unix_socket_directories="$dir/sock" \
	-c shared_preload_libraries=scaler -c timezone=UTC -c fsync=off -c jit=off \
	-c log_line_prefix='%m [%p] ' > "$dir/server.log" 2>&1 &
started=yes

for _ in $(seq 1 300); do
	if "$pgbin/pg_isready" -q -h "$dir/sock" -p "$port" -U postgres -d postgres; then
		break
	fi
	sleep 1
done
"$pgbin/pg_isready" -q -h "$dir/sock" -p "$port" -U postgres -d postgres || {
	echo "valgrind.sh: server did not start; its log:" >&2
	tail -n 30 "$dir/server.log" >&2
	exit 1
}

rc=0
# ISOLATION=: the pg_regress tests only (arguments may say otherwise).
PGHOST=$dir/sock PGPORT=$port PGUSER=postgres "$make" installcheck ISOLATION= "$@" || rc=$?
if [ -n "${VALGRIND_PGTAP:-}" ]; then
	# shellcheck disable=SC2086  # the globs are to be expanded
	PGHOST=$dir/sock PGPORT=$port PGUSER=postgres PGDATABASE=postgres \
		pg_prove $VALGRIND_PGTAP || rc=$?
fi
cleanup
elapsed=$(($(date +%s) - start))

# One block per error; keep those with a frame in scaler: "(in .../scaler.so)"
# or, since scaler is built with -g, "(traffic.c:110)" for one of src/*.[ch].
ours_re="scaler\\.so|\\(($(cd src && printf '%s\n' *.c *.h | sed 's/\./\\./' | paste -sd'|')):[0-9]+\\)"
export ours_re
report=$dir/scaler-errors.txt
: > "$report"
total=0
for log in "$dir"/logs/*.log; do
	[ -e "$log" ] || continue
	n=$(grep -c '^==[0-9]*== VALGRINDERROR-BEGIN' "$log" || true)
	total=$((total + n))
	awk -v f="$log" '
		/VALGRINDERROR-BEGIN/ { inblk = 1; blk = ""; hit = 0 }
		inblk { blk = blk $0 "\n"; if ($0 ~ ENVIRON["ours_re"]) hit = 1 }
		/VALGRINDERROR-END/ { if (hit) printf "--- %s\n%s", f, blk; inblk = 0 }
	' "$log" >> "$report"
done
ours=$(grep -c 'VALGRINDERROR-BEGIN' "$report" || true)
# A backend that dies abnormally (under valgrind often "exited with exit
# code 1" rather than a signal) makes the postmaster reset the others.
crashes=$(grep -c 'terminating any other active server processes' "$dir/server.log" || true)

cat "$report"
echo "valgrind.sh: installcheck exit status $rc; ${elapsed}s under valgrind"
echo "valgrind.sh: $total valgrind error(s) in all, $ours in scaler's code; $crashes backend crash(es) in the server log"
echo "valgrind.sh: logs in $dir/logs, server log $dir/server.log"
[ "$rc" -eq 0 ] && [ "$ours" -eq 0 ] && [ "$crashes" -eq 0 ]
