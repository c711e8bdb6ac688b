/*-------------------------------------------------------------------------
 *
 * traffic.h
 *	  The scaler.traffic value: hourly traffic statistics of a group of rows.
 *
 * In memory a traffic value is an expanded object (see expandeddatum.h), so
 * the aggregate can update it in place row after row; stored or sent, it is
 * a flat varlena in a portable byte order.  Its size grows with the hours it
 * spans, never with the number of rows:
 *
 *	- per UTC minute: requests and the summed duration, which give the
 *	  request count, peak requests per minute and concurrency of any hour;
 *	- per local hour with durations or errors (an "hour", keyed by the
 *	  quarter-hour slot its start falls in): errors, the number of rows with
 *	  a duration, the longest duration and a quantile sketch.
 *
 * Hours are the buckets of date_trunc('hour', ts) in the time zone that was
 * in force when the rows were aggregated; the value remembers that zone.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCALER_TRAFFIC_H
#define SCALER_TRAFFIC_H

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "pgtime.h"
#include "utils/expandeddatum.h"

#include "hourbucket.h"
#include "sketch.h"

/* Version of the flat (stored, sent, text) layout. */
#define TRAFFIC_FORMAT_VERSION	1

typedef struct TrafficHour
{
	TimestampTz start;			/* the bucket, as date_trunc('hour') names it */
	int64		errors;			/* rows with status >= 500 */
	int64		with_duration;	/* rows with a known duration */
	double		max_ms;			/* longest duration, 0 if none */
	Sketch		sketch;			/* the durations */
} TrafficHour;

typedef struct Traffic
{
	ExpandedObjectHeader hdr;

	char		tzname[TZ_STRLEN_MAX + 1];
	pg_tz	   *tz;

	/* Per-minute counters over minutes minute0 .. minute0 + nminutes - 1. */
	int64		minute0;
	int32		nminutes;		/* allocated */
	int64	   *minute_requests;
	double	   *minute_ms;
	int64		first_minute;	/* range in use; first > last when empty */
	int64		last_minute;
	/* the minute counted last and its index, checked first (rows come in order) */
	TimestampTz recent_from;
	TimestampTz recent_to;
	int32		recent_index;

	/* Hours, indexed by quarter-hour slot - slot0. */
	int64		slot0;
	int32		nslots;			/* allocated */
	TrafficHour **slots;
	int32		nhours;			/* non-NULL slots */
	TrafficHour *recent_hour;	/* the hour counted last */

	/* Flat image computed by get_flat_size for flatten_into. */
	StringInfoData flat;
} Traffic;

/* Creating, reading and writing traffic values. */
extern Traffic *traffic_create(MemoryContext parent, pg_tz *tz);
extern Traffic *traffic_parse(const char *data, int len, int errcode,
							  MemoryContext parent);
extern void traffic_serialize(Traffic *traffic, StringInfo buf);
extern Traffic *traffic_from_datum(Datum datum);
extern Traffic *traffic_copy_into(Datum datum, MemoryContext parent);
extern Datum traffic_flat_datum(Traffic *traffic);
extern void traffic_merge(Traffic *dst, Traffic *src);

/* The slow paths of traffic_add_row. */
extern void traffic_reserve_minute(Traffic *traffic, int64 minute);
extern TrafficHour *traffic_get_hour(Traffic *traffic, TimestampTz start);

static inline TrafficHour *
traffic_hour(Traffic *traffic, TimestampTz start)
{
	int64		index;

	if (likely(traffic->recent_hour != NULL && traffic->recent_hour->start == start))
		return traffic->recent_hour;
	index = quarter_of(start) - traffic->slot0;
	if (likely(index >= 0 && index < traffic->nslots &&
			   traffic->slots[index] != NULL &&
			   traffic->slots[index]->start == start))
		return traffic->recent_hour = traffic->slots[index];
	return traffic->recent_hour = traffic_get_hour(traffic, start);
}

/*
 * Count one row.  This is the aggregate's inner loop, hence inline: a row
 * without duration or error status touches only its minute.
 */
static inline void
traffic_add_row(Traffic *traffic, TimestampTz ts, TimestampTz hour_start,
				bool is_error, bool has_duration, double duration_ms)
{
	int64		index;

	if (likely(ts >= traffic->recent_from && ts < traffic->recent_to))
		index = traffic->recent_index;
	else
	{
		int64		minute = floor_div(ts, USECS_PER_MINUTE);

		traffic_reserve_minute(traffic, minute);
		if (minute < traffic->first_minute)
			traffic->first_minute = minute;
		if (minute > traffic->last_minute)
			traffic->last_minute = minute;
		index = minute - traffic->minute0;
		traffic->recent_from = minute * USECS_PER_MINUTE;
		traffic->recent_to = traffic->recent_from + USECS_PER_MINUTE;
		traffic->recent_index = (int32) index;
	}
	traffic->minute_requests[index]++;

	if (is_error || has_duration)
	{
		TrafficHour *hour = traffic_hour(traffic, hour_start);

		if (is_error)
			hour->errors++;
		if (has_duration)
		{
			traffic->minute_ms[index] += duration_ms;
			hour->with_duration++;
			if (duration_ms > hour->max_ms)
				hour->max_ms = duration_ms;
			sketch_add(&hour->sketch, duration_ms, traffic->hdr.eoh_context);
		}
	}
}

#endif							/* SCALER_TRAFFIC_H */
