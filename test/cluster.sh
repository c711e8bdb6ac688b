#!/usr/bin/env bash
# cluster.sh: start or stop a throwaway PostgreSQL 15 cluster for scaler's tests.
#
#   test/cluster.sh start    initdb + start; prints where the environment file is
#   test/cluster.sh stop     stop the server and remove its directory
#
# The cluster lives in a fresh mktemp -d directory owned by the postgres user
# (the server refuses to run as root), listens only on a Unix socket inside
# that directory, on port $SCALER_PORT (default 54329), preloads scaler and
# pg_cron, and has a database scaler_test with pg_cron created in it.
#
# Environment:
#   SCALER_PORT      port (default 54329); one cluster per port at a time
#   SCALER_PGTREE    private PostgreSQL copy (see test/pgtree.sh) whose binaries,
#                    and therefore lib/ and share/, are used instead of the system's
#   SCALER_PRELOAD   shared_preload_libraries (default 'scaler,pg_cron')
#   SCALER_TIMEZONE  the server's TimeZone (default UTC, so results do not
#                    depend on the machine's zone)
#
# "start" writes test/.cluster/<port>.env (PGHOST, PGPORT, PGUSER, PGDATABASE,
# SCALER_CLUSTER_DIR, SCALER_CLUSTER_LOG, SCALER_PGBIN); source it to talk to
# the server.  test/with-cluster.sh wraps start, a command, and stop.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=test/lib.sh
. "$here/lib.sh"
port=${SCALER_PORT:-54329}
preload=${SCALER_PRELOAD:-scaler,pg_cron}
timezone=${SCALER_TIMEZONE:-UTC}
pgbin=$SCALER_PGBIN
statedir=$here/.cluster
statefile=$statedir/$port.env

# A start that fails halfway leaves nothing behind.
abort_start()
{
	echo "cluster.sh: $*" >&2
	stop
	exit 1
}

start()
{
	local dir

	require_pgbin
	if [ -f "$statefile" ]; then
		# shellcheck disable=SC1090
		dir=$(. "$statefile" && echo "$SCALER_CLUSTER_DIR")
		if [ -d "$dir" ] &&
			as_postgres "$pgbin/pg_ctl" -D "$dir/data" status > /dev/null 2>&1; then
			die "a cluster on port $port is already running in $dir (test/cluster.sh stop first)"
		fi
		# Left over from a run that was killed: clear it away.
		echo "cluster.sh: removing the stale cluster in $dir" >&2
		stop
	fi

	dir=$(postgres_dir scaler-cluster)
	mkdir -p "$statedir"
	cat > "$statefile" <<-ENV
	export SCALER_CLUSTER_DIR='$dir'
	export SCALER_CLUSTER_LOG='$dir/server.log'
	export SCALER_PGBIN='$pgbin'
	export PGHOST='$dir/sock'
	export PGPORT='$port'
	export PGUSER=postgres
	export PGDATABASE=scaler_test
	ENV

	as_postgres mkdir "$dir/sock"
	# --no-sync: nothing here needs to survive a machine crash.
	if ! as_postgres "$pgbin/initdb" -D "$dir/data" --auth=trust -U postgres \
		-E UTF8 --locale=C.UTF-8 --no-sync > "$dir/initdb.log" 2>&1; then
		cat "$dir/initdb.log" >&2
		abort_start "initdb failed"
	fi
	# Create scaler_test before pg_cron's launcher first looks for it, so the
	# log starts clean (otherwise it begins with a FATAL and a worker restart).
	if ! echo 'CREATE DATABASE scaler_test' | as_postgres "$pgbin/postgres" --single \
		-F -D "$dir/data" -c exit_on_error=on postgres > "$dir/single.log" 2>&1; then
		cat "$dir/single.log" >&2
		abort_start "could not create database scaler_test"
	fi
	as_postgres tee -a "$dir/data/postgresql.conf" > /dev/null <<-CONF

	# throwaway test cluster (test/cluster.sh)
	port = $port
	listen_addresses = ''
	unix_socket_directories = '$dir/sock'
	shared_preload_libraries = '$preload'
	cron.database_name = 'scaler_test'
	cron.use_background_workers = on
	max_worker_processes = 32
	scaler.database = 'scaler_test'
	timezone = '$timezone'
	fsync = off
	synchronous_commit = off
	full_page_writes = off
	log_line_prefix = '%m [%p] %q%a '
	CONF

	if ! as_postgres "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" \
		-w -t 60 start > /dev/null; then
		echo "--- server log ($dir/server.log) ---" >&2
		tail -n 30 "$dir/server.log" >&2 || true
		abort_start "server did not start on port $port"
	fi
	"$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir/sock" -p "$port" -U postgres \
		-d scaler_test -c 'CREATE EXTENSION pg_cron' ||
		abort_start "could not create extension pg_cron"
	echo "cluster.sh: server on port $port in $dir; environment: . $statefile" >&2
}

stop()
{
	local dir

	[ -f "$statefile" ] || die "no cluster on port $port ($statefile is missing)"
	# shellcheck disable=SC1090
	dir=$(. "$statefile" && echo "$SCALER_CLUSTER_DIR")
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_postgres "$pgbin/pg_ctl" -D "$dir/data" -w -t 30 -m fast stop > /dev/null ||
			as_postgres "$pgbin/pg_ctl" -D "$dir/data" -w -m immediate stop > /dev/null ||
			echo "cluster.sh: could not stop the server in $dir" >&2
	fi
	case "$dir" in
	*/scaler-cluster.*) rm -rf "$dir" ;;
	*) echo "cluster.sh: not removing unexpected directory '$dir'" >&2 ;;
	esac
	rm -f "$statefile"
	rmdir "$statedir" 2>/dev/null || true
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*)
	echo "usage: $0 start|stop" >&2
	exit 2
	;;
esac
