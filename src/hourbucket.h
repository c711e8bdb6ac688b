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
 * which is what makes the per-quarter cache below exact; quarters that
 * straddle two buckets (historical local mean time) are computed row by row.
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

/*
 * Per call-site cache of quarter -> bucket, shared by all groups of one
 * aggregate call (it lives in fn_extra).  Direct mapped: 16384 quarters cover
 * 170 days, so even rows in random order mostly hit.
 */
#define HOUR_CACHE_SIZE		16384

typedef struct HourCacheEntry
{
	int64		quarter;		/* quarter number, or PG_INT64_MIN if unused */
	TimestampTz start;			/* bucket of every instant in the quarter, or
								 * DT_NOBEGIN when the quarter straddles two */
} HourCacheEntry;

typedef struct HourCache
{
	pg_tz	   *tz;
	/* the quarter hit last, checked first: log rows mostly come in order */
	TimestampTz last_from;
	TimestampTz last_to;
	TimestampTz last_start;
	HourCacheEntry entries[HOUR_CACHE_SIZE];
} HourCache;

extern HourCache *hour_cache_create(MemoryContext cxt, pg_tz *tz);

static inline TimestampTz
hour_cache_lookup(HourCache *cache, TimestampTz ts)
{
	int64		quarter;
	HourCacheEntry *entry;

	if (likely(ts >= cache->last_from && ts < cache->last_to))
		return cache->last_start;

	quarter = quarter_of(ts);
	entry = &cache->entries[quarter & (HOUR_CACHE_SIZE - 1)];
	if (unlikely(entry->quarter != quarter))
	{
		TimestampTz qstart = quarter * USECS_PER_QUARTER;
		TimestampTz first = hour_bucket(qstart, cache->tz);
		TimestampTz last = hour_bucket(qstart + USECS_PER_QUARTER - 1, cache->tz);

		entry->quarter = quarter;
		entry->start = (first == last) ? first : DT_NOBEGIN;
	}
	if (unlikely(entry->start == DT_NOBEGIN))
		return hour_bucket(ts, cache->tz);

	cache->last_from = quarter * USECS_PER_QUARTER;
	cache->last_to = cache->last_from + USECS_PER_QUARTER;
	cache->last_start = entry->start;
	return entry->start;
}

#endif							/* SCALER_HOURBUCKET_H */
