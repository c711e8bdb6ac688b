/*-------------------------------------------------------------------------
 *
 * forecast.c
 *	  scaler.forecast(): an hour-of-week seasonal forecast of a policy's
 *	  metric, with a high quantile and the capacity it needs.
 *
 * The lookback's rows are aggregated once into a scaler.traffic value (the
 * analytics' own aggregate, read as the policy owner as live evaluation
 * reads them), in the session's TimeZone.  Each past sample is filed under
 * its local hour of the week (or hour of the day when the history is
 * shorter than a week):
 *
 *	- load metrics (concurrency, rps): one sample per minute, so "high" is
 *	  the 95th percentile of the one-minute load seen in that hour of the
 *	  week, the level that capacity must meet, not the hour's average;
 *	- quality metrics (p95_ms, error_rate): one sample per hour.
 *
 * expected is the mean of the samples, high their 95th percentile (as
 * percentile_cont computes it), and capacity = ceil(high / target) within
 * [min_capacity, max_capacity] for load metrics (NULL for quality metrics,
 * whose capacity depends on the capacity running).  Only whole minutes
 * inside the lookback count: a minute (or the rest of an hour) before its
 * start is not a sample of an idle minute, and nor are the minutes before
 * the first row in the lookback (nothing was logged yet).
 *
 * horizon and lookback are bounded (FORECAST_MAX_HORIZON_DAYS,
 * FORECAST_MAX_LOOKBACK_DAYS): the work and memory grow with both.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <limits.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "backtest.h"
#include "hourly.h"
#include "policy.h"
#include "rollup.h"
#include "source.h"
#include "traffic.h"

PG_FUNCTION_INFO_V1(scaler_forecast);

/*
 * Limits of the arguments.  A year ahead is 8,784 rows; a year back is half
 * a million one-minute samples (4 MB), far more history than an hour-of-week
 * seasonal forecast learns anything from.
 */
#define FORECAST_MAX_HORIZON_DAYS	366
#define FORECAST_MAX_LOOKBACK_DAYS	366

/* The samples of one hour of the week (or of the day). */
typedef struct ForecastSlot
{
	double	   *samples;
	int			n;
	int			max;
	bool		known;
	double		expected;
	double		high;
} ForecastSlot;

static void
add_sample(ForecastSlot *slot, double value)
{
	if (slot->n >= slot->max)
	{
		slot->max = Max(slot->max * 2, 64);
		if (slot->samples == NULL)
			slot->samples = palloc(sizeof(double) * slot->max);
		else
			slot->samples = repalloc_huge(slot->samples,
										  sizeof(double) * slot->max);
	}
	slot->samples[slot->n++] = value;
}

/*
 * Aggregate the source rows of [since, until) as the policy owner.  Only
 * the columns the metric needs are read (an rps policy's source may have
 * no duration_ms).  NULL when there are no rows.
 */
static Traffic *
read_history(const ScalerPolicySettings *s, TimestampTz since,
			 TimestampTz until)
{
	MemoryContext caller = CurrentMemoryContext;
	StringInfoData sql;
	const char *args;
	Oid			argtypes[3] = {TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID};
	Datum		values[3];
	int			nargs = s->function_name ? 3 : 2;
	ScalerOwnerScope owner_scope;
	Traffic    *traffic;
	RollupCover cover;
	Datum		result;
	bool		isnull;
	int			ret;
	int			i;

	switch (s->metric)
	{
		case SCALER_METRIC_CONCURRENCY:
		case SCALER_METRIC_P95_MS:
			args = "ts, duration_ms::pg_catalog.float8";
			break;
		case SCALER_METRIC_ERROR_RATE:
			args = "ts, NULL::pg_catalog.float8, " SOURCE_STATUS_AS_INT4("status");
			break;
		default:
			args = "ts";
			break;
	}
	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT scaler.traffic_agg(%s) FROM %s "
					 "WHERE ts OPERATOR(pg_catalog.>=) $1 "
					 "AND ts OPERATOR(pg_catalog.<) $2",
					 args, scaler_source_name(s));
	if (s->function_name)
		appendStringInfoString(&sql, " AND function_name OPERATOR(pg_catalog.=) $3");
	values[2] = s->function_name ? CStringGetTextDatum(s->function_name) : (Datum) 0;

	/*
	 * A rollup the owner may use stands in for the rows it covers
	 * (rollup.c): the merged value is the one the rows give.
	 */
	if (!rollup_cover(s->source, since, until, s->function_name, s->owner,
					  &cover))
	{
		cover.slots = NULL;
		cover.nranges = 1;
		cover.from[0] = since;
		cover.until[0] = until;
	}
	traffic = cover.slots;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	for (i = 0; i < cover.nranges; i++)
	{
		values[0] = TimestampTzGetDatum(cover.from[i]);
		values[1] = TimestampTzGetDatum(cover.until[i]);
		scaler_become_owner(s, &owner_scope);
		ret = SPI_execute_with_args(sql.data, nargs, argtypes, values, NULL,
									true, 0);
		scaler_end_role(&owner_scope);
		if (ret != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "reading the history of policy \"%s\" failed: %s",
				 s->name, SPI_result_code_string(ret));
		result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
							   &isnull);
		if (isnull)
			continue;
		if (traffic == NULL)
			traffic = traffic_copy_into(result, caller);
		else
			traffic_merge(traffic, traffic_from_datum(result));
	}
	SPI_finish();
	return traffic;
}

/* The local hour after the one starting at start. */
static TimestampTz
following_hour(TimestampTz start, pg_tz *tz)
{
	TimestampTz probe;

	for (probe = start + USECS_PER_QUARTER;; probe += USECS_PER_QUARTER)
	{
		TimestampTz bucket = hour_bucket(probe, tz);

		CHECK_FOR_INTERRUPTS();

		if (bucket > start)
			return bucket;
	}
}

/*
 * File each minute of [first_minute, end_minute) under its hour of the
 * week: its requests, or its busy time, as a load.
 */
static void
load_samples(const ScalerPolicySettings *s, Traffic *traffic,
			 int64 first_minute, int64 end_minute, bool weekly,
			 ForecastSlot *slots)
{
	HourStats  *hour = palloc0(sizeof(HourStats));
	HourIter	iter;

	hour_iter_init(&iter, traffic, session_timezone,
				   floor_div(first_minute, MINUTES_PER_QUARTER),
				   floor_div(end_minute - 1, MINUTES_PER_QUARTER) + 1);
	while (hour_iter_next(&iter, hour))
	{
		int			slot = cycle_slot(hour->start, session_timezone, weekly);
		int64		from = Max(first_minute, hour->first_minute);
		int64		to = Min(end_minute, hour->first_minute + hour->minutes);
		int64		m;

		for (m = from; m < to; m++)
		{
			int64		i = m - hour->first_minute;
			ScalerCounts counts;
			double		value;

			/*
			 * A minute's busy time is that of its requests with a duration,
			 * which a traffic value counts by hour: the minute is taken to
			 * have the hour's share of them.  An hour without durations
			 * has no concurrency, as a live window without them has none.
			 */
			memset(&counts, 0, sizeof(counts));
			counts.requests = hour->minute_requests[i];
			if (hour->with_duration > 0)
			{
				counts.with_duration = counts.requests;
				counts.busy_ms = (double) hour->minute_busy_us[i] / 1000.0 *
					((double) hour->requests / (double) hour->with_duration);
			}
			if (scaler_metric_value(s->metric, &counts, 60.0, &value))
				add_sample(&slots[slot], value);
		}
	}
	pfree(hour);
}

/* File each hour's p95 or error rate under its hour of the week. */
static void
quality_samples(const ScalerPolicySettings *s, Traffic *traffic,
				TimestampTz since, TimestampTz until, bool weekly,
				ForecastSlot *slots)
{
	HourStats  *hour = palloc0(sizeof(HourStats));
	HourIter	iter;

	hour_iter_init(&iter, traffic, session_timezone, quarter_of(since),
				   quarter_of(until - 1) + 1);
	while (hour_iter_next(&iter, hour))
	{
		int			slot = cycle_slot(hour->start, session_timezone, weekly);
		ScalerCounts counts;
		double		value;

		CHECK_FOR_INTERRUPTS();

		/*
		 * An hour's statuses: a traffic value counts errors, not the rows
		 * that had a status, so a row without one counts as no error
		 * (live evaluation leaves it out; docs/sql-reference.md says so).
		 */
		memset(&counts, 0, sizeof(counts));
		counts.requests = hour->requests;
		counts.with_status = hour->requests;
		counts.errors = hour->errors;
		counts.has_p95 = hour->with_duration > 0;
		if (counts.has_p95)
			counts.p95_ms = sketch_quantile(&hour->sketch, 0.95);
		if (scaler_metric_value(s->metric, &counts, 3600.0, &value))
			add_sample(&slots[slot], value);
	}
	pfree(hour);
}

/*
 * The arguments, checked: none null, horizon and lookback positive and
 * within their limits (the work and memory grow with both).
 */
static void
forecast_args(FunctionCallInfo fcinfo, int64 *horizon, int64 *lookback)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("policy must not be null")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("horizon must not be null")));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lookback must not be null")));
	*horizon = scaler_interval_usecs(PG_GETARG_INTERVAL_P(1), "horizon");
	*lookback = scaler_interval_usecs(PG_GETARG_INTERVAL_P(2), "lookback");
	if (*horizon <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("horizon must be greater than zero")));
	if (*lookback <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lookback must be greater than zero")));
	if (*horizon > FORECAST_MAX_HORIZON_DAYS * USECS_PER_DAY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("horizon must not exceed %d days",
						FORECAST_MAX_HORIZON_DAYS),
				 errhint("A forecast repeats the hours of the week; forecast again later rather than far ahead.")));
	if (*lookback > FORECAST_MAX_LOOKBACK_DAYS * USECS_PER_DAY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lookback must not exceed %d days",
						FORECAST_MAX_LOOKBACK_DAYS)));
}

/*
 * The start of the history: the first minute logged in the lookback (now
 * when there is none).  A forecast needs a day of it.
 */
static TimestampTz
history_start(const ScalerPolicySettings *s, Traffic *traffic, TimestampTz now)
{
	TimestampTz first;

	first = (traffic != NULL && !traffic_is_empty(traffic)) ?
		traffic_first_minute(traffic) * USECS_PER_MINUTE : now;
	if (now - first < USECS_PER_DAY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("not enough history to forecast policy \"%s\"", s->name),
				 errdetail("The lookback holds %.1f hours of traffic; a forecast needs at least 24.",
						   (double) (now - first) / USECS_PER_HOUR),
				 errhint("Widen lookback, or wait until a day of traffic has been logged.")));
	return first;
}

/*
 * File the samples of [since, now) under their slots: per minute for a load
 * metric, per hour for a quality metric.
 */
static void
collect_samples(const ScalerPolicySettings *s, Traffic *traffic,
				TimestampTz since, TimestampTz first, TimestampTz now,
				bool weekly, ForecastSlot *slots)
{
	int64		start_minute;
	int64		end_minute;

	memset(slots, 0, sizeof(ForecastSlot) * 7 * 24);
	/* whole minutes inside the lookback only, from its first row on */
	start_minute = -floor_div(-since, USECS_PER_MINUTE);
	start_minute = Max(start_minute, traffic_first_minute(traffic));
	end_minute = floor_div(now, USECS_PER_MINUTE);
	if (scaler_metric_is_load(s->metric))
		load_samples(s, traffic, start_minute, end_minute, weekly, slots);
	else
		quality_samples(s, traffic, first, now, weekly, slots);
}

/* Each slot's expected (mean) and high (95th percentile) value. */
static void
summarize_slots(ForecastSlot *slots)
{
	int			i;

	for (i = 0; i < 7 * 24; i++)
	{
		ForecastSlot *slot = &slots[i];
		double		sum = 0.0;
		int			j;

		CHECK_FOR_INTERRUPTS();
		if (slot->n == 0)
			continue;
		for (j = 0; j < slot->n; j++)
			sum += slot->samples[j];
		slot->known = true;
		slot->expected = sum / slot->n;
		slot->high = scaler_percentile_cont(slot->samples, slot->n, 0.95);
	}
}

/*
 * One row per local hour from the current one until end, each from the
 * slot its hour falls in.
 */
static void
emit_forecast(ReturnSetInfo *rsinfo, const ScalerPolicySettings *s,
			  const ForecastSlot *slots, bool weekly, TimestampTz now,
			  TimestampTz end)
{
	TimestampTz hour;

	for (hour = hour_bucket(now, session_timezone); hour < end;
		 hour = following_hour(hour, session_timezone))
	{
		const ForecastSlot *slot = &slots[cycle_slot(hour, session_timezone, weekly)];
		Datum		values[4];
		bool		nulls[4];

		memset(nulls, 0, sizeof(nulls));
		values[0] = TimestampTzGetDatum(hour);
		values[1] = Float8GetDatum(slot->expected);
		values[2] = Float8GetDatum(slot->high);
		nulls[1] = nulls[2] = !slot->known;
		if (slot->known && scaler_metric_is_load(s->metric))
		{
			ScalerReason reason;

			/* as decide.c rounds and bounds a load's demand (no floor) */
			values[3] = Int32GetDatum(scaler_clamp_capacity(scaler_capacity_for(slot->high / s->target),
															s->min_capacity,
															s->max_capacity,
															0, &reason));
		}
		else
			nulls[3] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * scaler.forecast(policy, horizon, lookback)
 *   -> (hour, expected, high, capacity) per local hour from the current
 *      one until now + horizon
 */
Datum
scaler_forecast(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ScalerPolicySettings s;
	int64		horizon;
	int64		lookback;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	TimestampTz since;
	TimestampTz first;
	Traffic    *traffic;
	ForecastSlot slots[7 * 24];
	bool		weekly;

	forecast_args(fcinfo, &horizon, &lookback);
	scaler_policy_settings(text_to_cstring(PG_GETARG_TEXT_PP(0)), NULL, &s);

	InitMaterializedSRF(fcinfo, 0);

	since = now - lookback;
	traffic = read_history(&s, since, now);
	first = history_start(&s, traffic, now);
	weekly = (now - first >= 7 * USECS_PER_DAY);

	collect_samples(&s, traffic, since, first, now, weekly, slots);
	summarize_slots(slots);
	emit_forecast(rsinfo, &s, slots, weekly, now, now + horizon);
	return (Datum) 0;
}
