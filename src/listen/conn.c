/*-------------------------------------------------------------------------
 *
 * conn.c
 *		The transport of scaler-listen: connect and check, LISTEN, and one
 *		function per server call (subscribe, read the watermarks, read
 *		decisions, send one acknowledgement).  It keeps no decisions: rows go
 *		to the callbacks its caller passes.
 *
 * Order matters for not missing anything: LISTEN is committed before the
 * subscription and the first read take their snapshots, so a decision that
 * commits after that also notifies us.
 *
 * A lost connection makes these functions return false and leaves the
 * connection closed: main.c reconnects with backoff.  So does a subscription
 * that another session holds (conn_busy()): it is retried the same way.  An
 * SQL error (a missing privilege) is not cured by reconnecting: it sets
 * conn_failed(), and main.c stops.
 *
 * Connecting and every statement wait with an eye on the stop signals
 * (connect_interruptibly, run_query), so that a server that does not answer
 * cannot keep the listener from stopping.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libpq-fe.h"

#include "listen.h"

static PGconn *conn = NULL;
static const ListenOptions *options = NULL;
static bool failed = false;
static bool busy = false;

/* an empty notification came: a policy may have moved onto the channel */
static bool move_hint = false;

/* whether run_query's last cancel was of an acknowledgement */
static bool canceled_ack = false;

/* main.c's count of stop signals and its wake-up pipe (conn_set_interrupts) */
static volatile sig_atomic_t *stop_count = NULL;
static int	wake_read = -1;
static int	wake_write = -1;

/* The length of a libpq message without its final newlines (ours add their own). */
static int
trimmed_length(const char *msg)
{
	size_t		len = strlen(msg);

	while (len > 0 && msg[len - 1] == '\n')
		len--;
	return (int) len;
}

/* Server notices (such as a FATAL before a shutdown) get our prefix too. */
static void
notice_processor(void *arg, const char *message)
{
	(void) arg;
	log_msg("server: %.*s", trimmed_length(message), message);
}

static void
connection_lost(const char *what)
{
	char	   *msg = PQerrorMessage(conn);

	log_msg("connection lost while %s: %.*s", what, trimmed_length(msg), msg);
	conn_close();
}

/*
 * Report a failed query.  Returns false either way; sets "failed" unless the
 * cause was the connection going away.
 */
static bool
query_failed(PGresult *res, const char *what)
{
	if (conn == NULL)
		return false;			/* given up on by run_query, which said so */
	if (PQstatus(conn) == CONNECTION_BAD)
	{
		PQclear(res);
		connection_lost(what);
		return false;
	}
	{
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
		const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);

		/* held by another session (55006): try again later, not an error */
		if (state && strcmp(state, "55006") == 0)
		{
			log_msg("%s%s%s", msg ? msg : "object in use",
					detail ? ": " : "", detail ? detail : "");
			PQclear(res);
			conn_close();
			busy = true;
			return false;
		}
		/*
		 * Canceled by run_query, to stop.  The connection still works: after
		 * a read, the acknowledgements of the commands still running are
		 * sent on it; after an acknowledgement (canceled only by a second
		 * signal: the user insists) the rest are not tried.
		 */
		if (state && strcmp(state, "57014") == 0 && stop_count && *stop_count > 0)
		{
			log_msg("stopped while %s", what);
			PQclear(res);
			if (canceled_ack)
				failed = true;
			return false;
		}
		log_msg("error while %s: %s", what, msg ? msg : PQerrorMessage(conn));
		if (detail)
			log_msg("DETAIL: %s", detail);
		if (hint)
			log_msg("HINT: %s", hint);
	}
	PQclear(res);
	failed = true;
	return false;
}

/* The stop signals arrive through main.c; see run_query. */
void
conn_set_interrupts(volatile sig_atomic_t *stops, int read_fd, int write_fd)
{
	stop_count = stops;
	wake_read = read_fd;
	wake_write = write_fd;
}

/*
 * Wait until the socket is ready for events, a signal wakes us, or
 * timeout_ms (-1: no limit) passes; *woken notes a signal.  False, said in
 * the log, when poll() itself fails.
 */
static bool
wait_socket(int fd, short events, int timeout_ms, bool *woken)
{
	struct pollfd fds[2];

	/* (a poll that a signal interrupts sets no revents) */
	memset(fds, 0, sizeof(fds));
	fds[0].fd = fd;
	fds[0].events = events;
	fds[1].fd = wake_read;
	fds[1].events = POLLIN;
	if (poll(fds, wake_read >= 0 ? 2 : 1, timeout_ms) < 0 && errno != EINTR)
	{
		log_msg("poll failed: %s", strerror(errno));
		return false;
	}
	if (wake_read >= 0 && (fds[1].revents & POLLIN))
	{
		char		buf[64];

		while (read(wake_read, buf, sizeof(buf)) > 0)
			;
		*woken = true;
	}
	return true;
}

/* What woke a wait here (a child's exit too) is main.c's to see. */
static void
pass_wakeup(bool woken)
{
	if (woken && wake_write >= 0 && write(wake_write, "", 1) < 0)
		(void) 0;
}

/* Ask the server to cancel the running statement. */
static void
send_cancel(void)
{
	PGcancel   *cancel = PQgetCancel(conn);
	char		errbuf[256];

	if (cancel == NULL || !PQcancel(cancel, errbuf, sizeof(errbuf)))
		log_msg("could not cancel the statement: %s",
				cancel == NULL ? "no cancel key" : errbuf);
	if (cancel != NULL)
		PQfreeCancel(cancel);
}

/*
 * Run one statement and wait for its result, as PQexecParams does, but awake
 * to the stop signals: a statement the server does not finish (it waits for
 * a lock another session holds, or the server stopped answering) would
 * otherwise keep SIGTERM from being acted on.  A stop signal that arrives
 * while a statement waits cancels it, unless it is the first signal and the
 * statement an acknowledgement (a graceful stop records them: it waits); a
 * signal after the cancel gives up on the server: the connection is closed
 * and counts as failed, so the listener exits (its unsent acknowledgements
 * are reported).  NULL when the statement could not be sent (PQstatus says
 * why) or was given up on.
 */
static PGresult *
run_query(const char *sql, int nparams, const char *const *params, bool ack)
{
	PGresult   *result = NULL;
	sig_atomic_t stops_before = stop_count ? *stop_count : 0;
	sig_atomic_t canceled_at = 0;	/* the stop count when canceled */
	bool		woken = false;

	if (!PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 0))
		return NULL;
	for (;;)
	{
		sig_atomic_t stops = stop_count ? *stop_count : 0;

		if (!PQconsumeInput(conn))
		{
			PGresult   *res;

			/* the connection broke: PQgetResult says how, without waiting */
			while ((res = PQgetResult(conn)) != NULL)
			{
				PQclear(result);
				result = res;
			}
			goto done;
		}
		while (!PQisBusy(conn))
		{
			PGresult   *res = PQgetResult(conn);

			if (res == NULL)
				goto done;
			PQclear(result);
			result = res;
		}
		/* (signals before the statement are main.c's: a stop sends acks) */
		if (canceled_at == 0 && stops > stops_before && (!ack || stops >= 2))
		{
			log_msg("stopping: canceling the statement the server is running");
			send_cancel();
			canceled_at = stops;
			canceled_ack = ack;
		}
		else if (canceled_at > 0 && stops > canceled_at)
		{
			log_msg("stopping now: giving up on the server");
			PQclear(result);
			conn_close();
			failed = true;
			result = NULL;
			goto done;
		}
		if (!wait_socket(PQsocket(conn), POLLIN, -1, &woken))
		{
			PQclear(result);
			conn_close();
			failed = true;
			result = NULL;
			goto done;
		}
	}
done:
	pass_wakeup(woken);
	return result;
}

bool
conn_is_up(void)
{
	return conn != NULL;
}

bool
conn_failed(void)
{
	return failed;
}

/* Whether the last subscribe failed because another session holds it. */
bool
conn_busy(void)
{
	return busy;
}

int
conn_socket(void)
{
	return conn ? PQsocket(conn) : -1;
}

void
conn_close(void)
{
	if (conn)
		PQfinish(conn);
	conn = NULL;
}

static void
report_missing_privileges(const char *role)
{
	log_msg("permission denied: role \"%s\" may not read and acknowledge scaler decisions",
			role);
	log_msg("HINT: As the extension owner run: "
			"GRANT USAGE ON SCHEMA scaler TO \"%s\"; "
			"GRANT SELECT ON scaler.decision TO \"%s\"; "
			"GRANT EXECUTE ON FUNCTION scaler.listen_subscribe(text, text, boolean), "
			"scaler.listen_acked(text), scaler.listen_ack(text, bigint, text, bigint), "
			"scaler.listen_policy_channels() TO \"%s\";", role, role, role);
	failed = true;
}

/*
 * Check, before anything else, the things a user can get wrong, so that each
 * has its own message and hint instead of a bare SQL error later.
 */
static bool
check_database(void)
{
	PGresult   *res;
	bool		ok = true;
	int			i;

	res = run_query("SELECT current_user, pg_catalog.current_database(), "
					" pg_catalog.has_schema_privilege(e.extnamespace, 'USAGE') "
					"FROM pg_catalog.pg_extension e WHERE e.extname = 'scaler'",
					0, NULL, false);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return query_failed(res, "looking for the scaler extension");
	if (PQntuples(res) == 0)
	{
		PQclear(res);
		res = run_query("SELECT pg_catalog.current_database()", 0, NULL, false);
		log_msg("extension \"scaler\" is not installed in database \"%s\"",
				PQresultStatus(res) == PGRES_TUPLES_OK ? PQgetvalue(res, 0, 0) : "?");
		log_msg("HINT: Run CREATE EXTENSION scaler there, or connect to the database where it is installed.");
		PQclear(res);
		failed = true;
		return false;
	}
	/* without USAGE on the schema even naming its objects fails */
	if (strcmp(PQgetvalue(res, 0, 2), "t") != 0)
	{
		report_missing_privileges(PQgetvalue(res, 0, 0));
		PQclear(res);
		return false;
	}
	PQclear(res);

	res = run_query("SELECT current_user, "
				 " pg_catalog.has_table_privilege('scaler.decision', 'SELECT'), "
				 " pg_catalog.has_function_privilege(pg_catalog.to_regprocedure('scaler.listen_subscribe(text,text,boolean)'), 'EXECUTE'), "
				 " pg_catalog.has_function_privilege(pg_catalog.to_regprocedure('scaler.listen_acked(text)'), 'EXECUTE'), "
				 " pg_catalog.has_function_privilege(pg_catalog.to_regprocedure('scaler.listen_ack(text,bigint,text,bigint)'), 'EXECUTE'), "
				 " pg_catalog.has_function_privilege(pg_catalog.to_regprocedure('scaler.listen_decisions(bigint,integer,text,bigint)'), 'EXECUTE'), "
				 " pg_catalog.has_function_privilege(pg_catalog.to_regprocedure('scaler.listen_policy_channels()'), 'EXECUTE')",
					0, NULL, false);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return query_failed(res, "checking privileges");

	/* a NULL means the function does not exist: an old extension version */
	for (i = 2; i <= 6; i++)
		if (PQgetisnull(res, 0, i))
			ok = false;
	if (!ok)
	{
		log_msg("the installed scaler extension has no listener functions");
		log_msg("HINT: Update it with ALTER EXTENSION scaler UPDATE.");
		failed = true;
	}
	else
	{
		for (i = 1; i <= 6; i++)
			if (strcmp(PQgetvalue(res, 0, i), "t") != 0)
				ok = false;
		if (!ok)
			report_missing_privileges(PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	return ok;
}

/*
 * Whether a connect_timeout value makes libpq time out: not when empty, and
 * not when it is a number at or below zero (libpq then waits for ever, and
 * so can the poll below, awake to a stop).  Anything else, a value libpq
 * will refuse too, is left to libpq.
 */
static bool
timeout_value_set(const char *val)
{
	char	   *end;
	long		seconds;

	if (val == NULL || val[0] == '\0')
		return false;
	errno = 0;
	seconds = strtol(val, &end, 10);
	while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
		end++;
	return !(end != val && *end == '\0' && errno == 0 && seconds <= 0);
}

/* The value conninfo options give keyword: NULL when not given. */
static const char *
option_value(const PQconninfoOption *opts, const char *keyword)
{
	for (; opts->keyword != NULL; opts++)
		if (strcmp(opts->keyword, keyword) == 0)
			return opts->val;
	return NULL;
}

static bool
nonempty(const char *val)
{
	return val != NULL && val[0] != '\0';
}

/*
 * Whether the connection string or the environment set connect_timeout,
 * known before connecting; *known is false when a service names options (in
 * the string or in PGSERVICE), as its file may set it, which only a started
 * connection tells.  A string that does not parse is left to libpq to report.
 */
static bool
timeout_given(const char *conninfo, bool *known)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	const char *val;
	bool		given;

	*known = true;
	if (opts == NULL)
		return false;
	/*
	 * As libpq takes it: the string's value, even an empty one; else the
	 * service file's; else the variable's.
	 */
	val = option_value(opts, "connect_timeout");
	if (val != NULL)
		given = timeout_value_set(val);
	else if (nonempty(option_value(opts, "service")) || nonempty(getenv("PGSERVICE")))
	{
		given = false;
		*known = false;
	}
	else
		given = timeout_value_set(getenv("PGCONNECT_TIMEOUT"));
	PQconninfoFree(opts);
	return given;
}

/* Whether a started connection's options set connect_timeout. */
static bool
timeout_of_connection(PGconn *c)
{
	PQconninfoOption *opts = PQconninfo(c);
	bool		given;

	if (opts == NULL)
		return false;
	given = timeout_value_set(option_value(opts, "connect_timeout"));
	PQconninfoFree(opts);
	return given;
}

/*
 * PQconnectdb, awake to the stop signals: a server that accepts the
 * connection and never answers, or packets dropped on the way, would
 * otherwise keep SIGTERM waiting for the kernel's TCP timeout, or for ever.
 * A stop signal that comes while connecting (from the start: resolving a
 * host name blocks) gives up on it.  With connect_timeout set, libpq's own
 * wait connects instead: it applies the timeout to each host and goes on to
 * the next, which PQconnectPoll does not, and the timeout bounds a stop.
 * Which way is known before connecting, from the string and the
 * environment; a service file's timeout only once the connection started,
 * which is then given up and made again, libpq's way.
 * NULL when given up on (or out of memory); otherwise PQstatus says how it
 * went.
 */
static PGconn *
connect_interruptibly(const char *conninfo)
{
	sig_atomic_t stops_before = stop_count ? *stop_count : 0;
	PGconn	   *c;
	PostgresPollingStatusType status = PGRES_POLLING_WRITING;
	bool		woken = false;
	bool		known;

	if (timeout_given(conninfo, &known))
		c = PQconnectdb(conninfo);
	else
		c = PQconnectStart(conninfo);
	if (c == NULL)
	{
		log_msg("could not connect to the database: out of memory");
		return NULL;
	}
	if (PQstatus(c) == CONNECTION_BAD || PQstatus(c) == CONNECTION_OK)
		return c;
	/* a service file's connect_timeout: the start is given up, once */
	if (!known && timeout_of_connection(c))
	{
		PQfinish(c);
		return PQconnectdb(conninfo);
	}
	while (status != PGRES_POLLING_OK && status != PGRES_POLLING_FAILED)
	{
		if (stop_count && *stop_count > stops_before)
		{
			log_msg("stopped while connecting");
			PQfinish(c);
			c = NULL;
			break;
		}
		/* (the socket can change: libpq tries one address after another) */
		if (!wait_socket(PQsocket(c),
						 status == PGRES_POLLING_READING ? POLLIN : POLLOUT,
						 -1, &woken))
		{
			PQfinish(c);
			c = NULL;
			break;
		}
		status = PQconnectPoll(c);
	}
	pass_wakeup(woken);
	return c;
}

/*
 * Connect, check, and LISTEN.
 *
 * On the first connection every failure is final (a wrong conninfo should be
 * reported, not retried forever); afterwards only SQL errors are.
 */
bool
conn_open(const ListenOptions *opts, bool first)
{
	PGresult   *res;
	char	   *ident;
	char	   *sql;

	options = opts;
	busy = false;
	conn = connect_interruptibly(opts->conninfo);
	if (conn == NULL)
	{
		/* given up on to stop, which is no failure; else said above */
		if (first && !(stop_count && *stop_count > 0))
			failed = true;
		return false;
	}
	if (PQstatus(conn) != CONNECTION_OK)
	{
		char	   *msg = PQerrorMessage(conn);

		log_msg("could not connect to the database: %.*s",
				trimmed_length(msg), msg);
		conn_close();
		if (first)
			failed = true;
		return false;
	}

	PQsetNoticeProcessor(conn, notice_processor, NULL);
	if (!check_database())
		return false;

	/* LISTEN first: it must be committed before the catch-up snapshot */
	ident = PQescapeIdentifier(conn, opts->channel, strlen(opts->channel));
	if (ident == NULL)
	{
		log_msg("invalid channel name \"%s\": %s", opts->channel, PQerrorMessage(conn));
		failed = true;
		return false;
	}
	sql = xmalloc(strlen(ident) + 8);
	sprintf(sql, "LISTEN %s", ident);
	PQfreemem(ident);
	res = run_query(sql, 0, NULL, false);
	free(sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return query_failed(res, "starting to LISTEN");
	PQclear(res);
	return true;
}

/*
 * Take the subscription for this session: where catch-up reads from, and up
 * to which id it reads only each policy's newest decision.  Fails with
 * conn_busy() set while another session holds it.
 */
bool
conn_subscribe(long long *after_id, long long *latest_through)
{
	PGresult   *res;
	const char *params[3];

	params[0] = options->name;
	params[1] = options->channel;
	params[2] = options->from_now ? "true" : "false";
	res = run_query("SELECT after_id, latest_through FROM scaler.listen_subscribe($1, $2, $3)",
					3, params, false);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return query_failed(res, "subscribing");
	*after_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	*latest_through = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	return true;
}

/* Pass each policy's watermark (its newest acknowledged decision) on. */
bool
conn_read_acked(void (*acked) (const char *policy, long long id))
{
	PGresult   *res;
	const char *params[1];
	int			i;

	params[0] = options->name;
	res = run_query("SELECT policy, decision_id FROM scaler.listen_acked($1)",
					1, params, true);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return query_failed(res, "reading acknowledgements");
	for (i = 0; i < PQntuples(res); i++)
		acked(PQgetvalue(res, i, 0), strtoll(PQgetvalue(res, i, 1), NULL, 10));
	PQclear(res);
	return true;
}

/*
 * Read up to max_rows decisions after an id, in id order, and pass each on.
 * Returns how many were read, or -1.
 */
int
conn_read_decisions(long long after_id, long long latest_through, int max_rows,
					void (*take) (const ListenDecision *d))
{
	PGresult   *res;
	char		after[32];
	char		latest[32];
	char		batch[16];
	const char *params[4];
	int			n;
	int			i;

	snprintf(after, sizeof(after), "%lld", after_id);
	snprintf(batch, sizeof(batch), "%d", max_rows);
	snprintf(latest, sizeof(latest), "%lld", latest_through);
	params[0] = after;
	params[1] = batch;
	params[2] = options->channel;
	params[3] = latest;
	res = run_query("SELECT id, policy, from_capacity, to_capacity, payload, for_channel "
					   "FROM scaler.listen_decisions($1, $2, $3, $4)",
					4, params, false);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		query_failed(res, "reading decisions");
		return -1;
	}
	n = PQntuples(res);
	for (i = 0; i < n; i++)
	{
		ListenDecision d;

		d.id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		d.policy = PQgetvalue(res, i, 1);
		d.from_capacity = atoi(PQgetvalue(res, i, 2));
		d.to_capacity = atoi(PQgetvalue(res, i, 3));
		d.json = PQgetvalue(res, i, 4);
		d.for_channel = strcmp(PQgetvalue(res, i, 5), "t") == 0;
		take(&d);
	}
	PQclear(res);
	return n;
}

/* Pass on each policy whose channel is ours. */
bool
conn_read_channel_policies(void (*here) (const char *policy))
{
	PGresult   *res;
	const char *params[1];
	int			i;

	params[0] = options->channel;
	res = run_query("SELECT policy FROM scaler.listen_policy_channels() WHERE channel = $1",
					1, params, false);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return query_failed(res, "reading the policies of the channel");
	for (i = 0; i < PQntuples(res); i++)
		here(PQgetvalue(res, i, 0));
	PQclear(res);
	return true;
}

/* Send one acknowledgement (scaler.listen_ack is idempotent). */
bool
conn_send_ack(const ListenAck *ack)
{
	PGresult   *res;
	char		idbuf[32];
	char		throughbuf[32];
	const char *params[4];

	snprintf(idbuf, sizeof(idbuf), "%lld", ack->id);
	snprintf(throughbuf, sizeof(throughbuf), "%lld", ack->through);
	params[0] = options->name;
	params[1] = idbuf;
	params[2] = ack->superseded ? "superseded" : "done";
	params[3] = throughbuf;
	res = run_query("SELECT scaler.listen_ack($1, $2, $3, $4)",
					4, params, true);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return query_failed(res, "acknowledging a decision");
	PQclear(res);
	return true;
}

/*
 * Count the notifications libpq has parsed.  Notifications only say "look":
 * the payload is shown in verbose mode and never used, except that an empty
 * one (alter_policy's, when a policy moves onto the channel) is noted for
 * conn_take_move_hint; anyone may send one, which costs a look and no more.
 * Called after every query too, because a notification that arrives during
 * a query is parsed then and would not make the socket readable again.
 */
int
conn_take_notifies(void)
{
	PGnotify   *n;
	int			count = 0;

	if (conn == NULL)
		return 0;
	while ((n = PQnotifies(conn)) != NULL)
	{
		if (options->verbose)
			log_msg("notification on \"%s\" from backend %d: %s",
					n->relname, n->be_pid, n->extra);
		if (n->extra[0] == '\0')
			move_hint = true;
		count++;
		PQfreemem(n);
	}
	return count;
}

/* Whether an empty notification came since the last call. */
bool
conn_take_move_hint(void)
{
	bool		hint = move_hint;

	move_hint = false;
	return hint;
}

/* Read whatever arrived on the socket. */
bool
conn_consume(void)
{
	if (!PQconsumeInput(conn))
	{
		connection_lost("waiting for notifications");
		return false;
	}
	return true;
}
