/*-------------------------------------------------------------------------
 *
 * traffic_stream.h
 *	  Reading a flat scaler.traffic value quarter by quarter, without
 *	  building it.
 *
 * A report over a rollup's days needs each quarter once, in time order, and
 * nothing else of the value: building the value (its rows appended to an
 * array of hundreds of thousands, then walked again) costs more than the
 * report, mostly in memory the kernel has to fault in.  A stream decodes one
 * quarter at a time into buffers of its own, with every check the parser
 * makes (traffic_io.c), so a damaged value is still an error.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCALER_TRAFFIC_STREAM_H
#define SCALER_TRAFFIC_STREAM_H

#include "traffic.h"

/* A row of the quarter just read. */
typedef struct StreamRow
{
	double		duration_ms;	/* 0 when it has none */
	uint8		minute;			/* in the quarter, 0 .. 14 */
	bool		is_error;
	bool		has_duration;
} StreamRow;

typedef struct TrafficStream
{
	const uint8 *p;
	const uint8 *end;
	int			errcode;
	int32		left;			/* quarters not read yet */
	int64		prev;			/* the quarter read last */

	/* The quarter just read: rows, or a summary. */
	int64		quarter;
	bool		is_summary;
	int			nrows;
	StreamRow	rows[SUMMARY_MIN_ROWS];
	TrafficQuarter summary;		/* its sketch's bins are counts below */
	uint32		counts[SKETCH_MAX_BINS];
} TrafficStream;

extern bool traffic_stream_begin(TrafficStream *stream, const char *data,
								 int len, int errcode);
extern int64 traffic_stream_peek(TrafficStream *stream);
extern void traffic_stream_read(TrafficStream *stream);

#endif							/* SCALER_TRAFFIC_STREAM_H */
