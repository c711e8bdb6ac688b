/*-------------------------------------------------------------------------
 *
 * hourly.c
 *	  hourly_requests, hour_of_day and hour_of_week: a traffic value (or a
 *	  source's rows) as gap-filled rows, one per local hour.
 *
 * Every bucket between the first and the last hour is reported, including
 * hours without traffic, which is why rows are built by walking minutes
 * rather than by listing the hours that have data.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/timestamp.h"

#include "hourly.h"
#include "source.h"

PG_FUNCTION_INFO_V1(traffic_hourly_requests);
PG_FUNCTION_INFO_V1(source_hourly_requests);
PG_FUNCTION_INFO_V1(traffic_hour_of_day);
PG_FUNCTION_INFO_V1(traffic_hour_of_week);

/*
 * Rows for the buckets of every minute in [from_minute, to_minute), in time
 * order.  A bucket starts within the hour before any of its minutes, which
 * bounds the slots the walk can touch.
 */
static HourRow *
hour_rows_for_minutes(Traffic *traffic, int64 from_minute, int64 to_minute,
					  int *nrows)
{
	HourCache  *cache = hour_cache_create(CurrentMemoryContext, traffic->tz);
	int64		slot_lo = quarter_of(from_minute * USECS_PER_MINUTE) - 4;
	int64		nslots = quarter_of(to_minute * USECS_PER_MINUTE) - slot_lo + 1;
	HourRow    *slots;
	HourRow    *rows;
	int64		minute;
	int64		i;
	int			n = 0;

	if (nslots > (int64) (MaxAllocSize / sizeof(HourRow)))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many hours to report")));
	slots = palloc0(sizeof(HourRow) * nslots);

	for (minute = from_minute; minute < to_minute; minute++)
	{
		TimestampTz start = hour_cache_lookup(cache, minute * USECS_PER_MINUTE);
		HourRow    *row = &slots[quarter_of(start) - slot_lo];

		row->start = start;
		row->minutes++;
		if (minute >= traffic->first_minute && minute <= traffic->last_minute)
		{
			int64		requests = traffic->minute_requests[minute - traffic->minute0];
			double		ms = traffic->minute_ms[minute - traffic->minute0];

			row->requests += requests;
			row->sum_ms += ms;
			row->peak_rpm = Max(row->peak_rpm, requests);
			row->peak_minute_ms = Max(row->peak_minute_ms, ms);
		}
	}

	rows = palloc(sizeof(HourRow) * Max(nslots, 1));
	for (i = 0; i < nslots; i++)
	{
		HourRow    *row = &slots[i];
		int64		index;

		if (row->minutes == 0)
			continue;
		index = quarter_of(row->start) - traffic->slot0;
		if (index >= 0 && index < traffic->nslots &&
			traffic->slots[index] != NULL &&
			traffic->slots[index]->start == row->start)
			row->hour = traffic->slots[index];
		rows[n++] = *row;
	}
	pfree(slots);
	pfree(cache);
	*nrows = n;
	return rows;
}

/* Rows for the buckets that overlap [since, until). */
HourRow *
traffic_hour_rows(Traffic *traffic, TimestampTz since, TimestampTz until,
				  int *nrows)
{
	return hour_rows_for_minutes(traffic,
								 floor_div(since, USECS_PER_MINUTE),
								 floor_div(until - 1, USECS_PER_MINUTE) + 1,
								 nrows);
}

/* Rows from the first to the last hour with traffic, each hour whole. */
HourRow *
traffic_all_hour_rows(Traffic *traffic, int *nrows)
{
	TimestampTz first;
	TimestampTz last;
	int64		end;

	if (traffic->first_minute > traffic->last_minute)
	{
		*nrows = 0;
		return NULL;
	}
	first = hour_bucket(traffic->first_minute * USECS_PER_MINUTE, traffic->tz);
	last = hour_bucket(traffic->last_minute * USECS_PER_MINUTE, traffic->tz);
	end = traffic->last_minute + 1;
	while (hour_bucket(end * USECS_PER_MINUTE, traffic->tz) == last)
		end++;
	return hour_rows_for_minutes(traffic, floor_div(first, USECS_PER_MINUTE),
								 end, nrows);
}

/* ------------------------------------------------------ hourly_requests */

static void
emit_hourly_rows(FunctionCallInfo fcinfo, HourRow *rows, int nrows)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < nrows; i++)
	{
		HourRow    *row = &rows[i];
		TrafficHour *hour = row->hour;
		bool		has_durations = hour != NULL && hour->with_duration > 0;
		int64		errors = hour != NULL ? hour->errors : 0;
		double		max_ms = has_durations ? hour->max_ms : 0.0;
		Datum		values[11];
		bool		nulls[11] = {false};

		values[0] = TimestampTzGetDatum(row->start);
		values[1] = Int64GetDatum(row->requests);
		values[2] = Int64GetDatum(errors);
		values[3] = Float8GetDatum(row->requests > 0 ?
								   (double) errors / (double) row->requests : 0.0);
		if (has_durations)
		{
			/* A bin's representative may exceed the longest duration seen. */
			values[4] = Float8GetDatum(Min(sketch_quantile(&hour->sketch, 0.50), max_ms));
			values[5] = Float8GetDatum(Min(sketch_quantile(&hour->sketch, 0.95), max_ms));
			values[6] = Float8GetDatum(Min(sketch_quantile(&hour->sketch, 0.99), max_ms));
			values[7] = Float8GetDatum(max_ms);
		}
		else
			nulls[4] = nulls[5] = nulls[6] = nulls[7] = true;
		values[8] = Int64GetDatum(row->peak_rpm);
		/* Little's law: busy milliseconds over the bucket's length. */
		values[9] = Float8GetDatum(row->sum_ms / (row->minutes * 60000.0));
		values[10] = Float8GetDatum(row->peak_minute_ms / 60000.0);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

/* hourly_requests(t scaler.traffic) */
Datum
traffic_hourly_requests(PG_FUNCTION_ARGS)
{
	Traffic    *traffic = traffic_from_datum(PG_GETARG_DATUM(0));
	int			nrows;
	HourRow    *rows = traffic_all_hour_rows(traffic, &nrows);

	emit_hourly_rows(fcinfo, rows, nrows);
	return (Datum) 0;
}

/* hourly_requests(since, until, function_name, source) */
Datum
source_hourly_requests(PG_FUNCTION_ARGS)
{
	TimestampTz since;
	TimestampTz until;
	text	   *function_name = PG_ARGISNULL(2) ? NULL : PG_GETARG_TEXT_PP(2);
	Oid			source;
	Traffic    *traffic;
	HourRow    *rows;
	int			nrows;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("since, until and source must not be null")));
	since = PG_GETARG_TIMESTAMPTZ(0);
	until = PG_GETARG_TIMESTAMPTZ(1);
	source = PG_GETARG_OID(3);
	source_check_window(since, until);

	traffic = source_traffic(source, since, until, function_name);
	if (traffic == NULL)
		traffic = traffic_create(CurrentMemoryContext, session_timezone);
	rows = traffic_hour_rows(traffic, since, until, &nrows);
	emit_hourly_rows(fcinfo, rows, nrows);
	return (Datum) 0;
}

/* ------------------------------------------------ hour_of_day / _week */

typedef struct HourOfCycle
{
	int32		days;
	int64		requests;
	int64		peak;
} HourOfCycle;

static void
emit_hour_of_cycle(FunctionCallInfo fcinfo, bool weekly)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Traffic    *traffic = traffic_from_datum(PG_GETARG_DATUM(0));
	HourOfCycle cycle[7 * 24];
	int			ncycle = weekly ? 7 * 24 : 24;
	HourRow    *rows;
	int			nrows;
	int			i;

	memset(cycle, 0, sizeof(cycle));
	rows = traffic_all_hour_rows(traffic, &nrows);
	for (i = 0; i < nrows; i++)
	{
		int			hour;
		int			dow;
		HourOfCycle *c;

		local_hour_and_dow(rows[i].start, traffic->tz, &hour, &dow);
		c = &cycle[weekly ? dow * 24 + hour : hour];
		c->days++;
		c->requests += rows[i].requests;
		c->peak = Max(c->peak, rows[i].requests);
	}

	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < ncycle; i++)
	{
		Datum		values[6];
		bool		nulls[6] = {false};
		int			col = 0;

		if (weekly)
			values[col++] = Int32GetDatum(i / 24);
		values[col++] = Int32GetDatum(i % 24);
		values[col++] = Int32GetDatum(cycle[i].days);
		values[col++] = Int64GetDatum(cycle[i].requests);
		if (cycle[i].days > 0)
			values[col] = Float8GetDatum((double) cycle[i].requests / cycle[i].days);
		else
			nulls[col] = true;
		col++;
		values[col++] = Int64GetDatum(cycle[i].peak);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

Datum
traffic_hour_of_day(PG_FUNCTION_ARGS)
{
	emit_hour_of_cycle(fcinfo, false);
	return (Datum) 0;
}

Datum
traffic_hour_of_week(PG_FUNCTION_ARGS)
{
	emit_hour_of_cycle(fcinfo, true);
	return (Datum) 0;
}
