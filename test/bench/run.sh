#!/usr/bin/env bash
# run.sh: what `make bench` runs inside test/with-cluster.sh (so PGHOST,
# PGPORT, PGUSER and PGDATABASE point at a running server): the analytics,
# traffic value, policy, backtest, cold-start and (when Citus is installed)
# Citus benchmarks.  Each prints its figures; the targets they report are
# not enforced, so this fails only when a benchmark itself fails to run.
# Environment knobs (BENCH_ROWS, BENCH_RUNS, ...) are described in each script.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
rc=0

echo "=== analytics benchmark (test/bench/analytics.sh) ==="
"$here/analytics.sh" || rc=$?

for bench in traffic policy backtest coldstart citus rollup; do
	echo
	echo "=== $bench benchmark (test/bench/$bench.sh) ==="
	"$here/$bench.sh" || rc=$?
done

if [ $rc -ne 0 ]; then
	echo "run.sh: a benchmark failed (status $rc)" >&2
fi
exit $rc
