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
 * The length of the UTF-8 character at s (of at most len bytes) when it is
 * well formed and not a C1 control (U+0080 to U+009F, which terminals take
 * for escape sequences), else 0.
 */
static int
utf8_printable(const char *s, int len)
{
	const unsigned char *u = (const unsigned char *) s;
	int			n;
	int			k;

	if (u[0] >= 0xc2 && u[0] <= 0xdf)
		n = 2;
	else if (u[0] >= 0xe0 && u[0] <= 0xef)
		n = 3;
	else if (u[0] >= 0xf0 && u[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (n > len)
		return 0;
	for (k = 1; k < n; k++)
		if ((u[k] & 0xc0) != 0x80)
			return 0;
	if (u[0] == 0xc2 && u[1] <= 0x9f)
		return 0;
	return n;
}

/*
 * One message on stderr, prefixed with the program name.  Messages carry
 * text from the server (errors, policy names, a NOTIFY's payload, which any
 * role may send): control characters (C0, DEL, and C1 in UTF-8) and bytes
 * that are not UTF-8 are escaped (\xNN), and the lines
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
		int			n;

		if (c == '\n')
			fputs("\n    ", stderr);
		else if (c < 0x20 || c == 0x7f)
			fprintf(stderr, "\\x%02x", c);
		else if (c < 0x80)
			fputc(c, stderr);
		else if ((n = utf8_printable(buf + i, len - i)) > 0)
		{
			fwrite(buf + i, 1, (size_t) n, stderr);
			i += n - 1;
		}
		else
			fprintf(stderr, "\\x%02x", c);	/* C1 control, or not UTF-8 */
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
