/*-------------------------------------------------------------------------
 *
 * hourbucket.c
 *	  Local-hour buckets in a time zone, exactly as date_trunc('hour') makes
 *	  them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "pgtime.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "hourbucket.h"

#define EPOCH_SHIFT_SECS \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY)

/* Seconds east of UTC in force at ts. */
static long
utc_offset_at(TimestampTz ts, pg_tz *tz)
{
	pg_time_t	t = (pg_time_t) (floor_div(ts, USECS_PER_SEC) + EPOCH_SHIFT_SECS);
	struct pg_tm *tm = pg_localtime(&t, tz);

	if (tm == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range for time zone \"%s\"",
						pg_get_timezone_name(tz))));
	return tm->tm_gmtoff;
}

TimestampTz
hour_bucket(TimestampTz ts, pg_tz *tz)
{
	int64		local = ts + (int64) utc_offset_at(ts, tz) * USECS_PER_SEC;

	return ts - floor_mod(local, USECS_PER_HOUR);
}

void
local_hour_and_dow(TimestampTz start, pg_tz *tz, int *hour, int *dow)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			tzoff;

	if (timestamp2tm(start, &tzoff, &tm, &fsec, NULL, tz) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	*hour = tm.tm_hour;
	*dow = j2day(date2j(tm.tm_year, tm.tm_mon, tm.tm_mday));
}

/* The slot of a cycle (hour of the day, or of the week) a bucket is in. */
int
cycle_slot(TimestampTz start, pg_tz *tz, bool weekly)
{
	int			hour;
	int			dow;

	local_hour_and_dow(start, tz, &hour, &dow);
	return weekly ? dow * 24 + hour : hour;
}

/* The bucket of a quarter's first instant; past the timestamp range, none. */
static TimestampTz
quarter_bucket(int64 quarter, pg_tz *tz)
{
	if (quarter >= END_TIMESTAMP / USECS_PER_QUARTER ||
		quarter < MIN_TIMESTAMP / USECS_PER_QUARTER)
		return DT_NOEND;
	return hour_bucket(quarter * USECS_PER_QUARTER, tz);
}

/*
 * The first quarter after quarter (which lies in the bucket named start)
 * that lies in another bucket.  Buckets never go backwards in time, so when
 * the quarter an hour after the bucket's start is the first one outside it,
 * every quarter before it is inside; otherwise (a transition) step.
 */
int64
next_bucket_quarter(int64 quarter, TimestampTz start, pg_tz *tz)
{
	int64		end = quarter_of(start) + 4;
	int64		limit = quarter + MAX_BUCKET_QUARTERS;

	if (end > quarter + 1 && end <= limit &&
		quarter_bucket(end - 1, tz) == start &&
		quarter_bucket(end, tz) != start)
		return end;
	for (end = quarter + 1; end < limit; end++)
		if (quarter_bucket(end, tz) != start)
			break;
	return end;
}

/*
 * Make span cover ts if the zone's offset holds from ts to its next
 * transition; false when that cannot be told (the caller then asks the zone
 * quarter by quarter).  The offset just before the transition is checked
 * against the one at ts, so nothing rests on how pg_next_dst_boundary
 * describes the stretch.
 */
static bool
offset_span_cover(OffsetSpan *span, TimestampTz ts, pg_tz *tz)
{
	pg_time_t	t;
	pg_time_t	boundary;
	long		before;
	long		after;
	int			before_isdst;
	int			after_isdst;
	long		offset;
	TimestampTz until;
	int			found;

	if (ts >= span->from && ts < span->until)
		return true;
	span->from = span->until = 0;
	offset = utc_offset_at(ts, tz);
	t = (pg_time_t) (floor_div(ts, USECS_PER_SEC) + EPOCH_SHIFT_SECS);
	found = pg_next_dst_boundary(&t, &before, &before_isdst, &boundary,
								 &after, &after_isdst, tz);
	if (found < 0)
		return false;
	if (found == 0 ||
		boundary >= END_TIMESTAMP / USECS_PER_SEC + EPOCH_SHIFT_SECS)
		until = END_TIMESTAMP;
	else
	{
		until = (boundary - EPOCH_SHIFT_SECS) * USECS_PER_SEC;
		if (until <= ts || utc_offset_at(until - 1, tz) != offset)
			return false;
	}
	span->from = ts;
	span->until = until;
	span->offset = (int64) offset * USECS_PER_SEC;
	return true;
}

/*
 * The bucket of a quarter (*start) and the first quarter of the next one.
 * Inside a stretch of constant offset in whole quarters that is
 * arithmetic; near a transition, or for other offsets, the zone is asked.
 */
int64
bucket_walk(OffsetSpan *span, int64 quarter, pg_tz *tz, TimestampTz *start)
{
	TimestampTz ts = quarter * USECS_PER_QUARTER;

	if (offset_span_cover(span, ts, tz) && span->offset % USECS_PER_QUARTER == 0)
	{
		TimestampTz bucket = ts - floor_mod(ts + span->offset, USECS_PER_HOUR);

		if (bucket + USECS_PER_HOUR <= span->until)
		{
			*start = bucket;
			return quarter_of(bucket + USECS_PER_HOUR);
		}
	}
	*start = quarter_bucket(quarter, tz);
	return next_bucket_quarter(quarter, *start, tz);
}

/*
 * How many whole buckets, from the one whose first quarter is quarter, lie
 * in a stretch of constant offset and end by end_quarter: buckets named an
 * hour apart, told without asking the zone for each.  *start is the first
 * one's name, *next the first quarter after the last.  0 when the zone must
 * be asked (a transition within the hour).
 */
int64
bucket_run(OffsetSpan *span, int64 quarter, int64 end_quarter, pg_tz *tz,
		   TimestampTz *start, int64 *next)
{
	TimestampTz ts = quarter * USECS_PER_QUARTER;
	TimestampTz name;
	TimestampTz limit;
	int64		n;

	if (!offset_span_cover(span, ts, tz))
		return 0;
	/* (a name before the stretch may be in another offset's hour) */
	name = ts - floor_mod(ts + span->offset, USECS_PER_HOUR);
	if (name < span->from || name <= ts - USECS_PER_QUARTER)
		return 0;
	limit = end_quarter < END_TIMESTAMP / USECS_PER_QUARTER ?
		end_quarter * USECS_PER_QUARTER : END_TIMESTAMP;
	limit = Min(limit, span->until);
	if (limit <= name)
		return 0;
	/* (unsigned: the stretch may span most of the timestamp range) */
	n = (int64) (((uint64) limit - (uint64) name) / USECS_PER_HOUR);
	*start = name;
	/* a bucket holds the quarters whose first instant lies in its hour */
	*next = -floor_div(-(name + n * USECS_PER_HOUR), USECS_PER_QUARTER);
	return n;
}

/* The bucket a quarter lies in: its name and its quarters [first, end). */
void
bucket_of_quarter(int64 quarter, pg_tz *tz, TimestampTz *start,
				  int64 *first_quarter, int64 *end_quarter)
{
	int64		first = quarter;

	*start = quarter_bucket(quarter, tz);
	while (first > quarter - MAX_BUCKET_QUARTERS + 1 &&
		   quarter_bucket(first - 1, tz) == *start)
		first--;
	*first_quarter = first;
	*end_quarter = next_bucket_quarter(quarter, *start, tz);
}
