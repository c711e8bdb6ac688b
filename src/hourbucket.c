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

HourCache *
hour_cache_create(MemoryContext cxt, pg_tz *tz)
{
	HourCache  *cache = MemoryContextAlloc(cxt, sizeof(HourCache));
	int			i;

	cache->tz = tz;
	cache->last_from = cache->last_to = 0;
	for (i = 0; i < HOUR_CACHE_SIZE; i++)
		cache->entries[i].quarter = PG_INT64_MIN;
	return cache;
}
