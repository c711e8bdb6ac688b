#!/usr/bin/env bash
# readme.sh: run every ```sql example of README.md and docs/*.md against the
# running server (PGHOST/PGPORT/PGUSER), and report each as a TAP test.
# Keeps the documentation honest: an example that stops working fails
# `make test`.  Run it through prove: `prove -e bash test/readme.sh`.
#
# Each document runs in a fresh database of its own, its examples in order
# in one session per block, so a document's later examples may use what its
# earlier ones made (a document stands alone, as a reader meets it).
set -euo pipefail
shopt -s nullglob

cd "$(dirname "$0")/.."
# shellcheck source=test/lib.sh
. test/lib.sh
psql_bin=$SCALER_PGBIN/psql
db=scaler_readme
blocks=$(mktemp -d)
remove_blocks()
{
	rm -rf "$blocks"
}
on_exit remove_blocks

docs=(README.md docs/*.md)
# Split each document's sql blocks into DIR/DOC-NUMBER/NNN.sql.
count=0
for i in "${!docs[@]}"; do
	dir=$blocks/$(printf '%02d' "$i")
	mkdir "$dir"
	awk -v dir="$dir" '
		/^```sql[[:space:]]*$/ { n++; file = sprintf("%s/%03d.sql", dir, n); inside = 1; next }
		/^```/ && inside { inside = 0; next }
		inside { print > file }
	' "${docs[$i]}"
	count=$((count + $(find "$dir" -name '*.sql' | wc -l)))
done
echo "1..$count"

drop_db()
{
	PGOPTIONS="-c client_min_messages=warning" "$psql_bin" -X -q -d postgres \
		-c "DROP DATABASE IF EXISTS $db" >/dev/null
}

n=0
for i in "${!docs[@]}"; do
	files=("$blocks/$(printf '%02d' "$i")"/*.sql)
	[ ${#files[@]} -gt 0 ] || continue
	drop_db
	"$psql_bin" -X -q -d postgres -c "CREATE DATABASE $db" >/dev/null
	for file in "${files[@]}"; do
		n=$((n + 1))
		first=$(grep -v '^[[:space:]]*$' "$file" | head -n 1)
		if out=$("$psql_bin" -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$file" 2>&1); then
			echo "ok $n - ${docs[$i]}: $first"
		else
			echo "not ok $n - ${docs[$i]}: $first"
			sed 's/^/# /' <<<"$out"
		fi
	done
done
drop_db
