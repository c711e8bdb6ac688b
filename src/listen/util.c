/*-------------------------------------------------------------------------
 *
 * util.c
 *		Small helpers of scaler-listen: messages on stderr, allocation that
 *		cannot return NULL, and a monotonic clock.
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "listen.h"

const char *progname = "scaler-listen";

/* One line on stderr, prefixed with the program name. */
void
log_msg(const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

void *
xmalloc(size_t size)
{
	void	   *p = malloc(size);

	if (p == NULL)
	{
		log_msg("out of memory");
		exit(LISTEN_EXIT_FAILURE);
	}
	return p;
}

char *
xstrdup(const char *s)
{
	size_t		len = strlen(s) + 1;
	char	   *p = xmalloc(len);

	memcpy(p, s, len);
	return p;
}

/*
 * Seconds on a clock that never jumps: backoff deadlines must not move when
 * the wall clock is set.
 */
double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}
