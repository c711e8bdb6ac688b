#!/usr/bin/env bash
# pgtree.sh DIR: make DIR a private copy of the system's PostgreSQL 15 (bin,
# lib, share), unless it already is one.  `make install DESTDIR=DIR` then
# installs scaler into the copy instead of the shared system directories, and
# the copy's binaries (which find lib/ and share/ relative to themselves) load
# that build.  Use it with SCALER_PGTREE=DIR for the test scripts and make.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
tree=$1

if [ -x "$tree/usr/lib/postgresql/15/bin/postgres" ] &&
	[ -d "$tree/usr/share/postgresql/15/extension" ]; then
	exit 0
fi

mkdir -p "$tree/usr/lib/postgresql" "$tree/usr/share/postgresql"
cp -a /usr/lib/postgresql/15 "$tree/usr/lib/postgresql/"
cp -a /usr/share/postgresql/15 "$tree/usr/share/postgresql/"
# The server runs as postgres and must be able to reach the copy.
chmod a+rx "$tree" "$tree/usr" "$tree/usr/lib" "$tree/usr/share" \
	"$tree/usr/lib/postgresql" "$tree/usr/share/postgresql"
echo "pgtree.sh: private PostgreSQL copy in $tree" >&2
