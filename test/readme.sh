#!/usr/bin/env bash
# readme.sh: run every ```sql example of README.md, in order, in a fresh
# database of the running server (PGHOST/PGPORT/PGUSER), and report each as a
# TAP test.  Keeps the README honest: an example that stops working fails
# `make test`.  Run it through prove: `prove -e bash test/readme.sh`.
set -euo pipefail

cd "$(dirname "$0")/.."
psql_bin=${SCALER_PGBIN:-/usr/lib/postgresql/15/bin}/psql
db=scaler_readme
blocks=$(mktemp -d)
trap 'rm -rf "$blocks"' EXIT

# Split the README's sql blocks into files 001.sql, 002.sql, ...
awk -v dir="$blocks" '
	/^```sql[[:space:]]*$/ { n++; file = sprintf("%s/%03d.sql", dir, n); inside = 1; next }
	/^```/ && inside { inside = 0; next }
	inside { print > file }
' README.md

count=$(find "$blocks" -name '*.sql' | wc -l)
echo "1..$((count + 1))"

PGOPTIONS="-c client_min_messages=warning" "$psql_bin" -X -q -d postgres \
	-c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
echo "ok 1 - fresh database $db"

n=1
for file in "$blocks"/*.sql; do
	n=$((n + 1))
	first=$(grep -v '^[[:space:]]*$' "$file" | head -n 1)
	if out=$("$psql_bin" -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$file" 2>&1); then
		echo "ok $n - README example: $first"
	else
		echo "not ok $n - README example: $first"
		sed 's/^/# /' <<<"$out"
	fi
done
"$psql_bin" -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null
