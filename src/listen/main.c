/*-------------------------------------------------------------------------
 *
 * main.c
 *		scaler-listen: act on the autoscaling decisions of the scaler
 *		extension.  This file holds the event loop, the pump between the
 *		transport (conn.c) and the decisions (runner.c); see listen.h.
 *
 * One single-threaded loop waits with poll() on the libpq socket and on a
 * self-pipe that the signal handlers write to, so SIGCHLD, SIGINT and
 * SIGTERM are handled at a well-defined point and never inside libpq.
 *
 * Each turn of the loop: note signals and errors, collect finished
 * commands, keep the connection (connect, reconnect with backoff, or wait
 * while another session holds the subscription), read new decisions, start
 * commands, send acknowledgements, and wait for the next thing to do.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "listen.h"

/* reconnect delays: start, doubling, at most */
#define RECONNECT_FIRST_DELAY 0.5
#define RECONNECT_MAX_DELAY 15.0

/* decisions read per query */
#define FETCH_BATCH 1000

/*
 * The decision log is also read every opts.poll_interval seconds without a
 * notification: a decision whose NOTIFY was lost (a full notification queue)
 * still arrives.
 */
#define NO_DEADLINE 1e18

/* The state of the loop. */
typedef struct Listener
{
	ListenOptions opts;
	int			exit_code;
	int			stops_seen;		/* SIGINT/SIGTERM handled so far */
	bool		stopping;		/* start nothing new; exit when idle */
	bool		subscribed;		/* once: connection errors are retried */
	bool		need_fetch;		/* read decisions at the next chance */
	bool		check_moved;	/* and look for policies moved onto the
								 * channel (catch_up_moved) */
	long long	latest_through; /* from the subscription, for every read */
	double		reconnect_delay;
	double		reconnect_at;	/* next connection attempt; 0: none due */
	double		next_poll;		/* next read without a notification */
} Listener;

static int	wake_pipe[2] = {-1, -1};
static volatile sig_atomic_t stop_signals = 0;

static void
handle_signal(int signo)
{
	int			save_errno = errno;
	char		c = 0;

	if (signo == SIGINT || signo == SIGTERM)
		stop_signals++;
	/* a full pipe already guarantees a wake-up */
	if (write(wake_pipe[1], &c, 1) < 0)
		(void) 0;
	errno = save_errno;
}

static void
setup_signals(void)
{
	struct sigaction sa;
	int			i;

	if (pipe(wake_pipe) < 0)
	{
		log_msg("could not create a pipe: %s", strerror(errno));
		exit(LISTEN_EXIT_FAILURE);
	}
	for (i = 0; i < 2; i++)
	{
		fcntl(wake_pipe[i], F_SETFL, fcntl(wake_pipe[i], F_GETFL) | O_NONBLOCK);
		fcntl(wake_pipe[i], F_SETFD, FD_CLOEXEC);
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handle_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	/* a vanished reader of our stdout is an error to report, not a death */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

static void
drain_wake_pipe(void)
{
	char		buf[64];

	while (read(wake_pipe[0], buf, sizeof(buf)) > 0)
		;
}

/* SIGINT/SIGTERM: stop starting commands; a second one passes on. */
static void
note_stop_signals(Listener *l)
{
	if (stop_signals <= l->stops_seen)
		return;
	if (l->stops_seen == 0)
	{
		l->stopping = true;
		if (runner_running() > 0)
			log_msg("stopping: waiting for %d running command(s) to finish",
					runner_running());
	}
	else
	{
		log_msg("stopping now: sending SIGTERM to the running commands");
		runner_signal_children(SIGTERM);
	}
	l->stops_seen = stop_signals;
}

/* An SQL error is final: finish the running commands, then exit 1. */
static void
note_failure(Listener *l)
{
	if (!conn_failed() || l->stopping)
		return;
	l->stopping = true;
	l->exit_code = LISTEN_EXIT_FAILURE;
	if (runner_running() > 0)
		log_msg("stopping after the error: waiting for %d running command(s) to finish",
				runner_running());
}

/*
 * Connect, LISTEN, take the subscription and load its watermarks.  The first
 * time, a connection failure is final; a subscription held by another
 * session never is.
 */
static bool
connect_and_subscribe(Listener *l)
{
	long long	after_id;

	if (!conn_open(&l->opts, !l->subscribed) ||
		!conn_subscribe(&after_id, &l->latest_through) ||
		!conn_read_acked(runner_set_acked))
		return false;
	runner_subscribed(after_id);
	if (l->subscribed)
		log_msg("reconnected; catching up after decision %lld", runner_position());
	else if (l->latest_through > runner_position())
		log_msg("subscription \"%s\" listening on channel \"%s\", catching up after decision %lld, "
				"first with each policy's newest decision up to %lld",
				l->opts.name, l->opts.channel, runner_position(), l->latest_through);
	else
		log_msg("subscription \"%s\" listening on channel \"%s\", catching up after decision %lld",
				l->opts.name, l->opts.channel, runner_position());
	l->subscribed = true;
	return true;
}

/* Plan the next connection attempt after the delay, which then doubles. */
static void
schedule_reconnect(Listener *l, double now)
{
	l->reconnect_at = now + l->reconnect_delay;
	if (conn_busy())
		log_msg("trying again in %.1f s", l->reconnect_delay);
	else
		log_msg("reconnecting in %.1f s", l->reconnect_delay);
	l->reconnect_delay *= 2;
	if (l->reconnect_delay > RECONNECT_MAX_DELAY)
		l->reconnect_delay = RECONNECT_MAX_DELAY;
}

/*
 * Keep the connection up: when it is down, (re)connect when the delay is
 * over, or at once when stopping with acknowledgements to send.  Returns
 * false when there is no point in going on: stopping, and that last try
 * failed.
 */
static bool
keep_connected(Listener *l)
{
	double		now = now_seconds();
	bool		last_try = l->stopping && runner_running() == 0;

	if (conn_is_up() || conn_failed())
		return true;
	if (l->stopping && !runner_acks_pending())
		return true;			/* nothing left to tell the server */
	if (l->reconnect_at == 0)
	{
		schedule_reconnect(l, now);
		return true;
	}
	if (now < l->reconnect_at && !last_try)
		return true;

	if (connect_and_subscribe(l))
	{
		l->reconnect_delay = RECONNECT_FIRST_DELAY;
		l->reconnect_at = 0;
		l->need_fetch = true;
		l->check_moved = true;
		return true;
	}
	conn_close();
	if (conn_failed())
		return true;			/* note_failure() stops us */
	if (last_try)
		return false;
	/* a stop signal that gave the attempt up: nothing to reconnect for */
	note_stop_signals(l);
	if (l->stopping && !runner_acks_pending())
		return true;
	schedule_reconnect(l, now);
	return true;
}

/*
 * The decisions stepped over as another channel's whose policy has moved
 * onto ours since (alter_policy notifies the new channel): the newest of
 * each such policy is read again, now as ours.
 */
static long long moved_wanted;

static void
offer_moved(const ListenDecision *d)
{
	if (d->id == moved_wanted)
		runner_offer(d);
}

static bool
catch_up_moved(void)
{
	long long	id;

	if (!runner_moved_check())
		return true;
	if (!conn_read_channel_policies(runner_moved_here))
		return false;
	while ((id = runner_next_moved()) > 0)
	{
		/* the first decision from that id on, if it is still that one */
		moved_wanted = id;
		if (conn_read_decisions(id - 1, -1, 1, offer_moved) < 0)
			return false;
		runner_moved_read(id);
	}
	return true;
}

/* Catch up: hand every decision after the position to the runner. */
static bool
catch_up(Listener *l)
{
	int			n;

	do
	{
		n = conn_read_decisions(runner_position(), l->latest_through,
								FETCH_BATCH, runner_offer);
		if (n < 0)
			return false;
	} while (n == FETCH_BATCH);

	/*
	 * Moved policies are looked for when alter_policy says one moved (an
	 * empty notification), at each poll (a channel changed by hand), and
	 * after connecting, not at every wake-up: that is one more call.
	 */
	if (conn_take_move_hint())
		l->check_moved = true;
	if (l->check_moved)
	{
		if (!catch_up_moved())
			return false;
		l->check_moved = false;
	}
	return true;
}

/* Send the waiting acknowledgements in order, until one fails. */
static void
flush_acks(void)
{
	ListenAck	ack;

	while (runner_next_ack(&ack))
	{
		if (!conn_send_ack(&ack))
			return;
		runner_ack_sent();
	}
}

/* Read, start, acknowledge: whatever is due now. */
static void
pump(Listener *l)
{
	double		now = now_seconds();

	if (now >= l->next_poll)
	{
		l->need_fetch = true;
		l->check_moved = true;
		l->next_poll = now + l->opts.poll_interval;
	}
	if (conn_is_up() && l->need_fetch && !l->stopping && !conn_failed())
	{
		if (catch_up(l))
			l->need_fetch = false;
	}
	runner_dispatch(!l->stopping);
	if (conn_is_up() && runner_acks_pending() && !conn_failed())
		flush_acks();

	if (conn_take_notifies() > 0)
		l->need_fetch = true;
}

/* Stopping, nothing running, and every acknowledgement sent or lost. */
static bool
finished(Listener *l)
{
	return l->stopping && runner_running() == 0 &&
		(!runner_acks_pending() || conn_failed() || conn_is_up());
}

/*
 * Wait for the socket, a signal, or the next deadline.  Returns false when
 * poll() itself fails.
 */
static bool
wait_for_work(Listener *l)
{
	struct pollfd fds[2];
	int			nfds = 1;
	double		now = now_seconds();
	double		deadline = l->next_poll;
	int			timeout_ms;

	/* (a poll that a signal interrupts sets no revents) */
	memset(fds, 0, sizeof(fds));
	fds[0].fd = wake_pipe[0];
	fds[0].events = POLLIN;
	if (conn_is_up())
	{
		fds[1].fd = conn_socket();
		fds[1].events = POLLIN;
		nfds = 2;
	}
	if (runner_next_wakeup() < deadline)
		deadline = runner_next_wakeup();
	if (!conn_is_up() && l->reconnect_at != 0 && l->reconnect_at < deadline)
		deadline = l->reconnect_at;
	/* (no deadline at all, as with --poll-interval 0: wait for ever) */
	if (deadline <= now)
		timeout_ms = 0;
	else if ((deadline - now) * 1000.0 >= (double) (INT_MAX - 1))
		timeout_ms = -1;
	else
		timeout_ms = (int) ((deadline - now) * 1000.0) + 1;
	if (l->need_fetch && conn_is_up() && !l->stopping)
		timeout_ms = 0;			/* the last fetch failed or was woken meanwhile */

	if (poll(fds, nfds, timeout_ms) < 0 && errno != EINTR)
	{
		log_msg("poll failed: %s", strerror(errno));
		return false;
	}
	drain_wake_pipe();
	if (nfds == 2 && (fds[1].revents & (POLLIN | POLLERR | POLLHUP)) &&
		conn_consume() && conn_take_notifies() > 0)
		l->need_fetch = true;
	return true;
}

int
main(int argc, char **argv)
{
	Listener	l;

	memset(&l, 0, sizeof(l));
	parse_options(argc, argv, &l.opts);
	setup_signals();
	conn_set_interrupts(&stop_signals, wake_pipe[0], wake_pipe[1]);
	runner_init(&l.opts);
	l.need_fetch = true;
	l.reconnect_delay = RECONNECT_FIRST_DELAY;
	l.reconnect_at = now_seconds();		/* connect at once */
	l.next_poll = l.opts.poll_interval > 0 ? now_seconds() + l.opts.poll_interval : NO_DEADLINE;

	for (;;)
	{
		note_stop_signals(&l);
		note_failure(&l);
		runner_reap();
		if (!keep_connected(&l))
			break;
		pump(&l);
		/* (a stop signal that canceled a statement is no failure) */
		note_stop_signals(&l);
		note_failure(&l);
		if (finished(&l))
			break;
		if (!wait_for_work(&l))
		{
			l.exit_code = LISTEN_EXIT_FAILURE;
			break;
		}
	}

	if (runner_acks_pending())
		log_msg("could not record every acknowledgement; those decisions will run again after a restart");
	conn_close();
	runner_free();
	close(wake_pipe[0]);
	close(wake_pipe[1]);
	return l.exit_code;
}
