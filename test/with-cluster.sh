#!/usr/bin/env bash
# with-cluster.sh CMD [ARGS...]: run CMD against a throwaway PostgreSQL cluster.
#
# Starts a cluster with test/cluster.sh (port $SCALER_PORT, default 54329;
# binaries from $SCALER_PGTREE when set), exports PGHOST, PGPORT,
# PGUSER=postgres and PGDATABASE=scaler_test (plus SCALER_CLUSTER_DIR,
# SCALER_CLUSTER_LOG, SCALER_PGBIN, which is also put first in PATH), runs CMD, and always stops the server and
# removes its directory afterwards, also when CMD fails or we are interrupted.
# Exits with CMD's status; when that is non-zero, prints the server log's tail.
#
#   test/with-cluster.sh psql -c 'SELECT 1'
#   test/with-cluster.sh make installcheck prove
set -euo pipefail

if [ $# -eq 0 ]; then
	echo "usage: $0 CMD [ARGS...]" >&2
	exit 2
fi

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=test/lib.sh
. "$here/lib.sh"
port=${SCALER_PORT:-54329}
statefile=$here/.cluster/$port.env
started=

# shellcheck disable=SC2317  # runs from the exit trap
cleanup()
{
	if [ -n "$started" ]; then
		started=
		"$here/cluster.sh" stop || true
	fi
}
on_exit cleanup

# cluster.sh cleans up after itself when start fails.
"$here/cluster.sh" start
started=yes
# shellcheck disable=SC1090
. "$statefile"
# Programs (psql, scaler-listen) come from the cluster's bin dir, the private
# tree's when SCALER_PGTREE is set.  That dir also holds a pg_config that
# points at headers a private tree lacks, so builds keep the original one.
PG_CONFIG=${PG_CONFIG:-$(command -v pg_config || echo pg_config)}
PATH=$SCALER_PGBIN:$PATH
export PG_CONFIG PATH

rc=0
"$@" || rc=$?

if [ $rc -ne 0 ]; then
	echo "with-cluster.sh: '$*' exited with status $rc; last lines of the server log:" >&2
	tail -n 40 "$SCALER_CLUSTER_LOG" >&2 || true
fi
exit $rc
