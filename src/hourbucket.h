/*-------------------------------------------------------------------------
 *
 * hourbucket.h
 *	  Local-hour bucketing that agrees with date_trunc('hour', ts).
 *
 * date_trunc('hour', ts) keeps the UTC offset in force at ts and drops the
 * minutes and seconds of the local time, so the bucket of ts is
 *		ts - ((ts + offset(ts)) mod 1 hour).
 * A bucket is named by that instant.  Buckets therefore start on quarter
 * hours for every zone in use today (offsets are multiples of 15 minutes),
 * and a local hour is a union of UTC quarter hours: traffic values keep
 * quarters and are bucketed when they are read.  Offsets that are not whole
 * quarters (local mean time before about 1900) put a quarter in the hour its
 * first instant falls in.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCALER_HOURBUCKET_H
#define SCALER_HOURBUCKET_H

#include "datatype/timestamp.h"
#include "pgtime.h"

#define USECS_PER_QUARTER	(15 * USECS_PER_MINUTE)

/* Floor division and modulo for possibly negative timestamps. */
static inline int64
floor_div(int64 a, int64 b)
{
	int64		q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static inline int64
floor_mod(int64 a, int64 b)
{
	int64		r = a % b;

	return (r != 0 && (r < 0) != (b < 0)) ? r + b : r;
}

/* The quarter-hour slot an instant (or a bucket start) falls in. */
static inline int64
quarter_of(TimestampTz ts)
{
	return floor_div(ts, USECS_PER_QUARTER);
}

extern TimestampTz hour_bucket(TimestampTz ts, pg_tz *tz);
extern void local_hour_and_dow(TimestampTz start, pg_tz *tz,
							   int *hour, int *dow);
extern int	cycle_slot(TimestampTz start, pg_tz *tz, bool weekly);

/* No local hour of any zone spans more quarters than this. */
#define MAX_BUCKET_QUARTERS		12

/*
 * A stretch of time over which a zone's UTC offset does not change, so that
 * buckets inside it are plain arithmetic: [from, until), offset in usecs.
 */
typedef struct OffsetSpan
{
	TimestampTz from;
	TimestampTz until;
	int64		offset;
} OffsetSpan;

extern int64 bucket_walk(OffsetSpan *span, int64 quarter, pg_tz *tz,
						 TimestampTz *start);
extern int64 bucket_run(OffsetSpan *span, int64 quarter, int64 end_quarter,
						pg_tz *tz, TimestampTz *start, int64 *next);
extern void bucket_of_quarter(int64 quarter, pg_tz *tz, TimestampTz *start,
							  int64 *first_quarter, int64 *end_quarter);
extern int64 next_bucket_quarter(int64 quarter, TimestampTz start, pg_tz *tz);

#endif							/* SCALER_HOURBUCKET_H */
