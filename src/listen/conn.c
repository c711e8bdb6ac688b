/*-------------------------------------------------------------------------
 *
 * conn.c
 *		The database side of scaler-listen: connect and check, LISTEN,
 *		subscribe, catch up from scaler.decision, and acknowledge.
 *
 * Order matters for not missing anything: LISTEN is committed before the
 * catch-up query takes its snapshot, so a decision that commits after that
 * snapshot also notifies us.  Decisions commit in id order, so reading
 * "id > the last id fetched" after every wake-up never skips one; the
 * notification payload is never trusted, only used as a wake-up.
 *
 * Acknowledgements wait in a FIFO until the server has them; after a lost
 * connection they are sent again (scaler.listen_ack is idempotent), so a
 * command that finished while the server was away is not run twice.
 *
 * A lost connection makes these functions return false and leaves the
 * connection closed: main.c reconnects with backoff.  An SQL error (a
 * missing privilege, the subscription in use) is not cured by reconnecting:
 * it sets conn_failed(), and main.c stops.
 *
 *-------------------------------------------------------------------------
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libpq-fe.h"

#include "listen.h"

/* decisions read per catch-up query */
#define FETCH_BATCH 1000

typedef struct PendingAck
{
	long long	id;
	bool		superseded;
	char	   *policy;			/* for messages only */
	struct PendingAck *next;
} PendingAck;

static PGconn *conn = NULL;
static const ListenOptions *options = NULL;
static bool failed = false;
static long long fetched_through = -1;	/* -1: not yet subscribed */
static PendingAck *ack_head = NULL;
static PendingAck *ack_tail = NULL;

/* Server notices (such as a FATAL before a shutdown) get our prefix too. */
static void
notice_processor(void *arg, const char *message)
{
	size_t		len = strlen(message);

	(void) arg;
	while (len > 0 && message[len - 1] == '\n')
		len--;
	log_msg("server: %.*s", (int) len, message);
}

static void
connection_lost(const char *what)
{
	char	   *msg = PQerrorMessage(conn);
	size_t		len = strlen(msg);

	/* libpq's messages end in a newline; ours add their own */
	while (len > 0 && msg[len - 1] == '\n')
		len--;
	log_msg("connection lost while %s: %.*s", what, (int) len, msg);
	PQfinish(conn);
	conn = NULL;
}

/*
 * Report a failed query.  Returns false either way; sets "failed" unless the
 * cause was the connection going away.
 */
static bool
query_failed(PGresult *res, const char *what)
{
	if (PQstatus(conn) == CONNECTION_BAD)
	{
		PQclear(res);
		connection_lost(what);
		return false;
	}
	{
		const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
		const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);

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

int
conn_socket(void)
{
	return conn ? PQsocket(conn) : -1;
}

long long
conn_fetched_through(void)
{
	return fetched_through;
}

void
conn_close(void)
{
	if (conn)
		PQfinish(conn);
	conn = NULL;
	while (ack_head)
	{
		PendingAck *next = ack_head->next;

		free(ack_head->policy);
		free(ack_head);
		ack_head = next;
	}
	ack_tail = NULL;
}

static void
report_missing_privileges(const char *role)
{
	log_msg("permission denied: role \"%s\" may not read and acknowledge scaler decisions",
			role);
	log_msg("HINT: As the extension owner run: "
			"GRANT USAGE ON SCHEMA scaler TO \"%s\"; "
			"GRANT SELECT ON scaler.decision TO \"%s\"; "
			"GRANT EXECUTE ON FUNCTION scaler.listen_subscribe(text, text), "
			"scaler.listen_acked(text), scaler.listen_ack(text, bigint, text, bigint), "
			"scaler.listen_foreign_policies(text) TO \"%s\";", role, role, role);
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

	res = PQexec(conn,
				 "SELECT current_user, pg_catalog.current_database(), "
				 " pg_catalog.has_schema_privilege(e.extnamespace, 'USAGE') "
				 "FROM pg_catalog.pg_extension e WHERE e.extname = 'scaler'");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return query_failed(res, "looking for the scaler extension");
	if (PQntuples(res) == 0)
	{
		PQclear(res);
		res = PQexec(conn, "SELECT pg_catalog.current_database()");
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

	res = PQexec(conn,
				 "SELECT current_user, "
				 " pg_catalog.has_table_privilege('scaler.decision', 'SELECT'), "
				 " pg_catalog.has_function_privilege(pg_catalog.to_regprocedure('scaler.listen_subscribe(text,text)'), 'EXECUTE'), "
				 " pg_catalog.has_function_privilege(pg_catalog.to_regprocedure('scaler.listen_acked(text)'), 'EXECUTE'), "
				 " pg_catalog.has_function_privilege(pg_catalog.to_regprocedure('scaler.listen_ack(text,bigint,text,bigint)'), 'EXECUTE'), "
				 " pg_catalog.has_function_privilege(pg_catalog.to_regprocedure('scaler.listen_decisions(bigint,integer,text)'), 'EXECUTE'), "
				 " pg_catalog.has_function_privilege(pg_catalog.to_regprocedure('scaler.listen_foreign_policies(text)'), 'EXECUTE')");
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
 * Connect, check, LISTEN, subscribe, and load the per-policy watermarks.
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
	const char *params[2];
	long long	low_id;
	int			i;

	options = opts;
	conn = PQconnectdb(opts->conninfo);
	if (PQstatus(conn) != CONNECTION_OK)
	{
		char	   *msg = PQerrorMessage(conn);
		size_t		len = strlen(msg);

		while (len > 0 && msg[len - 1] == '\n')
			len--;
		log_msg("could not connect to the database: %.*s", (int) len, msg);
		PQfinish(conn);
		conn = NULL;
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
	res = PQexec(conn, sql);
	free(sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return query_failed(res, "starting to LISTEN");
	PQclear(res);

	params[0] = opts->name;
	params[1] = opts->channel;
	res = PQexecParams(conn, "SELECT scaler.listen_subscribe($1, $2)",
					   2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return query_failed(res, "subscribing");
	low_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);

	res = PQexecParams(conn,
					   "SELECT policy, decision_id FROM scaler.listen_acked($1)",
					   1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return query_failed(res, "reading acknowledgements");
	for (i = 0; i < PQntuples(res); i++)
		runner_set_acked(PQgetvalue(res, i, 0),
						 strtoll(PQgetvalue(res, i, 1), NULL, 10));
	PQclear(res);

	/*
	 * After a reconnect our own position is at least as far: everything we
	 * fetched is running, queued, or waiting in the acknowledgement FIFO.
	 */
	if (low_id > fetched_through)
		fetched_through = low_id;
	if (first)
		log_msg("subscription \"%s\" listening on channel \"%s\", catching up after decision %lld",
				opts->name, opts->channel, fetched_through);
	else
		log_msg("reconnected; catching up after decision %lld", fetched_through);
	return true;
}

/*
 * Count the notifications libpq has parsed.  Notifications only say "look":
 * the payload is shown in verbose mode and never used.  Called after every
 * query too, because a notification that arrives during a query is parsed
 * then and would not make the socket readable again.
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
		count++;
		PQfreemem(n);
	}
	return count;
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

/* Catch up: hand every decision after the last one fetched to the runner. */
bool
conn_fetch(void)
{
	for (;;)
	{
		PGresult   *res;
		char		after[32];
		char		batch[16];
		const char *params[3];
		int			n;
		int			i;

		snprintf(after, sizeof(after), "%lld", fetched_through);
		snprintf(batch, sizeof(batch), "%d", FETCH_BATCH);
		params[0] = after;
		params[1] = batch;
		params[2] = options->channel;
		res = PQexecParams(conn,
						   "SELECT id, policy, from_capacity, to_capacity, payload, for_channel "
						   "FROM scaler.listen_decisions($1, $2, $3)",
						   3, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			return query_failed(res, "reading decisions");
		n = PQntuples(res);
		for (i = 0; i < n; i++)
		{
			long long	id = strtoll(PQgetvalue(res, i, 0), NULL, 10);

			/* another channel's decision: step over it */
			if (strcmp(PQgetvalue(res, i, 5), "t") == 0)
				runner_offer(id, PQgetvalue(res, i, 1),
							 atoi(PQgetvalue(res, i, 2)),
							 atoi(PQgetvalue(res, i, 3)),
							 PQgetvalue(res, i, 4));
			fetched_through = id;
		}
		PQclear(res);
		if (n < FETCH_BATCH)
			return true;
	}
}

void
conn_queue_ack(long long id, const char *policy, bool superseded)
{
	PendingAck *a = xmalloc(sizeof(PendingAck));

	a->id = id;
	a->superseded = superseded;
	a->policy = xstrdup(policy);
	a->next = NULL;
	if (ack_tail)
		ack_tail->next = a;
	else
		ack_head = a;
	ack_tail = a;
}

bool
conn_acks_pending(void)
{
	return ack_head != NULL;
}

/*
 * Send the queued acknowledgements in order.  Each also advances the
 * subscription's low watermark to just below the oldest decision that is not
 * settled yet (running, queued, or still to be acknowledged).
 */
bool
conn_flush_acks(void)
{
	while (ack_head)
	{
		PendingAck *a = ack_head;
		PendingAck *rest;
		PGresult   *res;
		long long	through = fetched_through;
		long long	inflight = runner_min_inflight();
		char		idbuf[32];
		char		throughbuf[32];
		const char *params[4];

		if (inflight != LLONG_MAX && inflight - 1 < through)
			through = inflight - 1;
		for (rest = a->next; rest; rest = rest->next)
			if (rest->id - 1 < through)
				through = rest->id - 1;

		snprintf(idbuf, sizeof(idbuf), "%lld", a->id);
		snprintf(throughbuf, sizeof(throughbuf), "%lld", through);
		params[0] = options->name;
		params[1] = idbuf;
		params[2] = a->superseded ? "superseded" : "done";
		params[3] = throughbuf;
		res = PQexecParams(conn, "SELECT scaler.listen_ack($1, $2, $3, $4)",
						   4, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			return query_failed(res, "acknowledging a decision");
		if (options->verbose)
			log_msg("acknowledged decision %lld (policy \"%s\") as %s",
					a->id, a->policy, params[2]);
		PQclear(res);

		ack_head = a->next;
		if (ack_head == NULL)
			ack_tail = NULL;
		free(a->policy);
		free(a);
	}
	return true;
}
