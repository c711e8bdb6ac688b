/*-------------------------------------------------------------------------
 *
 * listen.h
 *		Shared declarations of scaler-listen, the libpq client that acts on
 *		scaler's decisions.
 *
 * The client is split by concern: options.c parses the command line,
 * conn.c is the transport (connect and check, LISTEN, and one function per
 * server call), runner.c owns the decisions (the read position, per-policy
 * queues, child processes, and the acknowledgements waiting to be sent), and
 * main.c is the pump between them.  conn.c and runner.c never call each
 * other: decisions reach the runner through a callback main.c passes in.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCALER_LISTEN_H
#define SCALER_LISTEN_H

#include <signal.h>
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
	bool		from_now;		/* --from-now: a new subscription skips the
								 * decisions that exist already */
} ListenOptions;

/* One row of scaler.listen_decisions, valid during the callback only. */
typedef struct ListenDecision
{
	long long	id;
	const char *policy;
	int			from_capacity;
	int			to_capacity;
	const char *json;			/* the document handed to the command */
	bool		for_channel;	/* false: another channel's, step over it */
} ListenDecision;

/* The next acknowledgement to send. */
typedef struct ListenAck
{
	long long	id;
	bool		superseded;		/* else done */
	long long	through;		/* every decision up to this id is settled */
} ListenAck;

/* options.c */
extern void parse_options(int argc, char **argv, ListenOptions *opts);

/* util.c */
extern const char *progname;
extern void log_msg(const char *fmt,...) __attribute__((format(printf, 1, 2)));
extern void *xmalloc(size_t size);
extern char *xstrdup(const char *s);
extern double now_seconds(void);

/* conn.c */
extern void conn_set_interrupts(volatile sig_atomic_t *stops, int read_fd,
								int write_fd);
extern bool conn_open(const ListenOptions *opts, bool first);
extern bool conn_subscribe(long long *after_id, long long *latest_through);
extern bool conn_read_acked(void (*acked) (const char *policy, long long id));
extern int	conn_read_decisions(long long after_id, long long latest_through,
								int max_rows, void (*take) (const ListenDecision *d));
extern bool conn_read_channel_policies(void (*here) (const char *policy));
extern bool conn_send_ack(const ListenAck *ack);
extern bool conn_consume(void);
extern int	conn_take_notifies(void);
extern bool conn_take_move_hint(void);
extern bool conn_is_up(void);
extern bool conn_failed(void);
extern bool conn_busy(void);
extern int	conn_socket(void);
extern void conn_close(void);

/* runner.c */
extern void runner_init(const ListenOptions *opts);
extern void runner_subscribed(long long after_id);
extern long long runner_position(void);
extern void runner_set_acked(const char *policy, long long id);
extern void runner_offer(const ListenDecision *d);
extern bool runner_moved_check(void);
extern void runner_moved_here(const char *policy);
extern long long runner_next_moved(void);
extern void runner_moved_read(long long id);
extern void runner_dispatch(bool accept_new);
extern void runner_reap(void);
extern int	runner_running(void);
extern double runner_next_wakeup(void);
extern bool runner_next_ack(ListenAck *ack);
extern void runner_ack_sent(void);
extern bool runner_acks_pending(void);
extern void runner_signal_children(int sig);
extern void runner_free(void);

#endif							/* SCALER_LISTEN_H */
