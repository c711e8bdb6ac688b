/*-------------------------------------------------------------------------
 *
 * main.c
 *		scaler-listen: act on the autoscaling decisions of the scaler
 *		extension.  This file holds the event loop; see listen.h for the
 *		other parts.
 *
 * One single-threaded loop waits with poll() on the libpq socket and on a
 * self-pipe that the signal handlers write to, so SIGCHLD, SIGINT and
 * SIGTERM are handled at a well-defined point and never inside libpq.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
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

/*
 * The decision log is also read every opts.poll_interval seconds without a
 * notification: a decision whose NOTIFY was lost (a full notification queue)
 * still arrives.
 */
#define NO_DEADLINE 1e18

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

int
main(int argc, char **argv)
{
	ListenOptions opts;
	int			exit_code = 0;
	int			stops_seen = 0;
	bool		stopping = false;
	bool		need_fetch = true;
	double		reconnect_delay = RECONNECT_FIRST_DELAY;
	double		reconnect_at = 0;
	double		next_poll;

	parse_options(argc, argv, &opts);
	setup_signals();
	runner_init(&opts);

	if (!conn_open(&opts, true))
	{
		conn_close();
		runner_free();
		exit(LISTEN_EXIT_FAILURE);
	}
	next_poll = opts.poll_interval > 0 ? now_seconds() + opts.poll_interval : NO_DEADLINE;

	for (;;)
	{
		struct pollfd fds[2];
		int			nfds = 1;
		double		now = now_seconds();
		double		deadline = next_poll;
		int			timeout_ms;

		/* SIGINT/SIGTERM: stop starting commands; a second one passes on */
		if (stop_signals > stops_seen)
		{
			if (stops_seen == 0)
			{
				stopping = true;
				if (runner_running() > 0)
					log_msg("stopping: waiting for %d running command(s) to finish",
							runner_running());
			}
			else
			{
				log_msg("stopping now: sending SIGTERM to the running commands");
				runner_signal_children(SIGTERM);
			}
			stops_seen = stop_signals;
		}
		if (conn_failed() && !stopping)
		{
			stopping = true;
			exit_code = LISTEN_EXIT_FAILURE;
			if (runner_running() > 0)
				log_msg("stopping after the error: waiting for %d running command(s) to finish",
						runner_running());
		}

		runner_reap();

		if (!conn_is_up() && !conn_failed())
		{
			if (reconnect_at == 0)
			{
				reconnect_at = now + reconnect_delay;
				log_msg("reconnecting in %.1f s", reconnect_delay);
			}
			else if (now >= reconnect_at || (stopping && runner_running() == 0))
			{
				reconnect_at = 0;
				if (conn_open(&opts, false))
				{
					reconnect_delay = RECONNECT_FIRST_DELAY;
					need_fetch = true;
				}
				else if (!conn_failed())
				{
					reconnect_delay *= 2;
					if (reconnect_delay > RECONNECT_MAX_DELAY)
						reconnect_delay = RECONNECT_MAX_DELAY;
					if (stopping && runner_running() == 0)
						break;	/* one last try only */
				}
				continue;
			}
		}

		if (now >= next_poll)
		{
			need_fetch = true;
			next_poll = now + opts.poll_interval;
		}
		if (conn_is_up() && need_fetch && !stopping && !conn_failed())
		{
			if (conn_fetch())
				need_fetch = false;
		}
		runner_dispatch(!stopping);
		if (conn_is_up() && conn_acks_pending() && !conn_failed())
			(void) conn_flush_acks();

		if (conn_take_notifies() > 0)
			need_fetch = true;

		if (stopping && runner_running() == 0 &&
			(!conn_acks_pending() || conn_failed() || conn_is_up()))
			break;

		/* wait for a socket, a signal, or the next deadline */
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
		if (!conn_is_up() && reconnect_at != 0 && reconnect_at < deadline)
			deadline = reconnect_at;
		timeout_ms = deadline <= now ? 0 : (int) ((deadline - now) * 1000.0) + 1;
		if (need_fetch && conn_is_up() && !stopping)
			timeout_ms = 0;		/* the last fetch failed or was woken meanwhile */

		if (poll(fds, nfds, timeout_ms) < 0 && errno != EINTR)
		{
			log_msg("poll failed: %s", strerror(errno));
			exit_code = LISTEN_EXIT_FAILURE;
			break;
		}
		drain_wake_pipe();
		if (nfds == 2 && (fds[1].revents & (POLLIN | POLLERR | POLLHUP)) &&
			conn_consume() && conn_take_notifies() > 0)
			need_fetch = true;
	}

	if (conn_acks_pending())
		log_msg("could not record every acknowledgement; those decisions will run again after a restart");
	conn_close();
	runner_free();
	close(wake_pipe[0]);
	close(wake_pipe[1]);
	return exit_code;
}
