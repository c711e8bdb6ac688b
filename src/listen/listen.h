/*-------------------------------------------------------------------------
 *
 * listen.h
 *		Shared declarations of scaler-listen, the libpq client that acts on
 *		scaler's decisions.
 *
 * The client is split by concern: options.c parses the command line,
 * conn.c owns the database connection (subscribe, catch up, acknowledge),
 * runner.c owns the per-policy queues and the child processes, and main.c
 * runs the event loop that ties them together.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCALER_LISTEN_H
#define SCALER_LISTEN_H

#include <stdbool.h>
#include <sys/types.h>

/* Exit codes: 1 for a runtime failure, 2 for a usage error. */
#define LISTEN_EXIT_FAILURE 1
#define LISTEN_EXIT_USAGE	2

typedef struct ListenOptions
{
	const char *conninfo;		/* -d: libpq connection string or URI */
	const char *channel;		/* -c: channel to LISTEN on */
	const char *command;		/* --exec: shell command, or NULL to print */
	const char *name;			/* --name: server-side subscription name */
	int			jobs;			/* --jobs: most commands running at once */
	double		poll_interval;	/* --poll-interval: seconds between reads
								 * without a wake-up; 0 = never */
	bool		verbose;		/* -v: report each decision on stderr */
} ListenOptions;

/* options.c */
extern void parse_options(int argc, char **argv, ListenOptions *opts);

/* util.c */
extern const char *progname;
extern void log_msg(const char *fmt,...) __attribute__((format(printf, 1, 2)));
extern void *xmalloc(size_t size);
extern char *xstrdup(const char *s);
extern double now_seconds(void);

/* conn.c */
extern bool conn_is_up(void);
extern int	conn_socket(void);
extern bool conn_open(const ListenOptions *opts, bool first);
extern void conn_close(void);
extern bool conn_consume(void);
extern int	conn_take_notifies(void);
extern bool conn_failed(void);
extern bool conn_fetch(void);
extern bool conn_flush_acks(void);
extern void conn_queue_ack(long long id, const char *policy, bool superseded);
extern bool conn_acks_pending(void);
extern long long conn_min_unsent_ack(void);
extern long long conn_fetched_through(void);

/* runner.c */
extern void runner_init(const ListenOptions *opts);
extern void runner_set_acked(const char *policy, long long id);
extern void runner_offer(long long id, const char *policy, int from_capacity,
						 int to_capacity, const char *json);
extern void runner_dispatch(bool accept_new);
extern void runner_reap(void);
extern int	runner_running(void);
extern double runner_next_wakeup(void);
extern long long runner_min_inflight(void);
extern void runner_signal_children(int sig);
extern void runner_free(void);

#endif							/* SCALER_LISTEN_H */
