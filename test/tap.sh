#!/usr/bin/env bash
# tap.sh [TEST...]: run the Perl TAP tests test/t/*.pl (or just the named ones)
# with prove, as the postgres user: PostgreSQL::Test::Cluster runs initdb and
# the server itself, and both refuse to run as root.
#
# The tests are copied into a fresh temp directory owned by postgres, which is
# also TESTDIR (PostgreSQL::Test::Utils puts tmp_check/ and its logs there),
# and removed afterwards; set SCALER_KEEP_TAP=1 to keep it for a look.  PATH
# starts with the PostgreSQL 15 bin dir ($SCALER_PGTREE's when set), so the
# nodes run the scaler build installed there.  SCALER_SRCDIR points the tests
# at the source tree.  On failure the tail of each test's regress_log is shown.
# Prints "no Perl TAP tests" and succeeds when there are none.
# shellcheck disable=SC2317  # functions below run from traps
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src"

shopt -s nullglob
if [ $# -gt 0 ]; then
	tests=("$@")
else
	tests=(test/t/*.pl)
fi
if [ ${#tests[@]} -eq 0 ]; then
	echo "no Perl TAP tests"
	exit 0
fi

if [ -n "${SCALER_PGTREE:-}" ]; then
	pgbin=$(realpath -m "$SCALER_PGTREE")/usr/lib/postgresql/15/bin
else
	pgbin=/usr/lib/postgresql/15/bin
fi
pgxs=/usr/lib/postgresql/15/lib/pgxs
[ -x "$pgbin/postgres" ] || { echo "tap.sh: no PostgreSQL binaries in $pgbin" >&2; exit 1; }

testdir=$(mktemp -d "${TMPDIR:-/tmp}/scaler-tap.XXXXXX")
cleanup()
{
	if [ -n "${SCALER_KEEP_TAP:-}" ]; then
		echo "tap.sh: kept $testdir" >&2
	else
		rm -rf "$testdir"
	fi
}
# On a signal: clean up, then die of that same signal, so that callers
# (make, a calling script) stop too instead of going on to the next step.
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

chmod 755 "$testdir"
mkdir "$testdir/t"
names=()
for t in "${tests[@]}"; do
	cp "$t" "$testdir/t/"
	names+=("t/${t##*/}")
done
if [ "$(id -u)" -eq 0 ]; then
	chown -R postgres: "$testdir"
	run_as=(runuser -u postgres --)
elif [ "$(id -un)" = postgres ]; then
	run_as=()
else
	echo "tap.sh: run as root or as postgres" >&2
	exit 1
fi

# A clean environment: the modules drop most PG* variables themselves, but
# nothing from a surrounding with-cluster.sh should leak into the nodes.
# PG_TEST_PORT_DIR is shared so that concurrent runs do not pick one port.
# PROVE_FLAGS (e.g. "-v") is split on spaces like make would.
read -r -a prove_flags <<< "${PROVE_FLAGS:-}"
set +e
(cd "$testdir" && "${run_as[@]}" env -i \
	HOME="$testdir" \
	PATH="$pgbin:/usr/local/bin:/usr/bin:/bin" \
	LANG=C.UTF-8 \
	PERL5LIB="$pgxs/src/test/perl" \
	TESTDIR="$testdir" \
	PG_REGRESS="$pgxs/src/test/regress/pg_regress" \
	PG_TEST_PORT_DIR=/tmp/scaler-tap-portlock \
	PG_TEST_TIMEOUT_DEFAULT="${PG_TEST_TIMEOUT_DEFAULT:-60}" \
	SCALER_SRCDIR="$src" \
	prove "${prove_flags[@]}" "${names[@]}") | tee "$testdir/prove.out"
rc=${PIPESTATUS[0]}
set -e

if [ "$rc" -ne 0 ]; then
	# The summary report names the failed tests: "t/NAME.pl (Wstat: ...".
	sed -n 's|^t/\([^ ]*\)\.pl  *(Wstat.*|\1|p' "$testdir/prove.out" |
		while read -r name; do
			log=$testdir/tmp_check/log/regress_log_$name
			[ -f "$log" ] || continue
			echo "--- tail of regress_log_$name ---" >&2
			tail -n 40 "$log" >&2
		done
fi
exit "$rc"
