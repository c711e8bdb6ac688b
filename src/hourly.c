/*-------------------------------------------------------------------------
 *
 * hourly.c
 *	  hourly_requests, hour_of_day and hour_of_week: a traffic value (or a
 *	  source's rows) as gap-filled rows, one per local hour of the session's
 *	  TimeZone.
 *
 * A value keeps UTC quarter hours; an hour is the union of the quarters
 * whose first instant date_trunc('hour') puts in it.  The walk goes bucket
 * by bucket, so an hour without traffic costs a few time zone look-ups and
 * no memory: rows go straight to the tuplestore, which spills to disk past
 * work_mem.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "citus.h"
#include "hourly.h"
#include "source.h"
#include "traffic_stream.h"

PG_FUNCTION_INFO_V1(traffic_hourly_requests);
PG_FUNCTION_INFO_V1(source_hourly_requests);
PG_FUNCTION_INFO_V1(traffic_hour_of_day);
PG_FUNCTION_INFO_V1(traffic_hour_of_week);

/* ------------------------------------------------------------ the walk */

/*
 * Buckets that contain quarters first_quarter .. end_quarter - 1 of the
 * parts, read in their order.
 */
void
hour_iter_init_parts(HourIter *iter, HourPart *parts, int nparts, pg_tz *tz,
					 int64 first_quarter, int64 end_quarter)
{
	TimestampTz start;
	int64		first;
	int64		end;

	/*
	 * The hour's sketch takes rows' durations through sketch_key, whose
	 * table traffic_create fills: a report straight from a rollup's bytes
	 * may be the first thing a backend does with a duration.
	 */
	sketch_prepare_tables();
	iter->parts = parts;
	iter->nparts = nparts;
	iter->part = 0;
	iter->part_open = false;
	iter->tz = tz;
	iter->cxt = CurrentMemoryContext;
	iter->stream = NULL;
	iter->detoasted = NULL;
	iter->span.from = iter->span.until = 0;
	iter->minutes_dirty = true;
	iter->dirty_minutes = MAX_BUCKET_MINUTES;
	iter->to_last_row = false;
	if (first_quarter >= end_quarter)
	{
		iter->next_quarter = iter->end_quarter = 0;
		return;
	}
	bucket_of_quarter(first_quarter, tz, &start, &first, &end);
	iter->next_quarter = first;
	iter->end_quarter = end_quarter;
}

/* Buckets that contain quarters first_quarter .. end_quarter - 1. */
void
hour_iter_init(HourIter *iter, Traffic *traffic, pg_tz *tz,
			   int64 first_quarter, int64 end_quarter)
{
	iter->single.traffic = traffic;
	iter->single.flat = (Datum) 0;
	iter->single.first_quarter = PG_INT64_MIN;
	iter->single.end_quarter = PG_INT64_MAX;
	hour_iter_init_parts(iter, &iter->single, 1, tz, first_quarter, end_quarter);
}

/*
 * Every bucket from the first to the last quarter with rows of a traffic
 * argument.  A flat one in today's format is read from its bytes, as a
 * rollup's are: built, its sketches could take a hundred times the memory
 * its bytes take.
 */
void
hour_iter_init_datum(HourIter *iter, Datum datum, pg_tz *tz)
{
	int64		first;
	int64		last;

	iter->single.traffic = NULL;
	iter->single.flat = (Datum) 0;
	iter->single.first_quarter = PG_INT64_MIN;
	iter->single.end_quarter = PG_INT64_MAX;
	if (VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(datum)))
		iter->single.traffic = (Traffic *) DatumGetEOHP(datum);
	else
	{
		struct varlena *flat = PG_DETOAST_DATUM(datum);

		/*
		 * Read from its bytes up to its last quarter, which only reading
		 * them all would tell: the walk ends once the bytes are read.
		 */
		if (traffic_flat_first_quarter(flat, &first))
		{
			iter->single.flat = PointerGetDatum(flat);
			hour_iter_init_parts(iter, &iter->single, 1, tz, first, PG_INT64_MAX);
			iter->to_last_row = true;
			return;
		}
		iter->single.traffic = traffic_parse(VARDATA_ANY(flat), VARSIZE_ANY_EXHDR(flat),
											 ERRCODE_DATA_CORRUPTED, CurrentMemoryContext);
	}
	if (traffic_is_empty(iter->single.traffic))
	{
		hour_iter_init_parts(iter, &iter->single, 1, tz, 0, 0);
		return;
	}
	traffic_quarter_range(iter->single.traffic, &first, &last);
	hour_iter_init_parts(iter, &iter->single, 1, tz, first, last + 1);
}

static inline void
add_minute(HourStats *hour, int64 minute, int64 requests, int64 busy_us)
{
	int64		i = minute - hour->first_minute;

	Assert(i >= 0 && i < hour->minutes);
	traffic_add_count(&hour->minute_requests[i], requests, "request count");
	traffic_add_count(&hour->minute_busy_us[i], busy_us, "busy time");
	traffic_add_count(&hour->requests, requests, "request count");
	traffic_add_count(&hour->busy_us, busy_us, "busy time");
}

/* One row, of a value or of a stream. */
static inline void
add_row(HourStats *hour, int64 minute, bool is_error, bool has_duration,
		double duration_ms, MemoryContext cxt)
{
	add_minute(hour, minute, 1, has_duration ? duration_us(duration_ms) : 0);
	if (is_error)
		traffic_add_count(&hour->errors, 1, "error count");
	if (has_duration)
	{
		traffic_add_count(&hour->with_duration, 1, "duration count");
		hour->max_ms = Max(hour->max_ms, duration_ms);
		sketch_add(&hour->sketch, duration_ms, cxt);
	}
}

/* One summary, of a value or of a stream. */
static void
add_summary(HourStats *hour, const TrafficQuarter *q, MemoryContext cxt)
{
	int			m;

	for (m = 0; m < MINUTES_PER_QUARTER; m++)
		if (q->minutes[m].requests > 0)
			add_minute(hour, q->quarter * MINUTES_PER_QUARTER + m,
					   q->minutes[m].requests, q->minutes[m].busy_us);
	traffic_add_count(&hour->errors, q->errors, "error count");
	traffic_add_count(&hour->with_duration, q->with_duration, "duration count");
	hour->max_ms = Max(hour->max_ms, q->max_ms);
	sketch_merge(&hour->sketch, &q->sketch, cxt);
}

/* The most busy time the rows of one quarter can add up to. */
#define QUARTER_ROWS_MAX_BUSY_US \
	((int64) (SUMMARY_MIN_ROWS * TRAFFIC_MAX_DURATION_MS * 1000.0))

/*
 * The rows of the quarter a stream just read: a one-function report over a
 * rollup is mostly these.  A quarter keeps fewer than SUMMARY_MIN_ROWS rows,
 * none longer than TRAFFIC_MAX_DURATION_MS, so while the hour's totals are
 * that far from the top of int64 no sum they enter can overflow (errors,
 * durations and every minute are parts of the totals): they are added
 * without a check a row.  Otherwise row by row, with the checks.
 */
static void
add_stream_rows(HourStats *hour, const TrafficStream *stream, MemoryContext cxt)
{
	int64		base = stream->quarter * MINUTES_PER_QUARTER - hour->first_minute;
	int64		errors = 0;
	int64		with_duration = 0;
	int64		busy_us = 0;
	double		max_ms = hour->max_ms;
	int			i;

	if (hour->requests > PG_INT64_MAX - SUMMARY_MIN_ROWS ||
		hour->busy_us > PG_INT64_MAX - QUARTER_ROWS_MAX_BUSY_US)
	{
		for (i = 0; i < stream->nrows; i++)
			add_row(hour, stream->quarter * MINUTES_PER_QUARTER + stream->rows[i].minute,
					stream->rows[i].is_error, stream->rows[i].has_duration,
					stream->rows[i].duration_ms, cxt);
		return;
	}
	Assert(base >= 0 && base + MINUTES_PER_QUARTER <= hour->minutes);
	/* in locals: the sketch's stores could alias the hour's fields */
	for (i = 0; i < stream->nrows; i++)
	{
		const StreamRow *row = &stream->rows[i];
		int64		m = base + row->minute;

		hour->minute_requests[m]++;
		errors += row->is_error;
		if (row->has_duration)
		{
			int64		us = duration_us(row->duration_ms);

			hour->minute_busy_us[m] += us;
			busy_us += us;
			with_duration++;
			max_ms = Max(max_ms, row->duration_ms);
			sketch_add(&hour->sketch, row->duration_ms, cxt);
		}
	}
	hour->requests += stream->nrows;
	hour->errors += errors;
	hour->with_duration += with_duration;
	hour->busy_us += busy_us;
	hour->max_ms = max_ms;
}

/*
 * Add what a value part has in quarters [from, end) to the hour, skipping
 * what lies before from (before the first bucket, or the part's clip);
 * true when nothing of the part that counts is left.
 */
static bool
add_value_part(HourIter *iter, HourStats *hour, const HourPart *part,
			   int64 from, int64 end)
{
	Traffic    *traffic = part->traffic;
	int64		stop = Min(end, part->end_quarter);

	from = Max(from, part->first_quarter);
	for (; iter->summary < traffic->nquarters &&
		 traffic->quarters[iter->summary].quarter < stop; iter->summary++)
	{
		TrafficQuarter *q = &traffic->quarters[iter->summary];

		if ((iter->summary & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		if (q->quarter >= from)
			add_summary(hour, q, iter->cxt);
	}
	for (; iter->row < traffic->nrows; iter->row++)
	{
		TrafficRow *row = &traffic->rows[iter->row];
		int64		quarter = row_quarter(row);

		if ((iter->row & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		if (quarter >= stop)
			break;
		if (quarter >= from)
			add_row(hour, row_minute(row), (row->key & ROW_ERROR) != 0,
					(row->key & ROW_DURATION) != 0, row_duration(row), iter->cxt);
	}
	return (iter->summary >= traffic->nquarters ||
			traffic->quarters[iter->summary].quarter >= part->end_quarter) &&
		(iter->row >= traffic->nrows ||
		 row_quarter(&traffic->rows[iter->row]) >= part->end_quarter);
}

/*
 * Add what a flat part has in quarters [from, end) to the hour, straight
 * from its bytes; true when nothing of the part that counts is left.
 */
static bool
add_flat_part(HourIter *iter, HourStats *hour, const HourPart *part,
			  int64 from, int64 end)
{
	TrafficStream *stream = iter->stream;

	from = Max(from, part->first_quarter);
	for (;;)
	{
		int64		quarter = iter->pending;

		if (quarter >= part->end_quarter)
			return true;
		if (quarter >= end)
			return false;
		traffic_stream_read(stream);
		if (quarter >= from && stream->is_summary)
			add_summary(hour, &stream->summary, iter->cxt);
		else if (quarter >= from)
			add_stream_rows(hour, stream, iter->cxt);
		iter->pending = traffic_stream_peek(stream);
	}
}

/*
 * Start reading a part: a value is normalized; a flat one is detoasted and
 * streamed, unless it is in an older format, which is parsed into a value.
 */
static void
open_part(HourIter *iter, HourPart *part)
{
	iter->summary = 0;
	iter->row = 0;
	iter->detoasted = NULL;
	if (part->traffic == NULL)
	{
		struct varlena *flat = PG_DETOAST_DATUM(part->flat);

		if (flat != (struct varlena *) DatumGetPointer(part->flat))
			iter->detoasted = flat;
		if (iter->stream == NULL)
			iter->stream = MemoryContextAlloc(iter->cxt, sizeof(TrafficStream));
		if (traffic_stream_begin(iter->stream, VARDATA_ANY(flat),
								 VARSIZE_ANY_EXHDR(flat), ERRCODE_DATA_CORRUPTED))
			iter->pending = traffic_stream_peek(iter->stream);
		else
			part->traffic = traffic_parse(VARDATA_ANY(flat), VARSIZE_ANY_EXHDR(flat),
										  ERRCODE_DATA_CORRUPTED, iter->cxt);
	}
	if (part->traffic != NULL)
		traffic_normalize(part->traffic);
	iter->part_open = true;
}

/* Done with a part: its detoasted bytes are freed at once, for the next. */
static void
close_part(HourIter *iter)
{
	if (iter->detoasted != NULL)
		pfree(iter->detoasted);
	iter->detoasted = NULL;
	iter->part_open = false;
	iter->part++;
}

/* Add what the parts have in the bucket [first, end) to the hour. */
static void
add_parts(HourIter *iter, HourStats *hour, int64 first, int64 end)
{
	while (iter->part < iter->nparts)
	{
		HourPart   *part = &iter->parts[iter->part];
		bool		done;

		CHECK_FOR_INTERRUPTS();
		if (!iter->part_open)
			open_part(iter, part);
		if (part->traffic != NULL)
			done = add_value_part(iter, hour, part, first, end);
		else
			done = add_flat_part(iter, hour, part, first, end);
		if (!done)
			return;
		close_part(iter);
	}
}

/* The next bucket's figures; false after the last one. */
bool
hour_iter_next(HourIter *iter, HourStats *hour)
{
	int64		first = iter->next_quarter;
	int64		end;
	int32		i;

	CHECK_FOR_INTERRUPTS();
	if (first >= iter->end_quarter ||
		(iter->to_last_row && iter->part >= iter->nparts))
		return false;

	end = bucket_walk(&iter->span, first, iter->tz, &hour->start);
	iter->next_quarter = end;

	hour->first_minute = first * MINUTES_PER_QUARTER;
	hour->minutes = (int32) (end - first) * MINUTES_PER_QUARTER;
	hour->requests = hour->errors = hour->with_duration = 0;
	hour->busy_us = hour->peak_rpm = hour->peak_minute_busy_us = 0;
	hour->max_ms = 0.0;
	/*
	 * The minutes are all zero again unless the last bucket had rows, and
	 * then only its minutes need clearing (an hour, not the longest bucket).
	 */
	if (iter->minutes_dirty)
	{
		memset(hour->minute_requests, 0, sizeof(int64) * iter->dirty_minutes);
		memset(hour->minute_busy_us, 0, sizeof(int64) * iter->dirty_minutes);
		sketch_reset(&hour->sketch);
		iter->minutes_dirty = false;
	}

	add_parts(iter, hour, first, end);

	if (hour->requests > 0)
	{
		iter->minutes_dirty = true;
		iter->dirty_minutes = hour->minutes;
		for (i = 0; i < hour->minutes; i++)
		{
			hour->peak_rpm = Max(hour->peak_rpm, hour->minute_requests[i]);
			hour->peak_minute_busy_us = Max(hour->peak_minute_busy_us,
											hour->minute_busy_us[i]);
		}
	}
	return true;
}

/* ------------------------------------------------------ hourly_requests */

/*
 * The key of the bin that holds rank ceil(fraction * total) of a sketch of
 * total durations, none of them zero at that rank, found from the top bin
 * down: the bin b with cum(b - 1) < rank <= cum(b), as a walk up finds it.
 */
static int32
rank_key_from_top(const Sketch *sketch, uint64 total, uint64 rank)
{
	const uint32 *bins = sketch->bins + (sketch->lo - sketch->base);
	uint64		above = 0;		/* durations in the bins above j */
	int32		j = sketch->nbins - 1;

	while (j > 0 && above + bins[j] <= total - rank)
		above += bins[j--];
	return sketch->lo + j;
}

/*
 * The hour's p50, p95 and p99, exactly what sketch_quantiles answers (the
 * rank percentile_disc picks, and the representative of its bin), cheaper:
 * the total is the hour's duration count (every duration is in the sketch,
 * so no pass to add up the bins), p50 is found from the bottom and p95 and
 * p99 from the top, so a report touches half of each hour's bins instead
 * of every bin twice.
 */
static void
hour_quantiles(const HourStats *hour, double *quantiles)
{
	static const double fractions[3] = {0.50, 0.95, 0.99};
	const Sketch *sketch = &hour->sketch;
	uint64		total = (uint64) hour->with_duration;
	int			k;

	Assert(total > 0 && total == sketch_total(sketch));
	for (k = 0; k < 3; k++)
	{
		uint64		rank = (uint64) ceil(fractions[k] * (double) total);

		rank = Max(rank, 1);
		rank = Min(rank, total);
		if (sketch->zero_count >= rank)
			quantiles[k] = 0.0;
		else if (k > 0)
			quantiles[k] = sketch_key_value(rank_key_from_top(sketch, total, rank));
		else
		{
			const uint32 *bins = sketch->bins + (sketch->lo - sketch->base);
			uint64		seen = sketch->zero_count;
			int32		i = 0;

			/* the bins add up to total, so the walk stops at rank */
			while (seen < rank && i < sketch->nbins)
				seen += bins[i++];
			quantiles[k] = sketch_key_value(sketch->lo + i - 1);
		}
	}
}

static void
put_hourly_row(ReturnSetInfo *rsinfo, HourStats *hour)
{
	Datum		values[11];
	bool		nulls[11] = {false};

	values[0] = TimestampTzGetDatum(hour->start);
	values[1] = Int64GetDatum(hour->requests);
	values[2] = Int64GetDatum(hour->errors);
	values[3] = Float8GetDatum(hour->requests > 0 ?
							   (double) hour->errors / (double) hour->requests : 0.0);
	if (hour->with_duration > 0)
	{
		double		quantiles[3];

		/* A bin's representative may exceed the longest duration seen. */
		hour_quantiles(hour, quantiles);
		values[4] = Float8GetDatum(Min(quantiles[0], hour->max_ms));
		values[5] = Float8GetDatum(Min(quantiles[1], hour->max_ms));
		values[6] = Float8GetDatum(Min(quantiles[2], hour->max_ms));
		values[7] = Float8GetDatum(hour->max_ms);
	}
	else
		nulls[4] = nulls[5] = nulls[6] = nulls[7] = true;
	values[8] = Int64GetDatum(hour->peak_rpm);
	/* Little's law: busy time over the whole bucket's length. */
	values[9] = Float8GetDatum((double) hour->busy_us /
							   ((double) hour->minutes * USECS_PER_MINUTE));
	values[10] = Float8GetDatum((double) hour->peak_minute_busy_us /
								(double) USECS_PER_MINUTE);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

static void
emit_hourly_rows(FunctionCallInfo fcinfo, HourIter *iter)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HourStats  *hour = palloc0(sizeof(HourStats));

	InitMaterializedSRF(fcinfo, 0);
	while (hour_iter_next(iter, hour))
		put_hourly_row(rsinfo, hour);
}

/* hourly_requests(t scaler.traffic) */
Datum
traffic_hourly_requests(PG_FUNCTION_ARGS)
{
	HourIter	iter;

	hour_iter_init_datum(&iter, PG_GETARG_DATUM(0),
						 citus_checked_timezone("scaler.hourly_requests"));
	emit_hourly_rows(fcinfo, &iter);
	return (Datum) 0;
}

/*
 * hourly_requests(since, until, function_name, source): every bucket that
 * overlaps [since, until), the rows of [since, until) in them.  An hour cut
 * by since or until still reports its concurrency over the whole hour, as
 * hourly_requests of the same rows' traffic_agg does.
 */
Datum
source_hourly_requests(PG_FUNCTION_ARGS)
{
	TimestampTz since;
	TimestampTz until;
	text	   *function_name = PG_ARGISNULL(2) ? NULL : PG_GETARG_TEXT_PP(2);
	Oid			source;
	HourPart   *parts;
	int			nparts;
	HourIter	iter;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("since, until and source must not be null")));
	since = PG_GETARG_TIMESTAMPTZ(0);
	until = PG_GETARG_TIMESTAMPTZ(1);
	source = PG_GETARG_OID(3);
	source_check_report_range(since, until);

	parts = source_hour_parts(source, since, until, function_name, &nparts);
	hour_iter_init_parts(&iter, parts, nparts,
						 citus_checked_timezone("scaler.hourly_requests"),
						 quarter_of(since), quarter_of(until - 1) + 1);
	emit_hourly_rows(fcinfo, &iter);
	return (Datum) 0;
}

/* ------------------------------------------------ hour_of_day / _week */

typedef struct HourOfCycle
{
	int32		days;
	int64		requests;
	int64		peak;
} HourOfCycle;

/*
 * The first quarter at or after the walk's in which a part may have rows,
 * or PG_INT64_MAX when none has: the buckets before it are empty.  Parts
 * with nothing left are closed, as add_parts would close them.
 */
static int64
hour_iter_next_rows(HourIter *iter)
{
	while (iter->part < iter->nparts)
	{
		HourPart   *part = &iter->parts[iter->part];
		int64		quarter;

		if (!iter->part_open)
			open_part(iter, part);
		if (part->traffic != NULL)
		{
			Traffic    *traffic = part->traffic;

			quarter = PG_INT64_MAX;
			if (iter->summary < traffic->nquarters)
				quarter = traffic->quarters[iter->summary].quarter;
			if (iter->row < traffic->nrows)
				quarter = Min(quarter, row_quarter(&traffic->rows[iter->row]));
		}
		else
			quarter = iter->pending;
		if (quarter < part->end_quarter)
			return Max(quarter, part->first_quarter);
		close_part(iter);
	}
	return PG_INT64_MAX;
}

/*
 * Count the empty buckets before the next one with rows in the days of
 * their slots, a stretch of constant offset at a time (its buckets follow
 * each other an hour apart, each in the slot after the last), so that a
 * value with years between its rows costs what its rows cost, not a step
 * per hour between them.
 */
static void
count_empty_buckets(HourIter *iter, HourOfCycle *cycle, bool weekly)
{
	int			ncycle = weekly ? 7 * 24 : 24;
	int64		rows_from = hour_iter_next_rows(iter);
	int64		limit;

	/* after the last rows of a value read to its end, the walk ends */
	if (rows_from == PG_INT64_MAX && iter->to_last_row)
		return;
	limit = Min(rows_from, iter->end_quarter);
	while (iter->next_quarter < limit)
	{
		TimestampTz start;
		int64		n;
		int64		end;

		CHECK_FOR_INTERRUPTS();
		n = bucket_run(&iter->span, iter->next_quarter, limit, iter->tz, &start, &end);
		if (n > 0)
		{
			int			slot = cycle_slot(start, iter->tz, weekly);
			int			i;

			for (i = 0; i < ncycle; i++)
				cycle[(slot + i) % ncycle].days += (int32) (n / ncycle +
															(i < n % ncycle ? 1 : 0));
			iter->next_quarter = end;
			continue;
		}
		/* near a transition: one bucket, as the walk takes it */
		end = bucket_walk(&iter->span, iter->next_quarter, iter->tz, &start);
		if (end > limit)
			break;				/* it holds rows: the walk's */
		cycle[cycle_slot(start, iter->tz, weekly)].days++;
		iter->next_quarter = end;
	}
}

static void
emit_hour_of_cycle(FunctionCallInfo fcinfo, bool weekly)
{
	pg_tz	   *tz = citus_checked_timezone(weekly ? "scaler.hour_of_week" :
											"scaler.hour_of_day");
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HourOfCycle cycle[7 * 24];
	int			ncycle = weekly ? 7 * 24 : 24;
	HourStats  *hour = palloc0(sizeof(HourStats));
	HourIter	iter;
	int			i;

	memset(cycle, 0, sizeof(cycle));
	hour_iter_init_datum(&iter, PG_GETARG_DATUM(0), tz);
	for (;;)
	{
		HourOfCycle *c;

		count_empty_buckets(&iter, cycle, weekly);
		if (!hour_iter_next(&iter, hour))
			break;
		c = &cycle[cycle_slot(hour->start, tz, weekly)];
		c->days++;
		traffic_add_count(&c->requests, hour->requests, "request count");
		c->peak = Max(c->peak, hour->requests);
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
