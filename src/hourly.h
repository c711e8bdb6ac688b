/*-------------------------------------------------------------------------
 *
 * hourly.h
 *	  Reading a traffic value hour by hour: the local hours of a time zone,
 *	  gap-filled, each made of the quarters that lie in it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCALER_HOURLY_H
#define SCALER_HOURLY_H

#include "traffic.h"

#define MAX_BUCKET_MINUTES	(MAX_BUCKET_QUARTERS * MINUTES_PER_QUARTER)

/* One local hour: the figures every hourly output is made of. */
typedef struct HourStats
{
	TimestampTz start;			/* the bucket, as date_trunc('hour') names it */
	int64		first_minute;	/* its first minute, from the epoch */
	int32		minutes;		/* its length */
	int64		requests;
	int64		errors;
	int64		with_duration;
	double		max_ms;
	int64		busy_us;
	int64		peak_rpm;
	int64		peak_minute_busy_us;
	int64		minute_requests[MAX_BUCKET_MINUTES];
	int64		minute_busy_us[MAX_BUCKET_MINUTES];
	Sketch		sketch;			/* the hour's durations */
} HourStats;

/*
 * A piece of what a report reads, in time order: a value, or the flat bytes
 * of a rollup's slot (as stored: still toasted, detoasted only when the
 * walk reaches it), of which only quarters [first_quarter, end_quarter)
 * count.  Pieces do not overlap in time, except that one may end and the
 * next begin inside the same quarter (a rollup's watermark).
 */
typedef struct HourPart
{
	Traffic    *traffic;		/* or NULL: flat is the piece */
	Datum		flat;
	int64		first_quarter;
	int64		end_quarter;
} HourPart;

struct TrafficStream;

/* Walks the buckets of [first quarter, end quarter), in time order. */
typedef struct HourIter
{
	HourPart   *parts;
	int32		nparts;
	int32		part;			/* the one being read */
	bool		part_open;
	HourPart	single;			/* the part of hour_iter_init */
	pg_tz	   *tz;
	int64		next_quarter;	/* first quarter of the next bucket */
	int64		end_quarter;	/* no bucket starts at or after this */
	bool		to_last_row;	/* nor after the parts' last rows */
	int32		summary;		/* cursors into the part's normalized value */
	int32		row;
	struct TrafficStream *stream;	/* reads a flat part, made once */
	struct varlena *detoasted;	/* the flat part's bytes, if copied */
	int64		pending;		/* the quarter the stream holds next */
	OffsetSpan	span;			/* the zone's offset, remembered */
	bool		minutes_dirty;	/* the HourStats minutes need clearing */
	int32		dirty_minutes;	/* how many of them, from the first */
	MemoryContext cxt;			/* for the hour's sketch */
} HourIter;

extern void hour_iter_init(HourIter *iter, Traffic *traffic, pg_tz *tz,
						   int64 first_quarter, int64 end_quarter);
extern void hour_iter_init_parts(HourIter *iter, HourPart *parts, int nparts,
								 pg_tz *tz, int64 first_quarter,
								 int64 end_quarter);
extern void hour_iter_init_datum(HourIter *iter, Datum datum, pg_tz *tz);
extern bool hour_iter_next(HourIter *iter, HourStats *hour);

#endif							/* SCALER_HOURLY_H */
