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

/*
 * One message on stderr, prefixed with the program name.  Messages carry
 * text from the server (errors, policy names, a NOTIFY's payload, which any
 * role may send): control characters are escaped (\xNN), and the lines
 * after the first are indented, so that no text can forge a line of ours
 * or drive the terminal.
 */
void
log_msg(const char *fmt,...)
{
	va_list		ap;
	char		stack[512];
	char	   *buf = stack;
	int			len;
	int			i;

	va_start(ap, fmt);
	len = vsnprintf(stack, sizeof(stack), fmt, ap);
	va_end(ap);
	if (len < 0)
		len = 0;
	else if ((size_t) len >= sizeof(stack))
	{
		buf = malloc((size_t) len + 1);
		if (buf == NULL)
		{
			buf = stack;
			len = (int) sizeof(stack) - 1;
		}
		else
		{
			va_start(ap, fmt);
			(void) vsnprintf(buf, (size_t) len + 1, fmt, ap);
			va_end(ap);
		}
	}
	while (len > 0 && buf[len - 1] == '\n')
		len--;

	fprintf(stderr, "%s: ", progname);
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) buf[i];

		if (c == '\n')
			fputs("\n    ", stderr);
		else if (c < 0x20 || c == 0x7f)
			fprintf(stderr, "\\x%02x", c);
		else
			fputc(c, stderr);
	}
	fputc('\n', stderr);
	fflush(stderr);
	if (buf != stack)
		free(buf);
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
