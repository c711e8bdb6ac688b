#!/usr/bin/env bash
# run-tests.sh: every test suite, used by `make test` (after build and install).
#
# Runs installcheck (pg_regress), prove (pgTAP), the examples of README.md
# and docs/*.md (test/readme.sh) and isolation inside one throwaway cluster (test/with-cluster.sh), then the
# Perl TAP tests and the demo, which start their own clusters.  Every suite
# runs even when an earlier one fails.
# Prints a line per suite and, last, exactly "N passed, N failed" with test
# counts summed over the suites; exits non-zero if anything failed.  A suite
# that fails without reporting a failed test (it could not connect, an
# expected file is missing, a test file died) counts as one failure.
#
# A suite that ran no tests at all counts as one failure too.
#
# Internal: "run-tests.sh --in-cluster" runs the four server-side suites.
set -euo pipefail

cd "$(dirname "$0")/.."
make=${MAKE:-make}

# record SUITE PASSED FAILED.  A suite that ran no test at all (its tests
# were not found, or its runner stopped before the first) counts as one
# failure: a green line must mean that tests ran.
record()
{
	local name=$1 passed=$2 failed=$3

	if [ $((passed + failed)) -eq 0 ]; then
		echo "[run-tests] $name: FAILED: the suite ran no tests" >&2
		failed=1
	fi
	echo "$name $passed $failed" >> "$SCALER_TEST_RESULTS"
	echo "[run-tests] $name: passed $passed, failed $failed" >&2
}

# Counts from pg_regress / pg_isolation_regress output: one "... ok" or
# "... FAILED" line per test ("failed (ignored)" does not fail the run).
count_regress()
{
	local out=$1 rc=$2 passed failed
	passed=$(grep -cE '\.\.\. (ok|failed \(ignored\))( |$)' "$out" || true)
	failed=$(grep -cE '\.\.\. FAILED( |$)' "$out" || true)
	if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
		failed=1
	fi
	echo "$passed $failed"
}

# Counts from TAP::Harness output (pg_prove, prove): "Files=F, Tests=T, ..."
# and, per failing file, "NAME (Wstat: W Tests: T Failed: F)"; a failing file
# that failed no single test (it died, or its plan was wrong) counts as one.
count_prove()
{
	local out=$1 rc=$2 total failed_tests failed
	total=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$out" | tail -n 1)
	total=${total:-0}
	failed_tests=$(sed -n 's/.*(Wstat: .* Failed: \([0-9]*\)).*/\1/p' "$out" |
		awk '{ s += $1 } END { print s + 0 }')
	failed=$(sed -n 's/.*(Wstat: .* Failed: \([0-9]*\)).*/\1/p' "$out" |
		awk '{ s += ($1 > 0 ? $1 : 1) } END { print s + 0 }')
	if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
		failed=1
	fi
	echo "$((total - failed_tests)) $failed"
}

# A suite that is one test: it passes when its command succeeds.
count_single()
{
	if [ "$2" -eq 0 ]; then echo "1 0"; else echo "0 1"; fi
}

# suite NAME KIND CMD...: run CMD, show and keep its output, record counts.
suite()
{
	local name=$1 kind=$2 out rc counts
	shift 2
	out=$(mktemp)
	echo "[run-tests] $name: $*" >&2
	set +e
	"$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	set -e
	counts=$(count_"$kind" "$out" "$rc")
	rm -f "$out"
	# shellcheck disable=SC2086
	record "$name" $counts
	return "$rc"
}

in_cluster()
{
	local rc=0

	if ! suite installcheck regress "$make" -s --no-print-directory installcheck ISOLATION=; then
		rc=1
		[ -f regression.diffs ] && head -n 200 regression.diffs >&2
	fi
	suite prove prove "$make" -s --no-print-directory prove || rc=1
	suite readme prove prove -e bash test/readme.sh || rc=1
	suite upgrade prove prove -e bash test/upgrade/run.sh || rc=1
	suite svg prove prove -e bash test/svg.sh || rc=1
	if ! suite isolation regress "$make" -s --no-print-directory installcheck REGRESS=; then
		rc=1
		[ -f output_iso/regression.diffs ] && head -n 200 output_iso/regression.diffs >&2
	fi
	return $rc
}

if [ "${1:-}" = --in-cluster ]; then
	in_cluster
	exit
fi

SCALER_TEST_RESULTS=$(mktemp)
export SCALER_TEST_RESULTS
trap 'rm -f "$SCALER_TEST_RESULTS"' EXIT

if ! test/with-cluster.sh "$0" --in-cluster; then
	# Nothing recorded: the cluster itself did not come up.
	if [ ! -s "$SCALER_TEST_RESULTS" ]; then
		record cluster 0 1
	fi
fi
suite tap prove "$make" -s --no-print-directory tap || true
# The demo's own assertions (a decision reaches scaler-listen) guard the
# whole path, in a cluster of its own.
suite demo single test/with-cluster.sh test/demo.sh || true

awk '{ p += $2; f += $3 } END { printf "%d passed, %d failed\n", p, f; exit (f > 0) }' \
	"$SCALER_TEST_RESULTS"
