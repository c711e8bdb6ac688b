/*-------------------------------------------------------------------------
 *
 * traffic.c
 *	  The scaler.traffic type in memory: quarters kept as rows or as
 *	  summaries, counting a row, merging two values, and putting a value in
 *	  canonical order.
 *
 * The flat form and the SQL I/O functions are in traffic_io.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/float.h"
#include "utils/memutils.h"

#include "traffic.h"

/* Rows a value holds before it first folds busy quarters into summaries. */
#define INITIAL_ROWS		32
#define INITIAL_QUARTERS	4

static Size traffic_get_flat_size(ExpandedObjectHeader *eohptr);
static void traffic_flatten_into(ExpandedObjectHeader *eohptr,
								 void *result, Size allocated_size);

static const ExpandedObjectMethods traffic_methods = {
	traffic_get_flat_size,
	traffic_flatten_into
};

void
traffic_overflow(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("scaler.traffic %s out of range", what),
			 errdetail("A quarter hour of a traffic value cannot count more than 2^63 - 1.")));
}

/* Reject a duration the value cannot hold: not finite, negative or huge. */
void
traffic_check_duration(double duration_ms)
{
	if (isnan(duration_ms) || isinf(duration_ms) || duration_ms < 0.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid duration_ms %s", float8out_internal(duration_ms)),
				 errdetail("Durations must be finite and not negative.")));
	if (duration_ms > TRAFFIC_MAX_DURATION_MS)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("duration_ms %s is out of range for scaler.traffic",
						float8out_internal(duration_ms)),
				 errdetail("Durations must not exceed %.0f milliseconds (about 31 years).",
						   TRAFFIC_MAX_DURATION_MS)));
}

/*
 * A new empty value.  Each value has its own small memory context: a
 * GROUP BY over thousands of rare functions holds thousands of them.
 */
Traffic *
traffic_create(MemoryContext parent)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "scaler traffic",
											  ALLOCSET_SMALL_SIZES);
	Traffic    *traffic = MemoryContextAllocZero(cxt, sizeof(Traffic));

	sketch_prepare_tables();
	EOH_init_header(&traffic->hdr, &traffic_methods, cxt);
	traffic->normalized = true;
	return traffic;
}

bool
traffic_is_empty(Traffic *traffic)
{
	return traffic->nquarters == 0 && traffic->nrows == 0;
}

/* ------------------------------------------------------------ summaries */

static inline uint32
quarter_hash(int64 quarter)
{
	uint64		h = (uint64) quarter * UINT64CONST(0x9E3779B97F4A7C15);

	return (uint32) (h >> 32);
}

static void
index_rebuild(Traffic *traffic, int32 size)
{
	int32		i;

	if (traffic->index != NULL)
		pfree(traffic->index);
	traffic->index = MemoryContextAlloc(traffic->hdr.eoh_context,
										sizeof(int32) * size);
	memset(traffic->index, 0xff, sizeof(int32) * size);
	traffic->index_size = size;
	for (i = 0; i < traffic->nquarters; i++)
	{
		uint32		slot = quarter_hash(traffic->quarters[i].quarter) & (size - 1);

		while (traffic->index[slot] >= 0)
			slot = (slot + 1) & (size - 1);
		traffic->index[slot] = i;
	}
}

/* The summary of a quarter, or NULL. */
static TrafficQuarter *
find_summary(Traffic *traffic, int64 quarter)
{
	uint32		slot;

	if (traffic->index_size == 0)
		return NULL;
	slot = quarter_hash(quarter) & (traffic->index_size - 1);
	for (;;)
	{
		int32		pos = traffic->index[slot];

		if (pos < 0)
			return NULL;
		if (traffic->quarters[pos].quarter == quarter)
			return &traffic->quarters[pos];
		slot = (slot + 1) & (traffic->index_size - 1);
	}
}

/* The summary of a quarter, created empty if there is none. */
static TrafficQuarter *
get_summary(Traffic *traffic, int64 quarter)
{
	TrafficQuarter *summary = find_summary(traffic, quarter);
	uint32		slot;

	if (summary != NULL)
		return summary;

	if (traffic->nquarters == traffic->quarters_capacity)
	{
		int32		capacity = Max(traffic->quarters_capacity * 2, INITIAL_QUARTERS);

		if ((Size) capacity * sizeof(TrafficQuarter) > MaxAllocHugeSize / 2)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("scaler.traffic value has too many busy quarter hours")));
		if (traffic->quarters == NULL)
			traffic->quarters = MemoryContextAllocHuge(traffic->hdr.eoh_context,
													   sizeof(TrafficQuarter) * capacity);
		else
			traffic->quarters = repalloc_huge(traffic->quarters,
											  sizeof(TrafficQuarter) * capacity);
		traffic->quarters_capacity = capacity;
		/* the minute remembered may have moved */
		traffic->recent_from = traffic->recent_to = 0;
	}
	/* Keep the index at most half full. */
	if ((traffic->nquarters + 1) * 2 > traffic->index_size)
		index_rebuild(traffic, Max(traffic->index_size * 2, INITIAL_QUARTERS * 4));

	summary = &traffic->quarters[traffic->nquarters];
	memset(summary, 0, sizeof(TrafficQuarter));
	summary->quarter = quarter;
	sketch_init(&summary->sketch);
	slot = quarter_hash(quarter) & (traffic->index_size - 1);
	while (traffic->index[slot] >= 0)
		slot = (slot + 1) & (traffic->index_size - 1);
	traffic->index[slot] = traffic->nquarters++;
	traffic->normalized = false;
	return summary;
}

/* Add one summary's counts into another (of the same quarter). */
static void
summary_merge(Traffic *traffic, TrafficQuarter *dst, const TrafficQuarter *src)
{
	int			m;

	for (m = 0; m < MINUTES_PER_QUARTER; m++)
	{
		traffic_add_count(&dst->minutes[m].requests, src->minutes[m].requests,
						  "request count");
		traffic_add_count(&dst->minutes[m].busy_us, src->minutes[m].busy_us,
						  "busy time");
	}
	traffic_add_count(&dst->errors, src->errors, "error count");
	traffic_add_count(&dst->with_duration, src->with_duration, "duration count");
	dst->max_ms = Max(dst->max_ms, src->max_ms);
	sketch_merge(&dst->sketch, &src->sketch, traffic->hdr.eoh_context);
}

/* ------------------------------------------------------------------ rows */

static void
fold_row(Traffic *traffic, TrafficQuarter *summary, const TrafficRow *row)
{
	int64		m = ROW_MINUTE(row->key) - summary->quarter * MINUTES_PER_QUARTER;

	traffic_count_in_summary(traffic, summary, &summary->minutes[m],
							 (row->key & ROW_ERROR) != 0,
							 (row->key & ROW_DURATION) != 0,
							 row->duration_ms);
}

static int
row_cmp(const void *a, const void *b)
{
	const TrafficRow *x = (const TrafficRow *) a;
	const TrafficRow *y = (const TrafficRow *) b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	if (x->duration_ms != y->duration_ms)
		return x->duration_ms < y->duration_ms ? -1 : 1;
	return 0;
}

/*
 * Sort the rows, fold every quarter that has a summary or enough rows for
 * one, and keep the rest as rows.  Afterwards rows are in canonical order.
 */
static void
compact_rows(Traffic *traffic)
{
	int32		kept = 0;
	int32		i = 0;

	qsort(traffic->rows, traffic->nrows, sizeof(TrafficRow), row_cmp);
	while (i < traffic->nrows)
	{
		int64		quarter = row_quarter(&traffic->rows[i]);
		int32		end = i + 1;
		TrafficQuarter *summary;

		CHECK_FOR_INTERRUPTS();
		while (end < traffic->nrows && row_quarter(&traffic->rows[end]) == quarter)
			end++;
		summary = find_summary(traffic, quarter);
		if (summary == NULL && end - i >= SUMMARY_MIN_ROWS)
			summary = get_summary(traffic, quarter);
		if (summary != NULL)
		{
			for (; i < end; i++)
				fold_row(traffic, summary, &traffic->rows[i]);
		}
		else
		{
			memmove(&traffic->rows[kept], &traffic->rows[i],
					sizeof(TrafficRow) * (end - i));
			kept += end - i;
			i = end;
		}
	}
	traffic->nrows = kept;
}

/* Append a row, making room by folding busy quarters first. */
static void
append_row(Traffic *traffic, int64 key, double duration_ms)
{
	if (traffic->nrows == traffic->rows_capacity)
	{
		if (traffic->nrows > 0)
			compact_rows(traffic);
		/* Grow when folding left the array more than half full. */
		if (traffic->nrows * 2 > traffic->rows_capacity ||
			traffic->rows_capacity == 0)
		{
			int32		capacity = Max(traffic->rows_capacity * 2, INITIAL_ROWS);

			if ((Size) capacity * sizeof(TrafficRow) > MaxAllocHugeSize / 2)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("scaler.traffic value has too many rows")));
			if (traffic->rows == NULL)
				traffic->rows = MemoryContextAllocHuge(traffic->hdr.eoh_context,
													   sizeof(TrafficRow) * capacity);
			else
				traffic->rows = repalloc_huge(traffic->rows,
											  sizeof(TrafficRow) * capacity);
			traffic->rows_capacity = capacity;
		}
	}
	traffic->rows[traffic->nrows].key = key;
	traffic->rows[traffic->nrows].duration_ms = duration_ms;
	traffic->nrows++;
	traffic->normalized = false;
}

/*
 * A row outside the minute counted last: count it in its quarter's summary
 * if there is one (and remember that minute), else keep it as a row.
 */
void
traffic_add_row_slow(Traffic *traffic, TimestampTz ts, bool is_error,
					 bool has_duration, double duration_ms)
{
	int64		minute = floor_div(ts, USECS_PER_MINUTE);
	int64		quarter = floor_div(minute, MINUTES_PER_QUARTER);
	TrafficQuarter *summary = find_summary(traffic, quarter);

	if (summary != NULL)
	{
		TrafficMinute *m = &summary->minutes[minute - quarter * MINUTES_PER_QUARTER];

		traffic->recent_from = minute * USECS_PER_MINUTE;
		traffic->recent_to = traffic->recent_from + USECS_PER_MINUTE;
		traffic->recent_quarter = summary;
		traffic->recent_minute = m;
		traffic_count_in_summary(traffic, summary, m, is_error, has_duration,
								 duration_ms);
		traffic->normalized = false;
		return;
	}
	append_row(traffic,
			   (minute << 2) | (has_duration ? ROW_DURATION : 0) |
			   (is_error ? ROW_ERROR : 0),
			   has_duration ? duration_ms : 0.0);
}

/* ---------------------------------------------------------------- merging */

TrafficQuarter *
traffic_find_summary(Traffic *traffic, int64 quarter)
{
	return find_summary(traffic, quarter);
}

TrafficQuarter *
traffic_get_summary(Traffic *traffic, int64 quarter)
{
	return get_summary(traffic, quarter);
}

/* Add a summary (of a quarter that may not be in the value yet). */
void
traffic_merge_summary(Traffic *traffic, const TrafficQuarter *src)
{
	summary_merge(traffic, get_summary(traffic, src->quarter), src);
	traffic->recent_from = traffic->recent_to = 0;
}

/* Add src's rows into dst. */
void
traffic_merge(Traffic *dst, Traffic *src)
{
	int32		i;

	Assert(dst != src);
	for (i = 0; i < src->nquarters; i++)
	{
		const TrafficQuarter *from = &src->quarters[i];

		CHECK_FOR_INTERRUPTS();
		summary_merge(dst, get_summary(dst, from->quarter), from);
	}
	for (i = 0; i < src->nrows; i++)
	{
		const TrafficRow *row = &src->rows[i];
		TrafficQuarter *summary = find_summary(dst, row_quarter(row));

		if ((i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		if (summary != NULL)
			fold_row(dst, summary, row);
		else
			append_row(dst, row->key, row->duration_ms);
	}
	dst->normalized = false;
	dst->recent_from = dst->recent_to = 0;
}

static int
quarter_cmp(const void *a, const void *b)
{
	int64		x = ((const TrafficQuarter *) a)->quarter;
	int64		y = ((const TrafficQuarter *) b)->quarter;

	return (x > y) - (x < y);
}

/*
 * Put the value in canonical order for the readers: summaries sorted by
 * quarter, rows sorted, and no row left in a quarter that has a summary.
 * It changes the representation only, never the content, so it may be done
 * to a read-only object too.
 */
void
traffic_normalize(Traffic *traffic)
{
	if (traffic->normalized)
		return;
	if (traffic->nrows > 0)
		compact_rows(traffic);
	qsort(traffic->quarters, traffic->nquarters, sizeof(TrafficQuarter),
		  quarter_cmp);
	if (traffic->index_size > 0)
		index_rebuild(traffic, traffic->index_size);
	traffic->recent_from = traffic->recent_to = 0;
	traffic->normalized = true;
}

/* The first and last quarter with rows; the value must not be empty. */
void
traffic_quarter_range(Traffic *traffic, int64 *first, int64 *last)
{
	Assert(!traffic_is_empty(traffic));
	traffic_normalize(traffic);
	*first = PG_INT64_MAX;
	*last = PG_INT64_MIN;
	if (traffic->nquarters > 0)
	{
		*first = traffic->quarters[0].quarter;
		*last = traffic->quarters[traffic->nquarters - 1].quarter;
	}
	if (traffic->nrows > 0)
	{
		*first = Min(*first, row_quarter(&traffic->rows[0]));
		*last = Max(*last, row_quarter(&traffic->rows[traffic->nrows - 1]));
	}
}

/* The first minute with rows (from the epoch); the value must not be empty. */
int64
traffic_first_minute(Traffic *traffic)
{
	int64		first = PG_INT64_MAX;

	Assert(!traffic_is_empty(traffic));
	traffic_normalize(traffic);
	if (traffic->nquarters > 0)
	{
		TrafficQuarter *q = &traffic->quarters[0];
		int			m = 0;

		while (m < MINUTES_PER_QUARTER - 1 && q->minutes[m].requests == 0)
			m++;
		first = q->quarter * MINUTES_PER_QUARTER + m;
	}
	if (traffic->nrows > 0)
		first = Min(first, ROW_MINUTE(traffic->rows[0].key));
	return first;
}

/* ------------------------------------------------------ expanded object */

static Size
traffic_get_flat_size(ExpandedObjectHeader *eohptr)
{
	Traffic    *traffic = (Traffic *) eohptr;

	if (traffic->flat.data == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(traffic->hdr.eoh_context);

		initStringInfo(&traffic->flat);
		MemoryContextSwitchTo(old);
	}
	resetStringInfo(&traffic->flat);
	traffic_serialize(traffic, &traffic->flat);
	return VARHDRSZ + traffic->flat.len;
}

static void
traffic_flatten_into(ExpandedObjectHeader *eohptr, void *result,
					 Size allocated_size)
{
	Traffic    *traffic = (Traffic *) eohptr;

	Assert(allocated_size == VARHDRSZ + traffic->flat.len);
	memcpy(VARDATA(result), traffic->flat.data, traffic->flat.len);
	SET_VARSIZE(result, allocated_size);
}

/*
 * Read access to a traffic argument: the object itself when it is already
 * expanded, else a new expanded copy in the current memory context.
 */
Traffic *
traffic_from_datum(Datum datum)
{
	struct varlena *flat;

	if (VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(datum)))
		return (Traffic *) DatumGetEOHP(datum);
	flat = PG_DETOAST_DATUM(datum);
	return traffic_parse(VARDATA_ANY(flat), VARSIZE_ANY_EXHDR(flat),
						 ERRCODE_DATA_CORRUPTED, CurrentMemoryContext);
}

/* A new expanded copy of any traffic datum, owned by parent. */
Traffic *
traffic_copy_into(Datum datum, MemoryContext parent)
{
	struct varlena *flat;

	if (VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(datum)))
	{
		Traffic    *copy = traffic_create(parent);

		traffic_merge(copy, (Traffic *) DatumGetEOHP(datum));
		return copy;
	}
	flat = PG_DETOAST_DATUM(datum);
	return traffic_parse(VARDATA_ANY(flat), VARSIZE_ANY_EXHDR(flat),
						 ERRCODE_DATA_CORRUPTED, parent);
}

Datum
traffic_flat_datum(Traffic *traffic)
{
	Size		size = EOH_get_flat_size(&traffic->hdr);
	void	   *result = palloc(size);

	EOH_flatten_into(&traffic->hdr, result, size);
	return PointerGetDatum(result);
}
