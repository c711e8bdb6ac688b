#!/usr/bin/env bash
# isolation.sh: run the isolation specs test/isolation/specs/*.spec with
# pg_isolation_regress against the running server (PGHOST/PGPORT/PGUSER from
# the environment, as test/with-cluster.sh exports them).
#
# Each run gets a fresh database scaler_isolation with the scaler extension
# already created, so specs must not CREATE EXTENSION scaler themselves (use
# IF NOT EXISTS if in doubt).  Expected output: test/isolation/expected/NAME.out;
# actual output and diffs: output_iso/.  Succeeds with a message when there
# are no specs.
set -euo pipefail

cd "$(dirname "$0")/.."

shopt -s nullglob
specs=(test/isolation/specs/*.spec)
if [ ${#specs[@]} -eq 0 ]; then
	echo "isolation.sh: no isolation specs"
	exit 0
fi
names=()
for s in "${specs[@]}"; do
	n=${s##*/}
	names+=("${n%.spec}")
done

pgbin=${SCALER_PGBIN:-/usr/lib/postgresql/15/bin}
db=scaler_isolation
: "${PGHOST:?PGHOST is not set (run under test/with-cluster.sh)}"
: "${PGPORT:?PGPORT is not set (run under test/with-cluster.sh)}"
user=${PGUSER:-postgres}

"$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -d postgres -U "$user" \
	-c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
"$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -d "$db" -U "$user" \
	-c 'CREATE EXTENSION scaler'

rm -rf output_iso
/usr/lib/postgresql/15/lib/pgxs/src/test/isolation/pg_isolation_regress \
	--use-existing --host="$PGHOST" --port="$PGPORT" --user="$user" \
	--dbname="$db" --inputdir=test/isolation --outputdir=output_iso \
	"${names[@]}"
