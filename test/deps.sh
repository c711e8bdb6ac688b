#!/usr/bin/env bash
# deps.sh: make sure the Debian packages that scaler builds and tests with are
# installed.  As root, installs whatever is missing with apt-get; otherwise
# prints the one apt-get line to run and fails.  Silent when nothing is missing.
set -euo pipefail

packages=(
	postgresql-15
	postgresql-server-dev-15
	postgresql-15-cron
	postgresql-15-pgtap
	libtap-parser-sourcehandler-pgtap-perl
	libipc-run-perl
	libpq-dev
	postgresql-15-tdigest
	libxml2-utils
	librsvg2-bin
	python3
	make
	gcc
)

missing=()
for pkg in "${packages[@]}"; do
	# "install ok installed" is the only state in which the package is usable;
	# removed-but-configured packages report other states.
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	if [ "$status" != "install ok installed" ]; then
		missing+=("$pkg")
	fi
done

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing Debian packages: ${missing[*]}" >&2
	echo "run as root:" >&2
	echo "  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${missing[*]}" >&2
	exit 1
fi

echo "deps.sh: installing ${missing[*]}" >&2
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
