/*-------------------------------------------------------------------------
 *
 * options.c
 *		Command-line parsing and --help of scaler-listen.
 *
 *-------------------------------------------------------------------------
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listen.h"

#define LISTEN_VERSION "0.2"

static void
usage(void)
{
	printf("%s acts on the autoscaling decisions of the scaler PostgreSQL extension.\n\n"
		   "It LISTENs on a channel, catches up from scaler.decision after the last\n"
		   "decision its subscription acknowledged, and for each decision runs COMMAND\n"
		   "(or prints the decision as one JSON line when there is no --exec).\n\n",
		   progname);
	printf("Usage:\n  %s [-d CONNINFO] [OPTION]...\n\n", progname);
	printf("Options:\n"
		   "  -d, --dbname=CONNINFO   database to connect to: a connection string or URI\n"
		   "                          (default: the PGHOST, PGDATABASE, ... variables)\n"
		   "  -c, --channel=CHANNEL   channel to LISTEN on (default: scaler)\n"
		   "  -e, --exec=COMMAND      run COMMAND through /bin/sh for each decision, with\n"
		   "                          the decision as JSON on stdin and SCALER_POLICY,\n"
		   "                          SCALER_FROM, SCALER_TO, SCALER_DECISION_ID set\n"
		   "  -j, --jobs=N            run at most N commands at once (default: 4)\n"
		   "  -n, --name=NAME         subscription name kept in the server, so a restart\n"
		   "                          resumes where it stopped (default: the channel);\n"
		   "                          it belongs to the role that creates it\n"
		   "      --from-now          a new subscription skips the decisions made so far\n"
		   "                          (default: start with each policy's newest one)\n"
		   "  -p, --poll-interval=SECS\n"
		   "                          also read new decisions every SECS seconds without\n"
		   "                          a notification, as after a lost NOTIFY\n"
		   "                          (default: 30; 0: only on notifications)\n"
		   "  -v, --verbose           report every decision and acknowledgement on stderr\n"
		   "  -V, --version           print the version and exit\n"
		   "  -h, --help              show this help and exit\n\n");
	printf("A new subscription first applies each policy's newest decision once, then\n"
		   "follows new ones. Decisions of one policy run in order; when several are\n"
		   "queued for a policy, only the newest runs and the older ones are\n"
		   "acknowledged as superseded. A decision is acknowledged after its command\n"
		   "exits 0; a failing command is retried with backoff. While another listener\n"
		   "holds the subscription, or the connection is lost, it tries again with\n"
		   "backoff. SIGINT or SIGTERM: finish running commands, exit 0.\n\n"
		   "Example (quote each variable, and keep it from reading as an option):\n"
		   "  %s -d \"dbname=app\" --name k8s --jobs 2 \\\n"
		   "      --exec 'kubectl scale \"deployment/$SCALER_POLICY\" --replicas=\"$SCALER_TO\"'\n\n"
		   "Exit status: 0 after SIGINT/SIGTERM, 1 on errors, 2 on bad usage.\n",
		   progname);
}

static void
bad_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", progname);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry \"%s --help\" for more information.\n", progname);
	exit(LISTEN_EXIT_USAGE);
}

/* An option's value that must not be empty (what names it in the error). */
static const char *
non_empty(const char *arg, const char *what)
{
	if (arg[0] == '\0')
		bad_usage("the %s must not be empty", what);
	return arg;
}

/* --jobs: an integer from 1 to 1024. */
static int
parse_jobs(const char *arg)
{
	char	   *end;
	long		n;

	n = strtol(arg, &end, 10);
	if (*end != '\0' || end == arg || n < 1 || n > 1024)
		bad_usage("invalid --jobs \"%s\": expected an integer from 1 to 1024",
				  arg);
	return (int) n;
}

/* --poll-interval: seconds from 0 (never) to a day. */
static double
parse_poll_interval(const char *arg)
{
	char	   *end;
	double		secs;

	secs = strtod(arg, &end);
	if (*end != '\0' || end == arg || !(secs >= 0 && secs <= 86400))
		bad_usage("invalid --poll-interval \"%s\": expected seconds from 0 to 86400",
				  arg);
	return secs;
}

void
parse_options(int argc, char **argv, ListenOptions *opts)
{
	static const struct option long_options[] = {
		{"dbname", required_argument, NULL, 'd'},
		{"channel", required_argument, NULL, 'c'},
		{"exec", required_argument, NULL, 'e'},
		{"jobs", required_argument, NULL, 'j'},
		{"name", required_argument, NULL, 'n'},
		{"poll-interval", required_argument, NULL, 'p'},
		{"from-now", no_argument, NULL, 'F'},
		{"verbose", no_argument, NULL, 'v'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int			c;

	memset(opts, 0, sizeof(*opts));
	opts->channel = "scaler";
	opts->jobs = 4;
	opts->poll_interval = 30;
	/* as with psql, an empty connection string means the PG* variables */
	opts->conninfo = "";

	while ((c = getopt_long(argc, argv, "d:c:e:j:n:p:vVh", long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'd':
				opts->conninfo = optarg;
				break;
			case 'c':
				opts->channel = non_empty(optarg, "channel");
				/* the server would LISTEN on its first 63 bytes, silently */
				if (strlen(opts->channel) > 63)
					bad_usage("the channel \"%s\" is longer than 63 bytes, as no policy's channel can be",
							  optarg);
				break;
			case 'e':
				opts->command = non_empty(optarg, "command");
				break;
			case 'j':
				opts->jobs = parse_jobs(optarg);
				break;
			case 'n':
				opts->name = non_empty(optarg, "subscription name");
				break;
			case 'p':
				opts->poll_interval = parse_poll_interval(optarg);
				break;
			case 'F':
				opts->from_now = true;
				break;
			case 'v':
				opts->verbose = true;
				break;
			case 'V':
				printf("%s %s\n", progname, LISTEN_VERSION);
				exit(0);
			case 'h':
				usage();
				exit(0);
			default:
				/* getopt_long has already said what was wrong */
				fprintf(stderr, "Try \"%s --help\" for more information.\n", progname);
				exit(LISTEN_EXIT_USAGE);
		}
	}

	if (optind < argc)
		bad_usage("unexpected argument \"%s\"", argv[optind]);
	if (opts->name == NULL)
		opts->name = opts->channel;
}
