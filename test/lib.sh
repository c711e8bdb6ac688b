# lib.sh: what the test scripts share; sourced (". test/lib.sh"), not run.
#
# After sourcing:
#   SCALER_PGBIN   the PostgreSQL bin dir to run: `pg_config --bindir`
#                  ($PG_CONFIG, default pg_config on PATH), inside
#                  $SCALER_PGTREE when that is set (a private copy made by
#                  test/pgtree.sh); an SCALER_PGBIN already in the
#                  environment (test/with-cluster.sh exports it) is kept.
#   SCALER_PGXS    the PGXS directory: pg_regress, pg_isolation_regress and
#                  the Perl modules PostgreSQL::Test::* are under it.
#   SCALER_SRC     the checkout (the directory above test/).
# and the functions below.  This is the one place that knows where
# PostgreSQL lives.
# shellcheck shell=bash disable=SC2034  # variables are for the sourcing script

SCALER_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# scaler_pg_config ARG: pg_config ARG of the PostgreSQL installation used
# (never the copy in a private tree: its paths point inside the tree).
scaler_pg_config()
{
	"${PG_CONFIG:-pg_config}" "$1"
}

# scaler_in_tree PATH: PATH as installed in $SCALER_PGTREE (PATH unchanged
# without a tree), like `make install DESTDIR=$SCALER_PGTREE` puts it.
scaler_in_tree()
{
	if [ -n "${SCALER_PGTREE:-}" ]; then
		echo "$(realpath -m "$SCALER_PGTREE")$1"
	else
		echo "$1"
	fi
}

if [ -z "${SCALER_PGBIN:-}" ]; then
	SCALER_PGBIN=$(scaler_in_tree "$(scaler_pg_config --bindir)")
fi
SCALER_PGXS=$(scaler_pg_config --pgxs)
SCALER_PGXS=${SCALER_PGXS%/src/makefiles/pgxs.mk}

# die MESSAGE: print "SCRIPT: MESSAGE" on stderr and exit 1.
die()
{
	echo "${0##*/}: $*" >&2
	exit 1
}

# require_pgbin: fail unless $SCALER_PGBIN holds a server.
require_pgbin()
{
	[ -x "$SCALER_PGBIN/postgres" ] ||
		die "no PostgreSQL binaries in $SCALER_PGBIN (run test/pgtree.sh \"\$SCALER_PGTREE\"?)"
}

# as_postgres CMD...: run CMD as the postgres user (PostgreSQL refuses to
# run as root): through runuser when root, directly when already postgres.
# CMD runs in the current directory, or in / when postgres may not enter it
# (a checkout under /root): PostgreSQL's programs complain about a working
# directory they cannot change back to.
as_postgres()
{
	if [ "$(id -un)" = postgres ]; then
		"$@"
	elif [ "$(id -u)" -eq 0 ]; then
		# shellcheck disable=SC2016  # expanded by the inner shell
		runuser -u postgres -- /bin/sh -c 'cd "$0" 2>/dev/null || cd /; exec "$@"' "$PWD" "$@"
	else
		die "run as root or as postgres"
	fi
}

# postgres_dir PREFIX: make a fresh directory ${TMPDIR:-/tmp}/PREFIX.XXXXXX
# owned by postgres, readable by everyone, and print its name.
postgres_dir()
{
	local dir

	dir=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
	chmod 755 "$dir"
	chown postgres: "$dir" 2>/dev/null || [ "$(id -un)" = postgres ] ||
		die "cannot chown $dir to postgres (run as root or as postgres)"
	echo "$dir"
}

# on_exit FUNCTION: run FUNCTION when the script exits, also on Ctrl-C,
# SIGTERM and SIGHUP; after a signal the script then dies of that same
# signal, so that callers (make, a calling script) stop too instead of
# going on to their next step.  FUNCTION must be safe to run twice.
on_exit()
{
	_scaler_cleanup=$1
	trap '"$_scaler_cleanup"' EXIT
	trap '_scaler_on_signal INT' INT
	trap '_scaler_on_signal TERM' TERM
	trap '_scaler_on_signal HUP' HUP
}

# shellcheck disable=SC2317  # runs from a trap
_scaler_on_signal()
{
	trap - EXIT "$1"
	"$_scaler_cleanup"
	kill -s "$1" $$
}
