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

/* Seconds east of UTC in force at ts. */
static long
utc_offset_at(TimestampTz ts, pg_tz *tz)
{
	pg_time_t	t = (pg_time_t) (floor_div(ts, USECS_PER_SEC) +
								 (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY);
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
