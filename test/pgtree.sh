#!/usr/bin/env bash
# pgtree.sh DIR: make DIR a private copy of the system's PostgreSQL (bin,
# lib, share, as `pg_config` reports them), unless it already is one.
# `make install DESTDIR=DIR` then installs scaler into the copy instead of
# the shared system directories, and the copy's binaries (which find lib/
# and share/ relative to themselves) load that build.  Use it with
# SCALER_PGTREE=DIR for the test scripts and make.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
# shellcheck disable=SC2034  # read by lib.sh
SCALER_PGTREE=$1
# shellcheck source=test/lib.sh
. "$(dirname "$0")/lib.sh"
tree=$(scaler_in_tree "")
bindir=$(scaler_pg_config --bindir)
sharedir=$(scaler_pg_config --sharedir)
# Debian: bin/ and lib/ are both under /usr/lib/postgresql/15.
pgdir=${bindir%/bin}

if [ -x "$tree$bindir/postgres" ] && [ -d "$tree$sharedir/extension" ]; then
	exit 0
fi

for d in "$pgdir" "$sharedir"; do
	mkdir -p "$tree${d%/*}"
	cp -a "$d" "$tree${d%/*}/"
	# The server runs as postgres and must be able to reach the copy.
	p=$tree${d%/*}
	while [ "$p" != "$tree" ]; do
		chmod a+rx "$p"
		p=${p%/*}
	done
done
chmod a+rx "$tree"
echo "pgtree.sh: private PostgreSQL copy in $tree" >&2
