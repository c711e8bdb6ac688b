#!/usr/bin/env bash
# tap.sh [TEST...]: run the Perl TAP tests test/t/*.pl (or just the named ones)
# with prove, as the postgres user: PostgreSQL::Test::Cluster runs initdb and
# the server itself, and both refuse to run as root.
#
# The postgres user may not be able to read the checkout (a clone in root's
# home, a mktemp -d directory), so everything the tests need is copied into a
# fresh temp directory owned by postgres: the tests and their helper modules
# (test/t/*.pm) into t/, the scaler-listen built in the checkout into bin/
# (SCALER_LISTEN names it).  That directory is also TESTDIR
# (PostgreSQL::Test::Utils puts tmp_check/ and its logs there), and is removed
# afterwards; set SCALER_KEEP_TAP=1 to keep it for a look.  PATH starts with
# the PostgreSQL bin dir ($SCALER_PGTREE's when set, see test/lib.sh), so the
# nodes run the scaler build installed there.  On failure the tail of each
# failed test's regress_log is shown.  Fails when there are no tests.
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=test/lib.sh
. test/lib.sh

shopt -s nullglob
if [ $# -gt 0 ]; then
	tests=("$@")
else
	tests=(test/t/*.pl)
fi
[ ${#tests[@]} -gt 0 ] || die "no Perl TAP tests in test/t"
require_pgbin
as_postgres true

testdir=$(postgres_dir scaler-tap)
# shellcheck disable=SC2317  # runs from the exit trap
cleanup()
{
	if [ -n "${SCALER_KEEP_TAP:-}" ]; then
		echo "tap.sh: kept $testdir" >&2
	else
		rm -rf "$testdir"
	fi
}
on_exit cleanup

mkdir "$testdir/t" "$testdir/bin"
names=()
for t in "${tests[@]}"; do
	cp "$t" "$testdir/t/"
	names+=("t/${t##*/}")
done
modules=(test/t/*.pm)
[ ${#modules[@]} -eq 0 ] || cp "${modules[@]}" "$testdir/t/"
listen=()
if [ -x src/listen/scaler-listen ]; then
	cp src/listen/scaler-listen "$testdir/bin/"
	listen=(SCALER_LISTEN="$testdir/bin/scaler-listen")
fi
chmod -R a+rX "$testdir"
[ "$(id -u)" -ne 0 ] || chown -R postgres: "$testdir"

# A clean environment: the modules drop most PG* variables themselves, but
# nothing from a surrounding with-cluster.sh should leak into the nodes.
# PG_TEST_PORT_DIR is shared so that concurrent runs do not pick one port.
# PROVE_FLAGS (e.g. "-v") is split on spaces like make would.
read -r -a prove_flags <<< "${PROVE_FLAGS:-}"
set +e
(cd "$testdir" && as_postgres env -i \
	HOME="$testdir" \
	PATH="$SCALER_PGBIN:/usr/local/bin:/usr/bin:/bin" \
	LANG=C.UTF-8 \
	PERL5LIB="$SCALER_PGXS/src/test/perl" \
	TESTDIR="$testdir" \
	PG_REGRESS="$SCALER_PGXS/src/test/regress/pg_regress" \
	PG_TEST_PORT_DIR=/tmp/scaler-tap-portlock \
	PG_TEST_TIMEOUT_DEFAULT="${PG_TEST_TIMEOUT_DEFAULT:-60}" \
	"${listen[@]}" \
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
