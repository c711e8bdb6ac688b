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

/* Walks the buckets of [first quarter, end quarter), in time order. */
typedef struct HourIter
{
	Traffic    *traffic;
	pg_tz	   *tz;
	int64		next_quarter;	/* first quarter of the next bucket */
	int64		end_quarter;	/* no bucket starts at or after this */
	int32		summary;		/* cursors into the normalized value */
	int32		row;
	MemoryContext cxt;			/* for the hour's sketch */
} HourIter;

extern void hour_iter_init(HourIter *iter, Traffic *traffic, pg_tz *tz,
						   int64 first_quarter, int64 end_quarter);
extern void hour_iter_init_all(HourIter *iter, Traffic *traffic, pg_tz *tz);
extern bool hour_iter_next(HourIter *iter, HourStats *hour);

#endif							/* SCALER_HOURLY_H */
