/*-------------------------------------------------------------------------
 *
 * runner.c
 *		The decisions of scaler-listen: the read position, per-policy queues,
 *		coalescing, bounded concurrency, child processes, retries, and the
 *		acknowledgements waiting to be sent.
 *
 * Decisions arrive in id order through runner_offer().  Decisions commit in
 * id order, so reading "after the last id taken in" on every wake-up never
 * skips one; the notification payload is never trusted.
 *
 * Each policy has at most one decision running and at most one waiting.  A
 * newer decision replaces the waiting one, which is acknowledged as
 * superseded: only the newest capacity matters, and running the older ones
 * first would only make the target flap.  Because a policy never has two
 * commands at once and the waiting slot only ever moves forward, decisions
 * of one policy run in id order.
 *
 * A failed command is put back into the waiting slot (unless a newer
 * decision took it meanwhile) with a deadline before which it is not tried
 * again; the slot it ran in is free at once, so other policies proceed.
 *
 * A decision of another channel's policy is stepped over, but the newest
 * one of each such policy is remembered: when the policy moves onto our
 * channel (alter_policy notifies it), that decision is ours, and main.c
 * reads it again (runner_moved_check and the functions after it).
 *
 * Children run in their own process group: a Ctrl-C in the terminal reaches
 * only scaler-listen, which then lets the running commands finish.
 *
 * Acknowledgements wait in a FIFO until the server has them; after a lost
 * connection they are sent again (scaler.listen_ack is idempotent), so a
 * command that finished while the server was away is not run twice.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "listen.h"

/* retry delays: 1 s, doubling, at most this */
#define RETRY_MAX_DELAY 60.0

typedef struct Decision
{
	long long	id;
	int			from_capacity;
	int			to_capacity;
	char	   *json;			/* the document handed to the command */
	int			attempts;		/* failed runs so far */
	double		not_before;		/* monotonic time of the next try */
} Decision;

typedef struct Policy
{
	char	   *name;
	long long	acked_id;		/* newest id the server has as acknowledged */
	long long	seen_id;		/* newest id this process has taken in */
	Decision   *waiting;		/* newest decision not yet started */
	Decision   *running;		/* decision whose command is running */
	pid_t		pid;			/* its process */
	long long	elsewhere_id;	/* newest id stepped over as another
								 * channel's, 0 when none is pending */
	bool		moved_here;		/* its channel is ours now (see
								 * runner_moved_check) */
	struct Policy *next;		/* every policy, newest first */
	struct Policy *hash_next;	/* the policies of one hash bucket */
} Policy;

typedef struct PendingAck
{
	long long	id;
	bool		superseded;
	char	   *policy;			/* for messages only */
	struct PendingAck *next;
} PendingAck;

static const ListenOptions *options;
static Policy *policies = NULL;
static Policy **buckets = NULL; /* by name, so that offering is O(1) */
static size_t nbuckets = 0;
static size_t npolicies = 0;
static int	nrunning = 0;
static long long position = -1;	/* newest id read; -1: not yet subscribed */
static PendingAck *ack_head = NULL;
static PendingAck *ack_tail = NULL;

static size_t
name_hash(const char *name)
{
	size_t		h = 2166136261u;	/* FNV-1a */

	for (; *name; name++)
		h = (h ^ (unsigned char) *name) * 16777619u;
	return h;
}

/* Rebuild the buckets for twice as many, from the list of every policy. */
static void
grow_buckets(void)
{
	Policy	   *p;

	free(buckets);
	nbuckets = nbuckets ? nbuckets * 2 : 64;
	buckets = xmalloc(nbuckets * sizeof(Policy *));
	memset(buckets, 0, nbuckets * sizeof(Policy *));
	for (p = policies; p; p = p->next)
	{
		size_t		b = name_hash(p->name) % nbuckets;

		p->hash_next = buckets[b];
		buckets[b] = p;
	}
}

static Policy *
find_policy(const char *name)
{
	Policy	   *p;

	if (nbuckets == 0)
		return NULL;
	for (p = buckets[name_hash(name) % nbuckets]; p; p = p->hash_next)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

static Policy *
get_policy(const char *name)
{
	Policy	   *p = find_policy(name);
	size_t		b;

	if (p)
		return p;
	p = xmalloc(sizeof(Policy));
	memset(p, 0, sizeof(Policy));
	p->name = xstrdup(name);
	p->next = policies;
	policies = p;
	if (++npolicies > nbuckets)
		grow_buckets();
	else
	{
		b = name_hash(name) % nbuckets;
		p->hash_next = buckets[b];
		buckets[b] = p;
	}
	return p;
}

static void
free_decision(Decision *d)
{
	if (d)
	{
		free(d->json);
		free(d);
	}
}

void
runner_init(const ListenOptions *opts)
{
	options = opts;
}

/*
 * The server says catch-up starts after this id.  After a reconnect our own
 * position is at least as far: everything read is running, queued, or
 * waiting to be acknowledged.
 */
void
runner_subscribed(long long after_id)
{
	if (after_id > position)
		position = after_id;
}

/* The newest decision id read: the next read starts after it. */
long long
runner_position(void)
{
	return position;
}

static void
queue_ack(long long id, const char *policy, bool superseded)
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

/* The server says everything of this policy up to id is settled. */
void
runner_set_acked(const char *policy, long long id)
{
	Policy	   *p = get_policy(policy);

	if (id > p->acked_id)
		p->acked_id = id;
}

/*
 * Take in a decision read from scaler.decision.  Another channel's decision
 * only moves the position past it (and is remembered as its policy's newest
 * such).  Decisions already settled (at or below
 * the policy's watermark) or already taken in by this process (read again
 * after a reconnect) are ignored: that is what keeps a decision from running
 * twice.
 */
void
runner_offer(const ListenDecision *row)
{
	Policy	   *p;
	Decision   *d;
	long long	id = row->id;

	if (id > position)
		position = id;
	p = get_policy(row->policy);
	if (!row->for_channel)
	{
		if (id > p->elsewhere_id)
			p->elsewhere_id = id;
		return;
	}
	if (id <= p->acked_id || id <= p->seen_id)
		return;
	p->seen_id = id;

	if (options->command == NULL)
	{
		/* print mode: every decision is shown, nothing to coalesce */
		if (printf("%s\n", row->json) < 0 || fflush(stdout) != 0)
		{
			log_msg("could not write to standard output: %s", strerror(errno));
			exit(LISTEN_EXIT_FAILURE);
		}
		queue_ack(id, p->name, false);
		return;
	}

	d = xmalloc(sizeof(Decision));
	d->id = id;
	d->from_capacity = row->from_capacity;
	d->to_capacity = row->to_capacity;
	d->json = xstrdup(row->json);
	d->attempts = 0;
	d->not_before = 0;

	if (p->waiting)
	{
		if (options->verbose)
			log_msg("decision %lld (policy \"%s\") superseded by decision %lld",
					p->waiting->id, p->name, id);
		queue_ack(p->waiting->id, p->name, true);
		free_decision(p->waiting);
	}
	p->waiting = d;
}

/* A decision stepped over that is neither settled nor superseded since. */
static bool
moved_pending(const Policy *p)
{
	return p->elsewhere_id > p->acked_id && p->elsewhere_id > p->seen_id;
}

/*
 * Start a check for policies moved onto our channel: true when some policy
 * has a decision stepped over that would be ours if it had.  main.c then
 * passes each policy now on our channel to runner_moved_here and reads the
 * decisions runner_next_moved returns.
 */
bool
runner_moved_check(void)
{
	Policy	   *p;
	bool		any = false;

	for (p = policies; p; p = p->next)
	{
		p->moved_here = false;
		if (moved_pending(p))
			any = true;
	}
	return any;
}

/* The server says this policy's channel is ours. */
void
runner_moved_here(const char *policy)
{
	Policy	   *p = find_policy(policy);

	if (p)
		p->moved_here = true;
}

/*
 * The oldest decision to read again: the newest one stepped over of a policy
 * now on our channel; 0 when there is none.  Reading it offers it again,
 * this time as ours.
 */
long long
runner_next_moved(void)
{
	long long	next = 0;
	Policy	   *p;

	for (p = policies; p; p = p->next)
		if (p->moved_here && moved_pending(p) &&
			(next == 0 || p->elsewhere_id < next))
			next = p->elsewhere_id;
	return next;
}

/*
 * Decision id was read again (or is gone: retention): it is not looked for
 * again, whatever the read found.
 */
void
runner_moved_read(long long id)
{
	Policy	   *p;

	for (p = policies; p; p = p->next)
		if (p->elsewhere_id == id)
		{
			p->elsewhere_id = 0;
			p->moved_here = false;
		}
}

/* In the child: wire up stdin and the environment, then exec the shell. */
static void
exec_command(Policy *p, Decision *d, int input_fd)
{
	char		buf[32];

	setpgid(0, 0);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);

	if (dup2(input_fd, STDIN_FILENO) < 0)
		_exit(127);
	close(input_fd);

	setenv("SCALER_POLICY", p->name, 1);
	snprintf(buf, sizeof(buf), "%d", d->from_capacity);
	setenv("SCALER_FROM", buf, 1);
	snprintf(buf, sizeof(buf), "%d", d->to_capacity);
	setenv("SCALER_TO", buf, 1);
	snprintf(buf, sizeof(buf), "%lld", d->id);
	setenv("SCALER_DECISION_ID", buf, 1);
	snprintf(buf, sizeof(buf), "%d", d->attempts + 1);
	setenv("SCALER_ATTEMPT", buf, 1);
	setenv("SCALER_SUBSCRIPTION", options->name, 1);

	execl("/bin/sh", "sh", "-c", options->command, (char *) NULL);
	fprintf(stderr, "%s: could not execute /bin/sh: %s\n", progname, strerror(errno));
	_exit(127);
}

/*
 * Start the waiting decision of a policy.  The JSON goes through an unlinked
 * temporary file rather than a pipe, so a command that never reads its stdin
 * cannot block us, whatever the document's size.
 */
static void
start(Policy *p)
{
	Decision   *d = p->waiting;
	FILE	   *input;
	size_t		len = strlen(d->json);
	pid_t		pid;

	input = tmpfile();
	if (input == NULL ||
		fcntl(fileno(input), F_SETFD, FD_CLOEXEC) < 0 ||
		fwrite(d->json, 1, len, input) != len ||
		fputc('\n', input) == EOF ||
		fflush(input) != 0 ||
		fseek(input, 0, SEEK_SET) != 0)
	{
		log_msg("could not prepare the input of decision %lld: %s; trying again in 1 s",
				d->id, strerror(errno));
		if (input)
			fclose(input);
		d->not_before = now_seconds() + 1.0;
		return;
	}

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
	{
		log_msg("could not fork: %s; trying again in 1 s", strerror(errno));
		fclose(input);
		d->not_before = now_seconds() + 1.0;
		return;
	}
	if (pid == 0)
		exec_command(p, d, fileno(input));

	/* also here, so that signalling the group cannot race the child */
	setpgid(pid, pid);
	fclose(input);
	p->waiting = NULL;
	p->running = d;
	p->pid = pid;
	nrunning++;
	if (options->verbose)
		log_msg("decision %lld (policy \"%s\", %d -> %d): started command, pid %d",
				d->id, p->name, d->from_capacity, d->to_capacity, (int) pid);
}

/*
 * Start waiting decisions while slots are free, oldest decision first, so a
 * busy policy cannot starve the others.  When stopping, start nothing.
 */
void
runner_dispatch(bool accept_new)
{
	if (!accept_new || options->command == NULL)
		return;

	while (nrunning < options->jobs)
	{
		Policy	   *best = NULL;
		Policy	   *p;
		double		now = now_seconds();

		for (p = policies; p; p = p->next)
		{
			if (p->running || !p->waiting || p->waiting->not_before > now)
				continue;
			if (best == NULL || p->waiting->id < best->waiting->id)
				best = p;
		}
		if (best == NULL)
			break;
		start(best);
		if (best->running == NULL)
			break;				/* could not start; try at its deadline */
	}
}

static void
describe_status(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "was terminated by signal %d", WTERMSIG(status));
	else
		snprintf(buf, size, "ended with status %d", status);
}

/* Collect finished commands (called after SIGCHLD woke the loop). */
void
runner_reap(void)
{
	pid_t		pid;
	int			status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
	{
		Policy	   *p;
		Decision   *d;

		for (p = policies; p; p = p->next)
			if (p->running && p->pid == pid)
				break;
		if (p == NULL)
			continue;			/* not ours: a grandchild we inherited */

		d = p->running;
		p->running = NULL;
		p->pid = 0;
		nrunning--;

		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		{
			if (options->verbose)
				log_msg("decision %lld (policy \"%s\"): command succeeded",
						d->id, p->name);
			queue_ack(d->id, p->name, false);
			free_decision(d);
		}
		else
		{
			char		how[64];

			describe_status(status, how, sizeof(how));
			d->attempts++;
			if (p->waiting)
			{
				log_msg("command for decision %lld (policy \"%s\") %s; not retried: decision %lld replaces it",
						d->id, p->name, how, p->waiting->id);
				queue_ack(d->id, p->name, true);
				free_decision(d);
			}
			else
			{
				double		delay = 1.0;
				int			i;

				for (i = 1; i < d->attempts && delay < RETRY_MAX_DELAY; i++)
					delay *= 2;
				if (delay > RETRY_MAX_DELAY)
					delay = RETRY_MAX_DELAY;
				log_msg("command for decision %lld (policy \"%s\") %s; retry %d in %.0f s",
						d->id, p->name, how, d->attempts, delay);
				d->not_before = now_seconds() + delay;
				p->waiting = d;
			}
		}
	}
}

int
runner_running(void)
{
	return nrunning;
}

/*
 * When a waiting decision's retry delay runs out, or a large number.  With
 * every slot busy there is nothing to wake up for: a finishing command's
 * SIGCHLD does that.  Deadlines already passed do not count either: those
 * decisions wait for a slot, not for the clock.
 */
double
runner_next_wakeup(void)
{
	double		next = 1e18;
	double		now = now_seconds();
	Policy	   *p;

	if (nrunning >= options->jobs)
		return next;
	for (p = policies; p; p = p->next)
		if (!p->running && p->waiting && p->waiting->not_before > now &&
			p->waiting->not_before < next)
			next = p->waiting->not_before;
	return next;
}

/* The oldest decision taken in but not settled, or LLONG_MAX. */
static long long
min_inflight(void)
{
	long long	min = LLONG_MAX;
	Policy	   *p;

	for (p = policies; p; p = p->next)
	{
		if (p->running && p->running->id < min)
			min = p->running->id;
		if (p->waiting && p->waiting->id < min)
			min = p->waiting->id;
	}
	return min;
}

bool
runner_acks_pending(void)
{
	return ack_head != NULL;
}

/*
 * The oldest acknowledgement not yet sent, if any.  It also advances the
 * subscription's low watermark to just below the oldest decision that is not
 * settled yet (running, queued, or still to be acknowledged).
 */
bool
runner_next_ack(ListenAck *ack)
{
	PendingAck *rest;
	long long	inflight = min_inflight();

	if (ack_head == NULL)
		return false;
	ack->id = ack_head->id;
	ack->superseded = ack_head->superseded;
	ack->through = position;
	if (inflight != LLONG_MAX && inflight - 1 < ack->through)
		ack->through = inflight - 1;
	for (rest = ack_head->next; rest; rest = rest->next)
		if (rest->id - 1 < ack->through)
			ack->through = rest->id - 1;
	return true;
}

/* The server has the acknowledgement runner_next_ack() returned. */
void
runner_ack_sent(void)
{
	PendingAck *a = ack_head;

	if (a == NULL)
		return;
	if (options->verbose)
		log_msg("acknowledged decision %lld (policy \"%s\") as %s",
				a->id, a->policy, a->superseded ? "superseded" : "done");
	ack_head = a->next;
	if (ack_head == NULL)
		ack_tail = NULL;
	free(a->policy);
	free(a);
}

/* Pass a signal on to every running command's process group. */
void
runner_signal_children(int sig)
{
	Policy	   *p;

	for (p = policies; p; p = p->next)
		if (p->running)
			kill(-p->pid, sig);
}

void
runner_free(void)
{
	while (policies)
	{
		Policy	   *next = policies->next;

		free_decision(policies->waiting);
		free_decision(policies->running);
		free(policies->name);
		free(policies);
		policies = next;
	}
	free(buckets);
	buckets = NULL;
	nbuckets = 0;
	npolicies = 0;
	while (ack_head)
	{
		PendingAck *next = ack_head->next;

		free(ack_head->policy);
		free(ack_head);
		ack_head = next;
	}
	ack_tail = NULL;
}
