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
/* Row arrays of at least this many rows (8 kB) grow by half, not double. */
#define ROWS_GROW_BY_HALF	512
/*
 * Most rows kept for folding later when their quarters have summaries, and
 * most per summary: a batch folds better the more rows of one quarter it
 * holds, and 16 rows (192 bytes) stay well below a summary's own size.
 */
#define MAX_PENDING_ROWS	65536
#define PENDING_ROWS_PER_SUMMARY	16

static Size traffic_get_flat_size(ExpandedObjectHeader *eohptr);
static void traffic_flatten_into(ExpandedObjectHeader *eohptr,
								 void *result, Size allocated_size);
static void tally_timed_flush(Traffic *traffic);

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
 * A new empty value with its own small memory context, a child of parent:
 * deleting the expanded object deletes that context.
 */
Traffic *
traffic_create(MemoryContext parent)
{
	return traffic_create_in(AllocSetContextCreate(parent, "scaler traffic",
												   ALLOCSET_SMALL_SIZES));
}

/*
 * A new empty value whose memory is allocated in cxt, which it may share
 * with other values: for aggregate states, which live and die with their
 * aggregate's context.  (A context per state would cost a GROUP BY over
 * many groups dearly: hash aggregation totals its memory by walking every
 * child context each time it adds a group.)
 */
Traffic *
traffic_create_in(MemoryContext cxt)
{
	Traffic    *traffic = MemoryContextAllocZero(cxt, sizeof(Traffic));

	sketch_prepare_tables();
	EOH_init_header(&traffic->hdr, &traffic_methods, cxt);
	traffic->normalized = true;
	traffic->last_quarter = PG_INT64_MIN;
	return traffic;
}

/* (a tally is set up only in a value that has rows already) */
bool
traffic_is_empty(Traffic *traffic)
{
	return traffic->nquarters == 0 && traffic->nrows == 0 &&
		traffic->tally == NULL;
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
										sizeof(QuarterSlot) * size);
	for (i = 0; i < size; i++)
		traffic->index[i].pos = -1;
	traffic->index_size = size;
	for (i = 0; i < traffic->nquarters; i++)
	{
		int64		quarter = traffic->quarters[i].quarter;
		uint32		slot = quarter_hash(quarter) & (size - 1);

		while (traffic->index[slot].pos >= 0)
			slot = (slot + 1) & (size - 1);
		traffic->index[slot].quarter = quarter;
		traffic->index[slot].pos = i;
	}
}

/* The position of a quarter's summary, or -1. */
static inline int32
find_position(Traffic *traffic, int64 quarter)
{
	uint32		slot;

	if (traffic->index_size == 0)
		return -1;
	slot = quarter_hash(quarter) & (traffic->index_size - 1);
	for (;;)
	{
		QuarterSlot *entry = &traffic->index[slot];

		if (entry->pos < 0 || entry->quarter == quarter)
			return entry->pos;
		slot = (slot + 1) & (traffic->index_size - 1);
	}
}

/* The summary of a quarter, or NULL. */
TrafficQuarter *
traffic_find_summary(Traffic *traffic, int64 quarter)
{
	int32		pos = find_position(traffic, quarter);

	return pos < 0 ? NULL : &traffic->quarters[pos];
}

/* The summary of a quarter, created empty if there is none. */
TrafficQuarter *
traffic_get_summary(Traffic *traffic, int64 quarter)
{
	TrafficQuarter *summary = traffic_find_summary(traffic, quarter);
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
	while (traffic->index[slot].pos >= 0)
		slot = (slot + 1) & (traffic->index_size - 1);
	traffic->index[slot].quarter = quarter;
	traffic->index[slot].pos = traffic->nquarters++;
	traffic->normalized = false;
	return summary;
}

/* Add one summary's counts into another (of the same quarter). */
static void
summary_merge(Traffic *traffic, TrafficQuarter *dst, const TrafficQuarter *src)
{
	int64		total = quarter_requests(dst);
	int			m;

	traffic_add_count(&total, quarter_requests(src), "request count");
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

/* ----------------------------------------------------------------- tally */

/*
 * A tally costs 2 bytes a minute, a kept row 12: over a span with at least
 * one plain row (no duration, no error) every TALLY_MINUTES_PER_ROW
 * minutes, a tally costs no more than its rows would.
 */
#define TALLY_MINUTES_PER_ROW	6
/* The longest tally (MaxAllocSize: about 1,000 years). */
#define TALLY_MAX_MINUTES		(MaxAllocSize / sizeof(TallyCount))

/*
 * The timed part costs 8 bytes a minute (besides the tally's 2), so it
 * needs a timed row every TIMED_MINUTES_PER_ROW minutes of the span: 20
 * bytes a row at most, against 12 for a row buffered for a fold and as
 * much again for sorting it.  A slot costs a byte per sketch key, 1 kB at
 * most, for a summary of SUMMARY_MIN_ROWS rows at least: 16 bytes a row.
 */
#define TIMED_MINUTES_PER_ROW	2

/* The summary of a slot of the timed part. */
static inline TrafficQuarter *
slot_summary(Traffic *traffic, int32 slot)
{
	return &traffic->quarters[traffic->timed.slot_pos[slot]];
}

/*
 * Whether nslots slots of nkeys bins each are all found by a 32-bit offset,
 * as TallyPending keeps them.
 */
static inline bool
timed_bins_reachable(int64 nslots, uint32 nkeys)
{
	return (uint64) nslots * nkeys <= PG_UINT32_MAX;
}

/*
 * Give a slot of the timed part to every summary in the tally's span that
 * has none, so that its rows are counted there from now on.  Summaries
 * only ever join the end of the array (until traffic_normalize, which
 * flushes the tally first), so positions seen before need no second look.
 */
static void
tally_timed_add_slots(Traffic *traffic)
{
	int64		first_quarter = traffic->tally_from / (USECS_PER_MINUTE * MINUTES_PER_QUARTER);
	int64		nquarters = traffic->tally_span / (USECS_PER_MINUTE * MINUTES_PER_QUARTER);
	int32		pos;

	for (pos = traffic->timed.scanned; pos < traffic->nquarters; pos++)
	{
		int64		q = traffic->quarters[pos].quarter - first_quarter;

		if ((pos & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		if (q < 0 || q >= nquarters || traffic->timed.slot_of[q] >= 0)
			continue;
		/* (bins are found by a 32-bit offset; past that, rows stay rows) */
		if (!timed_bins_reachable(traffic->timed.nslots + 1, traffic->timed.nkeys))
			break;
		if (traffic->timed.nslots == traffic->timed.slots_capacity)
		{
			int32		capacity = traffic->timed.slots_capacity * 2;

			traffic->timed.slot_pos = repalloc_huge(traffic->timed.slot_pos,
													sizeof(int32) * capacity);
			traffic->timed.max_ms = repalloc_huge(traffic->timed.max_ms,
												  sizeof(double) * capacity);
			traffic->timed.bins = repalloc_huge(traffic->timed.bins,
												(Size) capacity * traffic->timed.nkeys);
			traffic->timed.slots_capacity = capacity;
		}
		traffic->timed.slot_of[q] = traffic->timed.nslots;
		traffic->timed.slot_pos[traffic->timed.nslots] = pos;
		traffic->timed.max_ms[traffic->timed.nslots] = 0.0;
		memset(&traffic->timed.bins[(Size) traffic->timed.nslots * traffic->timed.nkeys],
			   0, traffic->timed.nkeys);
		traffic->timed.nslots++;
	}
	traffic->timed.scanned = traffic->nquarters;
}

/*
 * Lay the timed part out over the tally's span, which may have grown from
 * old_minutes minutes starting at minute old_from, and over sketch keys
 * key_lo .. key_hi, which must include the keys of the timed part there is,
 * if any: what it counted so far is moved, not flushed.
 */
static void
tally_timed_layout(Traffic *traffic, int64 old_from, int64 old_minutes,
				   int32 key_lo, int32 key_hi)
{
	MemoryContext cxt = traffic->hdr.eoh_context;
	int64		from = traffic->tally_from / USECS_PER_MINUTE;
	int64		minutes = traffic->tally_span / USECS_PER_MINUTE;
	uint32		nkeys = (uint32) (key_hi - key_lo + 1);
	TallyMinute *counts;
	int32	   *slot_of;

	Assert(traffic->tally != NULL);
	Assert(key_hi >= key_lo && key_hi - key_lo < SKETCH_MAX_BINS);

	/*
	 * tally_timed_add_slots keeps every slot's bins reachable for the keys
	 * of the day; more keys could take the slots there are out of reach, so
	 * those are counted out and the part starts anew.
	 */
	if (traffic->timed.nkeys > 0 &&
		!timed_bins_reachable(traffic->timed.nslots, nkeys))
		tally_timed_flush(traffic);

	counts = MemoryContextAllocExtended(cxt, sizeof(TallyMinute) * minutes,
										MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	slot_of = MemoryContextAllocHuge(cxt, sizeof(int32) * (minutes / MINUTES_PER_QUARTER));
	memset(slot_of, -1, sizeof(int32) * (minutes / MINUTES_PER_QUARTER));

	if (traffic->timed.nkeys == 0)
	{
		traffic->timed.slots_capacity = 64;
		traffic->timed.slot_pos = MemoryContextAlloc(cxt, sizeof(int32) * 64);
		traffic->timed.max_ms = MemoryContextAlloc(cxt, sizeof(double) * 64);
		traffic->timed.bins = MemoryContextAlloc(cxt, (Size) 64 * nkeys);
		traffic->timed.pending = MemoryContextAlloc(cxt, sizeof(TallyPending) * TALLY_PENDING_ROWS);
		traffic->timed.npending = 0;
		traffic->timed.nslots = 0;
	}
	else
	{
		/* pending rows are in the span and bins as they are laid out now */
		traffic_tally_count_pending(traffic);
		Assert(old_from >= from && old_from + old_minutes <= from + minutes);
		memcpy(&counts[old_from - from], traffic->timed.minutes,
			   sizeof(TallyMinute) * old_minutes);
		memcpy(&slot_of[(old_from - from) / MINUTES_PER_QUARTER],
			   traffic->timed.slot_of,
			   sizeof(int32) * (old_minutes / MINUTES_PER_QUARTER));
		pfree(traffic->timed.minutes);
		pfree(traffic->timed.slot_of);
		if (key_lo != traffic->timed.key_lo || nkeys != traffic->timed.nkeys)
		{
			uint8	   *bins = MemoryContextAllocExtended(cxt,
														  (Size) traffic->timed.slots_capacity * nkeys,
														  MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
			int32		shift = traffic->timed.key_lo - key_lo;
			int32		slot;

			Assert(shift >= 0 && shift + traffic->timed.nkeys <= nkeys);
			for (slot = 0; slot < traffic->timed.nslots; slot++)
			{
				if ((slot & 1023) == 0)
					CHECK_FOR_INTERRUPTS();
				memcpy(&bins[(Size) slot * nkeys + shift],
					   &traffic->timed.bins[(Size) slot * traffic->timed.nkeys],
					   traffic->timed.nkeys);
			}
			pfree(traffic->timed.bins);
			traffic->timed.bins = bins;
		}
	}
	traffic->timed.minutes = counts;
	traffic->timed.slot_of = slot_of;
	traffic->timed.key_lo = key_lo;
	traffic->timed.nkeys = nkeys;
	/* the span moved: every summary may be in it now */
	traffic->timed.scanned = 0;
	tally_timed_add_slots(traffic);
}

/*
 * Add what the timed part counted (requests, busy time, durations) to the
 * summaries, and drop it; the tally's own counts stay.
 */
static void
tally_timed_flush(Traffic *traffic)
{
	int64		first_minute = traffic->tally_from / USECS_PER_MINUTE;
	int32		slot;

	if (traffic->timed.nkeys == 0)
		return;
	traffic_tally_count_pending(traffic);
	for (slot = 0; slot < traffic->timed.nslots; slot++)
	{
		TrafficQuarter *summary = slot_summary(traffic, slot);
		const uint8 *bins = &traffic->timed.bins[(Size) slot * traffic->timed.nkeys];
		const TallyMinute *counts = &traffic->timed.minutes[summary->quarter * MINUTES_PER_QUARTER - first_minute];
		uint64		counted;
		int			m;

		if ((slot & 255) == 0)
			CHECK_FOR_INTERRUPTS();
		counted = sketch_add_counts(&summary->sketch, traffic->timed.key_lo,
									bins, traffic->timed.nkeys,
									traffic->hdr.eoh_context);
		traffic_add_count(&summary->with_duration, (int64) counted, "duration count");
		summary->max_ms = Max(summary->max_ms, traffic->timed.max_ms[slot]);
		for (m = 0; m < MINUTES_PER_QUARTER; m++)
		{
			traffic_add_count(&summary->minutes[m].requests, counts[m].requests,
							  "request count");
			traffic_add_count(&summary->minutes[m].busy_us, counts[m].busy_us,
							  "busy time");
		}
	}
	pfree(traffic->timed.minutes);
	pfree(traffic->timed.slot_of);
	pfree(traffic->timed.slot_pos);
	pfree(traffic->timed.max_ms);
	pfree(traffic->timed.bins);
	pfree(traffic->timed.pending);
	memset(&traffic->timed, 0, sizeof(traffic->timed));
	traffic->normalized = false;
}

/*
 * A minute of the timed part would count more than 2^32 - 1 rows or
 * microseconds with the row being counted: the row and what the minute
 * counted so far (busy_us, with the row's) go to its summary.
 */
static void
tally_minute_spill(Traffic *traffic, uint32 minute, uint64 busy_us)
{
	int32		slot = traffic->timed.slot_of[minute / MINUTES_PER_QUARTER];
	TrafficMinute *to = &slot_summary(traffic, slot)->minutes[minute % MINUTES_PER_QUARTER];
	TallyMinute *counts = &traffic->timed.minutes[minute];

	traffic_add_count(&to->requests, (int64) counts->requests + 1, "request count");
	traffic_add_count(&to->busy_us, (int64) busy_us, "busy time");
	counts->requests = 0;
	counts->busy_us = 0;
}

/* A byte of a slot's bins wrapped to 0: its 256 durations go to the sketch. */
static void
tally_bin_wrapped(Traffic *traffic, int32 slot, uint32 bin)
{
	TrafficQuarter *summary = slot_summary(traffic, slot);
	int32		key = traffic->timed.key_lo + (int32) (bin % traffic->timed.nkeys);

	sketch_add_key(&summary->sketch, key, 256, traffic->hdr.eoh_context);
	traffic_add_count(&summary->with_duration, 256, "duration count");
}

/*
 * Count the rows left pending.  The minute and bin of each are fetched some
 * rows ahead, so that many cache misses are under way at once.
 */
#define PENDING_PREFETCH_DISTANCE	16

void
traffic_tally_count_pending(Traffic *traffic)
{
	const TallyPending *pending = traffic->timed.pending;
	int32		n = traffic->timed.npending;
	int32		i;

	for (i = 0; i < n; i++)
	{
		const TallyPending *row = &pending[i];
		TallyMinute *counts = &traffic->timed.minutes[row->minute];
		int32		slot = traffic->timed.slot_of[row->minute / MINUTES_PER_QUARTER];
		uint64		busy_us = (uint64) counts->busy_us + duration_us(row->duration_ms);

#ifdef __GNUC__
		if (i + PENDING_PREFETCH_DISTANCE < n)
		{
			const TallyPending *ahead = &pending[i + PENDING_PREFETCH_DISTANCE];

			__builtin_prefetch(&traffic->timed.minutes[ahead->minute], 1);
			__builtin_prefetch(&traffic->timed.bins[ahead->bin], 1);
		}
#endif
		if (unlikely(counts->requests == PG_UINT32_MAX || busy_us > PG_UINT32_MAX))
			tally_minute_spill(traffic, row->minute, busy_us);
		else
		{
			counts->requests++;
			counts->busy_us = (uint32) busy_us;
		}
		if (unlikely(++traffic->timed.bins[row->bin] == 0))
			tally_bin_wrapped(traffic, slot, row->bin);
		if (row->duration_ms > traffic->timed.max_ms[slot])
			traffic->timed.max_ms[slot] = row->duration_ms;
	}
	traffic->timed.npending = 0;
}

/*
 * Add the tally's counts to the value, and drop it.  A quarter's count goes
 * into its summary if it has one, or if the count alone is enough for one;
 * otherwise its rows are kept (the next compaction gives the quarter a
 * summary if those and rows kept before come to enough).  So a row counted
 * in the tally ends where it would have without one.
 */
static void
traffic_tally_flush(Traffic *traffic)
{
	TallyCount *tally = traffic->tally;
	int64		first_minute = traffic->tally_from / USECS_PER_MINUTE;
	int64		nquarters = traffic->tally_span / (USECS_PER_MINUTE * MINUTES_PER_QUARTER);
	int64		q;

	if (tally == NULL)
		return;
	tally_timed_flush(traffic);
	traffic->tally = NULL;
	for (q = 0; q < nquarters; q++)
	{
		const TallyCount *counts = &tally[q * MINUTES_PER_QUARTER];
		int64		quarter = first_minute / MINUTES_PER_QUARTER + q;
		uint64		total = 0;
		TrafficQuarter *summary;
		int			m;

		if ((q & 255) == 0)
			CHECK_FOR_INTERRUPTS();
		for (m = 0; m < MINUTES_PER_QUARTER; m++)
			total += counts[m];
		if (total == 0)
			continue;
		summary = traffic_find_summary(traffic, quarter);
		if (summary == NULL &&
			(total >= SUMMARY_MIN_ROWS || !quarter_keeps_rows(quarter)))
			summary = traffic_get_summary(traffic, quarter);
		if (summary != NULL)
		{
			for (m = 0; m < MINUTES_PER_QUARTER; m++)
				traffic_add_count(&summary->minutes[m].requests, counts[m],
								  "request count");
		}
		else
		{
			TrafficRow	rows[SUMMARY_MIN_ROWS];
			int32		n = 0;

			for (m = 0; m < MINUTES_PER_QUARTER; m++)
			{
				int32		c;

				for (c = 0; c < counts[m]; c++)
					row_set(&rows[n++],
							row_key(quarter * MINUTES_PER_QUARTER + m, false, false),
							0.0);
			}
			traffic_append_rows(traffic, rows, n);
		}
	}
	pfree(tally);
	traffic->normalized = false;
	traffic->recent_from = traffic->recent_to = 0;
}

/*
 * A minute's count in the tally wrapped to 0: its 65,536 rows (the row just
 * counted the last) go to the quarter's summary, which so many rows call
 * for anyway.
 */
void
traffic_tally_wrapped(Traffic *traffic, TimestampTz ts)
{
	int64		minute = floor_div(ts, USECS_PER_MINUTE);
	int64		quarter = floor_div(minute, MINUTES_PER_QUARTER);
	TrafficQuarter *summary = traffic_get_summary(traffic, quarter);

	traffic_add_count(&summary->minutes[minute - quarter * MINUTES_PER_QUARTER].requests,
					  TALLY_COUNT_WRAP, "request count");
	traffic->normalized = false;
}

/*
 * The sketch keys a timed part should cover to count keys key_lo .. key_hi
 * too: what it covers already and those, with a quarter of the width to
 * spare on the side that grew (durations a little longer than the longest
 * so far come, and each change of keys copies every slot's bins), within
 * the SKETCH_MAX_BINS highest keys.  False when the keys it covers do not
 * fit in that with the new ones.
 */
static bool
tally_timed_keys(Traffic *traffic, int32 *key_lo, int32 *key_hi)
{
	int32		lo = *key_lo;
	int32		hi = *key_hi;

	if (traffic->timed.nkeys > 0)
	{
		int32		old_lo = traffic->timed.key_lo;
		int32		old_hi = old_lo + (int32) traffic->timed.nkeys - 1;
		int32		spare;

		if (lo >= old_lo && hi <= old_hi)
		{
			*key_lo = old_lo;
			*key_hi = old_hi;
			return true;
		}
		lo = Min(lo, old_lo);
		hi = Max(hi, old_hi);
		spare = (hi - lo + 1) / 4;
		if (hi > old_hi)
			hi += spare;
		if (lo < old_lo)
			lo -= spare;
		hi = Min(hi, SKETCH_KEY_LIMIT);
		lo = Max(lo, -SKETCH_KEY_LIMIT);
		lo = Max(lo, hi - SKETCH_MAX_BINS + 1);
		if (lo > old_lo)
			return false;
	}
	else
		lo = Max(lo, hi - SKETCH_MAX_BINS + 1);
	*key_lo = lo;
	*key_hi = hi;
	return true;
}

/*
 * Whether a tally may span minutes from .. end - 1: no more minutes than
 * its rows allow, nor than the longest tally, and only quarters that keep
 * rows.
 */
static bool
tally_span_allowed(int64 from, int64 end, int64 allowed)
{
	return end - from <= allowed && end - from <= TALLY_MAX_MINUTES &&
		quarter_keeps_rows(from / MINUTES_PER_QUARTER) &&
		quarter_keeps_rows(end / MINUTES_PER_QUARTER - 1);
}

/*
 * The span of a tally over old_minutes minutes from old_from, widened to
 * take minutes from .. end - 1 as well, which rows allowing allowed
 * minutes called for: true, with *from and *end set, if it grows.
 */
static bool
tally_widen(int64 old_from, int64 old_minutes, int64 allowed,
			int64 *from, int64 *end)
{
	int64		lo;
	int64		hi;

	if (*from >= old_from && *end <= old_from + old_minutes)
		return false;
	lo = Min(*from, old_from);
	hi = Max(*end, old_from + old_minutes);
	allowed += old_minutes;

	/*
	 * Grow by half at least, toward the new rows, as far as they allow: rows
	 * in reverse time order extend the tally at every compaction, and
	 * growing by a batch's span at a time would copy it each time.
	 */
	if (hi - lo < allowed)
	{
		int64		more = Min(old_minutes / 2 - (hi - lo - old_minutes),
							   allowed - (hi - lo));

		more -= more % MINUTES_PER_QUARTER;
		if (more > 0 && lo < old_from)
			lo -= more;
		else if (more > 0)
			hi += more;
	}
	if (!tally_span_allowed(lo, hi, allowed))
		return false;
	*from = lo;
	*end = hi;
	return true;
}

/* Make the tally span minutes from .. end - 1, keeping what it counted. */
static void
tally_resize(Traffic *traffic, int64 from, int64 end)
{
	TallyCount *tally = MemoryContextAllocZero(traffic->hdr.eoh_context,
											   sizeof(TallyCount) * (end - from));

	if (traffic->tally != NULL)
	{
		int64		old_from = traffic->tally_from / USECS_PER_MINUTE;

		memcpy(&tally[old_from - from], traffic->tally,
			   sizeof(TallyCount) * (traffic->tally_span / USECS_PER_MINUTE));
		pfree(traffic->tally);
	}
	traffic->tally = tally;
	traffic->tally_from = from * USECS_PER_MINUTE;
	traffic->tally_span = (uint64) (end - from) * USECS_PER_MINUTE;
}

/*
 * After rows in random order were compacted: count rows in a tally from now
 * on, over the quarters first .. first + range - 1 those rows spanned (and
 * over the tally's own span, if there is one), if they were dense enough
 * there for the tally to cost no more than they did.  Of the batch, plain
 * rows (no duration, no error) and timed rows (a duration above zero, no
 * error; their sketch keys key_lo .. key_hi) count: plain ones call for
 * TALLY_MINUTES_PER_ROW minutes each, timed ones for TIMED_MINUTES_PER_ROW,
 * and timed ones alone call for the timed part.  Summed over every call,
 * the tally's minutes stay within what the rows that called for them allow.
 */
static void
tally_consider(Traffic *traffic, int64 first, int64 range, int32 plain,
			   int32 timed, int32 key_lo, int32 key_hi)
{
	int64		from = first * MINUTES_PER_QUARTER;
	int64		end = (first + range) * MINUTES_PER_QUARTER;
	int64		allowed = (int64) plain * TALLY_MINUTES_PER_ROW +
		(int64) timed * TIMED_MINUTES_PER_ROW;
	int64		timed_allowed = (int64) timed * TIMED_MINUTES_PER_ROW;
	int64		old_from = 0;
	int64		old_minutes = 0;
	bool		grow = true;

	if (timed == 0 && traffic->timed.nkeys > 0)
	{
		key_lo = traffic->timed.key_lo;
		key_hi = key_lo + (int32) traffic->timed.nkeys - 1;
	}
	if ((timed > 0 || traffic->timed.nkeys > 0) &&
		!tally_timed_keys(traffic, &key_lo, &key_hi))
	{
		/* the new keys are far above the old: count the old ones out */
		tally_timed_flush(traffic);
		key_lo = Max(key_lo, key_hi - SKETCH_MAX_BINS + 1);
	}

	if (traffic->tally != NULL)
	{
		old_from = traffic->tally_from / USECS_PER_MINUTE;
		old_minutes = traffic->tally_span / USECS_PER_MINUTE;
		if (traffic->timed.nkeys > 0)
			timed_allowed += old_minutes;
		grow = tally_widen(old_from, old_minutes, allowed, &from, &end);
		if (!grow)
		{
			/* the span stays; the timed part may come, or change keys */
			from = old_from;
			end = old_from + old_minutes;
		}
	}
	else if (!tally_span_allowed(from, end, allowed))
		return;

	/* a timed part the wider span does not allow is counted out first */
	if (traffic->timed.nkeys > 0 && end - from > timed_allowed)
		tally_timed_flush(traffic);
	if (grow)
		tally_resize(traffic, from, end);

	if (traffic->timed.nkeys > 0 && !grow &&
		key_lo == traffic->timed.key_lo &&
		key_hi == traffic->timed.key_lo + (int32) traffic->timed.nkeys - 1)
		tally_timed_add_slots(traffic);
	else if ((timed > 0 || traffic->timed.nkeys > 0) && end - from <= timed_allowed)
		tally_timed_layout(traffic, old_from, old_minutes, key_lo, key_hi);
}

/* ------------------------------------------------------------------ rows */

static void
fold_row(Traffic *traffic, TrafficQuarter *summary, const TrafficRow *row)
{
	int64		m = row_minute(row) - summary->quarter * MINUTES_PER_QUARTER;

	traffic_count_in_summary(traffic, summary, &summary->minutes[m],
							 (row->key & ROW_ERROR) != 0,
							 (row->key & ROW_DURATION) != 0,
							 row_duration(row));
}

/*
 * Fold rows of one quarter into its summary.  Each row's sketch bin is
 * fetched a few rows ahead: in random order a batch holds few rows per
 * quarter, and the bins of one summary rarely stay in the cache between
 * batches, so waiting for each load in turn would cost a cache miss a row.
 */
#define FOLD_PREFETCH_DISTANCE	8

static void
fold_rows(Traffic *traffic, TrafficQuarter *summary, const TrafficRow *rows,
		  int32 n)
{
	int32		i;

	for (i = 0; i < n; i++)
	{
#ifdef __GNUC__
		if (i + FOLD_PREFETCH_DISTANCE < n)
		{
			const TrafficRow *ahead = &rows[i + FOLD_PREFETCH_DISTANCE];
			const Sketch *sketch = &summary->sketch;

			double		ahead_ms = row_duration(ahead);

			if (ahead_ms > 0.0)
			{
				int32		offset = sketch_key(ahead_ms) - sketch->base;

				if (offset >= 0 && offset < sketch->capacity)
					__builtin_prefetch(&sketch->bins[offset], 1);
			}
		}
#endif
		fold_row(traffic, summary, &rows[i]);
	}
}

/*
 * A sort of millions of rows or summaries takes seconds, so its comparisons
 * check for interrupts now and then (an error leaves qsort holding nothing).
 */
static uint32 sort_comparisons = 0;

static inline void
sort_check_interrupts(void)
{
	if (unlikely((++sort_comparisons & 0xFFFF) == 0))
		CHECK_FOR_INTERRUPTS();
}

static int
row_cmp(const void *a, const void *b)
{
	const TrafficRow *x = (const TrafficRow *) a;
	const TrafficRow *y = (const TrafficRow *) b;

	double		dx;
	double		dy;

	sort_check_interrupts();
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	dx = row_duration(x);
	dy = row_duration(y);
	if (dx != dy)
		return dx < dy ? -1 : 1;
	return 0;
}

/*
 * Whether the rows from "from" on are in canonical order already: values
 * read one after another in time order (a reader merging a rollup's days)
 * append rows in order, and one pass is cheaper than a sort.
 */
static bool
rows_in_order(const Traffic *traffic, int32 from)
{
	int32		i;

	for (i = from + 1; i < traffic->nrows; i++)
	{
		if ((i & 65535) == 0)
			CHECK_FOR_INTERRUPTS();
		if (row_cmp(&traffic->rows[i - 1], &traffic->rows[i]) > 0)
			return false;
	}
	return true;
}

/*
 * Where compacting may start: after the settled rows, when no summary came
 * since and the rows after them are in order and begin in a later quarter
 * (a row in the last settled quarter could make it a summary's worth).
 */
static int32
unsettled_start(const Traffic *traffic)
{
	int32		start = traffic->settled_rows;

	if (start == 0 || start > traffic->nrows ||
		traffic->settled_quarters != traffic->nquarters)
		return 0;
	if (start < traffic->nrows &&
		row_quarter(&traffic->rows[start]) <= row_quarter(&traffic->rows[start - 1]))
		return 0;
	return rows_in_order(traffic, start) ? start : 0;
}

/*
 * Handle the rows of one quarter, rows[0 .. n - 1]: fold them into the
 * quarter's summary when it has one or they are enough for one, else keep
 * them at traffic->rows[*kept] on (they may be that very place).  Returns
 * whether they were kept.
 */
static bool
compact_quarter(Traffic *traffic, int64 quarter, TrafficRow *rows, int32 n,
				int32 *kept)
{
	TrafficQuarter *summary = traffic_find_summary(traffic, quarter);

	if (summary == NULL && n >= SUMMARY_MIN_ROWS)
		summary = traffic_get_summary(traffic, quarter);
	if (summary != NULL)
	{
		fold_rows(traffic, summary, rows, n);
		return false;
	}
	if (&traffic->rows[*kept] != rows)
		memmove(&traffic->rows[*kept], rows, sizeof(TrafficRow) * n);
	*kept += n;
	return true;
}

/*
 * Compact rows from "start" on that are in canonical order: each run of
 * one quarter is folded or kept, and what is kept stays in order.
 */
static void
compact_sorted_rows(Traffic *traffic, int32 start)
{
	int32		kept = start;
	int32		i = start;
	int32		last_kept = -1;

	while (i < traffic->nrows)
	{
		int64		quarter = row_quarter(&traffic->rows[i]);
		int32		end = i + 1;
		int32		at = kept;

		if ((i & 255) == 0)
			CHECK_FOR_INTERRUPTS();
		while (end < traffic->nrows && row_quarter(&traffic->rows[end]) == quarter)
			end++;
		/* the last quarter may get more rows: not settled yet */
		if (compact_quarter(traffic, quarter, &traffic->rows[i], end - i, &kept) &&
			end == traffic->nrows)
			last_kept = at;
		i = end;
	}
	traffic->nrows = kept;
	traffic->settled_rows = last_kept >= 0 ? last_kept : kept;
	traffic->settled_quarters = traffic->nquarters;
}

/* The quarter of a row, counted from the quarter that starts at base_minute. */
static inline uint32
quarter_offset(const TrafficRow *row, int64 base_minute)
{
	return (uint32) (row_minute(row) - base_minute) / MINUTES_PER_QUARTER;
}

/*
 * Count, of rows just folded into their summary, those the tally's timed
 * part would have taken (a duration above zero, no error), and widen
 * *key_lo .. *key_hi to their sketch keys.
 */
static void
count_timed_rows(const TrafficRow *rows, int32 n, int32 *timed,
				 int32 *key_lo, int32 *key_hi)
{
	int32		i;

	for (i = 0; i < n; i++)
	{
		if ((rows[i].key & (ROW_ERROR | ROW_DURATION)) == ROW_DURATION &&
			row_duration(&rows[i]) > 0.0)
		{
			int32		key = sketch_key(row_duration(&rows[i]));

			(*timed)++;
			*key_lo = Min(*key_lo, key);
			*key_hi = Max(*key_hi, key);
		}
	}
}

/*
 * Whether compacting would fold any of the rows counted in ends[1 ..
 * range] (ends[q + 1] rows of quarter first + q): a quarter with a summary,
 * or with rows enough for one.
 */
static bool
any_quarter_folds(Traffic *traffic, int64 first, int64 range,
				  const int32 *ends)
{
	int64		q;

	for (q = 0; q < range; q++)
	{
		if ((q & 65535) == 0)
			CHECK_FOR_INTERRUPTS();
		if (ends[q + 1] >= SUMMARY_MIN_ROWS ||
			(ends[q + 1] > 0 && traffic->nquarters > 0 &&
			 traffic_find_summary(traffic, first + q) != NULL))
			return true;
	}
	return false;
}

/*
 * The counting sort of compact_scattered_rows: the rows into a scratch array
 * by quarter (ends[q + 1] holds how many are in quarter first + q; ends is
 * used up), then each quarter's rows folded or kept, which leaves
 * traffic->nrows at the rows kept.  When want_timed, the rows of quarters
 * that stay rows are counted for a timed part.  Returns where the rows kept
 * of the last quarter begin, or -1 if it kept none.
 */
static int32
sort_and_fold_quarters(Traffic *traffic, int64 first, int64 range,
					   int32 *ends, bool canonical, bool want_timed,
					   int32 *timed, int32 *min_sketch_key,
					   int32 *max_sketch_key)
{
	TrafficRow *rows = traffic->rows;
	int32		n = traffic->nrows;
	int64		base_minute = first * MINUTES_PER_QUARTER;
	TrafficRow *sorted;
	int32		kept = 0;
	int32		last_kept = -1;
	int32		i;

	for (i = 0; i < range; i++)
	{
		if ((i & 65535) == 0)
			CHECK_FOR_INTERRUPTS();
		ends[i + 1] += ends[i];
	}
	sorted = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(TrafficRow) * n);
	for (i = 0; i < n; i++)
	{
		if ((i & 65535) == 0)
			CHECK_FOR_INTERRUPTS();
		sorted[ends[quarter_offset(&rows[i], base_minute)]++] = rows[i];
	}

	for (i = 0; i < range; i++)
	{
		int32		begin = i == 0 ? 0 : ends[i - 1];
		int32		at = kept;

		if (ends[i] == begin)
			continue;
		if ((i & 255) == 0)
			CHECK_FOR_INTERRUPTS();
		if (compact_quarter(traffic, first + i, &sorted[begin], ends[i] - begin,
							&kept))
		{
			if (canonical)
				qsort(&rows[at], kept - at, sizeof(TrafficRow), row_cmp);
			if (i == range - 1)
				last_kept = at;
		}
		else if (want_timed)
			count_timed_rows(&sorted[begin], ends[i] - begin, timed,
							 min_sketch_key, max_sketch_key);
	}
	pfree(sorted);
	traffic->nrows = kept;
	return last_kept;
}

/*
 * Compact rows in no particular order whose quarters are few for them (rows
 * in random order over a busy span): a counting sort by quarter into a
 * scratch array, then each quarter's rows are folded or kept from there.
 * Folding a quarter's rows one after another keeps its sketch in the cache
 * (folding each row where it lies measured 2x slower with durations: a
 * cache miss a row).  Rows kept are in canonical order only if asked: a
 * value still being aggregated compacts them again, so when nothing folds
 * they stay as they came.
 * Returns false, doing nothing, when the quarters are too many for the rows.
 */
static bool
compact_scattered_rows(Traffic *traffic, bool canonical)
{
	TrafficRow *rows = traffic->rows;
	int32		n = traffic->nrows;
	int32		min_key = PG_INT32_MAX;
	int32		max_key = PG_INT32_MIN;
	int64		first;
	int64		range;
	int64		base_minute;
	int32	   *ends;
	int32		last_kept = -1;
	int32		plain = 0;
	int32		timed = 0;
	int32		min_sketch_key = PG_INT32_MAX;
	int32		max_sketch_key = PG_INT32_MIN;
	int32		switches = 0;
	int32		prev_key = 0;
	int64		prev_quarter = 0;
	bool		want_timed;
	int32		i;

	for (i = 0; i < n; i++)
	{
		if ((i & 65535) == 0)
			CHECK_FOR_INTERRUPTS();
		min_key = Min(min_key, rows[i].key);
		max_key = Max(max_key, rows[i].key);
		/* (a row in the minute of the one before is in its quarter) */
		if ((uint32) (rows[i].key ^ prev_key) >= 4)
		{
			int64		quarter = row_quarter(&rows[i]);

			switches += (i > 0 && quarter != prev_quarter);
			prev_quarter = quarter;
		}
		prev_key = rows[i].key;
		plain += (rows[i].key & (ROW_ERROR | ROW_DURATION)) == 0;
	}
	/*
	 * Rows with a duration are worth a timed part only when they come in no
	 * order across quarters: in time order the minute counted last takes
	 * them, and a batch here is then the start of a quarter.
	 */
	want_timed = !canonical && switches >= n / 4;
	first = floor_div(key_minute(min_key), MINUTES_PER_QUARTER);
	range = floor_div(key_minute(max_key), MINUTES_PER_QUARTER) - first + 1;
	/* (the second bound keeps every minute offset within a uint32) */
	if (n < SUMMARY_MIN_ROWS || range > (int64) n * 4 ||
		range > PG_INT32_MAX / MINUTES_PER_QUARTER)
		return false;
	base_minute = first * MINUTES_PER_QUARTER;

	/* ends[q + 1] counts the rows of quarter first + q */
	ends = palloc0(sizeof(int32) * (range + 1));
	for (i = 0; i < n; i++)
	{
		if ((i & 65535) == 0)
			CHECK_FOR_INTERRUPTS();
		ends[quarter_offset(&rows[i], base_minute) + 1]++;
	}

	/*
	 * A value still being aggregated need not have its rows in any order:
	 * when no quarter can fold (rows in random order over a long span, before
	 * their quarters have enough for a summary), sorting them into the
	 * scratch array only to keep them all would be the whole cost.
	 */
	if (canonical || any_quarter_folds(traffic, first, range, ends))
		last_kept = sort_and_fold_quarters(traffic, first, range, ends,
										   canonical, want_timed, &timed,
										   &min_sketch_key, &max_sketch_key);
	pfree(ends);
	traffic->settled_rows = 0;
	if (canonical)
		traffic->settled_rows = last_kept >= 0 ? last_kept : traffic->nrows;
	traffic->settled_quarters = traffic->nquarters;
	if (!canonical)
		tally_consider(traffic, first, range, plain, timed, min_sketch_key,
					   max_sketch_key);
	return true;
}

/*
 * Fold every quarter that has a summary or enough rows for one, and keep
 * the rest as rows.  Afterwards the rows are in canonical order if asked
 * (traffic_normalize asks), else in no order to rely on.
 */
static void
compact_rows(Traffic *traffic, bool canonical)
{
	int32		start = unsettled_start(traffic);

	if (start == 0 && !rows_in_order(traffic, 0))
	{
		if (compact_scattered_rows(traffic, canonical))
			return;
		qsort(traffic->rows, traffic->nrows, sizeof(TrafficRow), row_cmp);
	}
	compact_sorted_rows(traffic, start);
}

/* Make the row array hold capacity rows. */
static void
rows_resize(Traffic *traffic, int64 capacity)
{
	if (capacity > PG_INT32_MAX ||
		(Size) capacity * sizeof(TrafficRow) > MaxAllocHugeSize / 2)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("scaler.traffic value has too many rows")));
	if (traffic->rows == NULL)
		traffic->rows = MemoryContextAllocHuge(traffic->hdr.eoh_context,
											   sizeof(TrafficRow) * capacity);
	else
		traffic->rows = repalloc_huge(traffic->rows,
									  sizeof(TrafficRow) * capacity);
	traffic->rows_capacity = (int32) capacity;
}

/*
 * Append a row, making room by folding busy quarters first.  The array
 * grows when folding leaves it more than half full, and also while it is
 * small beside the summaries (up to MAX_PENDING_ROWS), so that rows in
 * random order are folded in large batches.
 */
static void
append_row(Traffic *traffic, int32 key, double duration_ms)
{
	if (traffic->nrows == traffic->rows_capacity)
	{
		if (traffic->nrows > 0)
			compact_rows(traffic, false);
		if (traffic->nrows * 2 > traffic->rows_capacity ||
			traffic->rows_capacity == 0 ||
			(traffic->rows_capacity < MAX_PENDING_ROWS &&
			 traffic->rows_capacity < (int64) traffic->nquarters * PENDING_ROWS_PER_SUMMARY))
		{
			/*
			 * Double while the array is a small chunk (those are powers of
			 * two anyway), then grow by half: with thousands of values the
			 * unused tails add up.
			 */
			rows_resize(traffic, traffic->rows_capacity < ROWS_GROW_BY_HALF ?
						Max((int64) traffic->rows_capacity * 2, INITIAL_ROWS) :
						(int64) traffic->rows_capacity + traffic->rows_capacity / 2);
		}
	}
	row_set(&traffic->rows[traffic->nrows], key, duration_ms);
	traffic->nrows++;
	traffic->normalized = false;
}

/* Append n rows at once (none in a quarter with a summary). */
void
traffic_append_rows(Traffic *traffic, const TrafficRow *rows, int32 n)
{
	int64		needed = (int64) traffic->nrows + n;

	if (needed > traffic->rows_capacity)
		rows_resize(traffic, Max(needed, (int64) traffic->rows_capacity +
								 traffic->rows_capacity / 2));
	memcpy(&traffic->rows[traffic->nrows], rows, sizeof(TrafficRow) * n);
	traffic->nrows += n;
	traffic->normalized = false;
}

/*
 * A row outside the minute counted last.  In the quarter of the row before
 * and with a summary there, or in a quarter that cannot keep rows, count it
 * in the summary (and remember its minute); else keep it as a row, to be
 * folded with its quarter's others.
 */
void
traffic_add_row_slow(Traffic *traffic, TimestampTz ts, bool is_error,
					 bool has_duration, double duration_ms)
{
	int64		minute = floor_div(ts, USECS_PER_MINUTE);
	int64		quarter = floor_div(minute, MINUTES_PER_QUARTER);
	bool		same_quarter = (quarter == traffic->last_quarter);
	TrafficQuarter *summary;

	traffic->last_quarter = quarter;
	traffic->quarter_run = same_quarter ? traffic->quarter_run + 1 : 1;
	/* Rows in time order: a quarter that fills up gets its summary now. */
	if (traffic->quarter_run == SUMMARY_MIN_ROWS + 1)
		compact_rows(traffic, false);
	summary = NULL;
	if (unlikely(!quarter_keeps_rows(quarter)))
		summary = traffic_get_summary(traffic, quarter);
	else if (same_quarter)
		summary = traffic_find_summary(traffic, quarter);
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
	append_row(traffic, row_key(minute, has_duration, is_error),
			   has_duration ? duration_ms : 0.0);
}

/* ---------------------------------------------------------------- merging */

/* Add a summary (of a quarter that may not be in the value yet). */
void
traffic_merge_summary(Traffic *traffic, const TrafficQuarter *src)
{
	summary_merge(traffic, traffic_get_summary(traffic, src->quarter), src);
	traffic->recent_from = traffic->recent_to = 0;
}

/* Add src's rows into dst. */
void
traffic_merge(Traffic *dst, Traffic *src)
{
	traffic_merge_range(dst, src, PG_INT64_MIN, PG_INT64_MAX);
}

/*
 * Add into dst the rows of src in quarters first .. end - 1.
 *
 * Two cases are cheap.  When src is in canonical order and what it adds
 * all comes after dst's last quarter, with dst in canonical order too (a
 * reader merging days in time order), everything is appended and dst stays
 * in canonical order.  When dst has no summary and src is in canonical
 * order, no row of src falls in a quarter with a summary, even after src's
 * summaries are added, so its rows are copied at once.  Otherwise row by
 * row.
 */
void
traffic_merge_range(Traffic *dst, Traffic *src, int64 first, int64 end)
{
	int32		from_row = 0;
	int32		end_row = src->nrows;
	bool		in_order = false;
	bool		bulk;
	int32		i;

	Assert(dst != src);
	traffic_tally_flush(src);
	if (src->normalized)
	{
		int64		src_first = PG_INT64_MAX;

		/* src's rows are sorted: the range is a slice of them */
		while (from_row < end_row && row_quarter(&src->rows[from_row]) < first)
		{
			if ((from_row++ & 65535) == 0)
				CHECK_FOR_INTERRUPTS();
		}
		while (end_row > from_row && row_quarter(&src->rows[end_row - 1]) >= end)
		{
			if ((end_row-- & 65535) == 0)
				CHECK_FOR_INTERRUPTS();
		}
		if (from_row < end_row)
			src_first = row_quarter(&src->rows[from_row]);
		for (i = 0; i < src->nquarters; i++)
			if (src->quarters[i].quarter >= first && src->quarters[i].quarter < end)
			{
				src_first = Min(src_first, src->quarters[i].quarter);
				break;
			}
		if (traffic_is_empty(dst))
			in_order = true;
		else if (dst->normalized)
		{
			int64		dst_first;
			int64		dst_last;

			traffic_quarter_range(dst, &dst_first, &dst_last);
			in_order = src_first > dst_last;
		}
	}
	bulk = src->normalized && (in_order || dst->nquarters == 0);

	for (i = 0; i < src->nquarters; i++)
	{
		const TrafficQuarter *from = &src->quarters[i];

		CHECK_FOR_INTERRUPTS();
		if (from->quarter >= first && from->quarter < end)
			summary_merge(dst, traffic_get_summary(dst, from->quarter), from);
	}
	if (bulk)
	{
		if (end_row > from_row)
			traffic_append_rows(dst, &src->rows[from_row], end_row - from_row);
	}
	else
	{
		for (i = 0; i < src->nrows; i++)
		{
			const TrafficRow *row = &src->rows[i];
			int64		quarter = row_quarter(row);
			TrafficQuarter *summary;

			if ((i & 1023) == 0)
				CHECK_FOR_INTERRUPTS();
			if (quarter < first || quarter >= end)
				continue;
			summary = traffic_find_summary(dst, quarter);
			if (summary != NULL)
				fold_row(dst, summary, row);
			else
				append_row(dst, row->key, row_duration(row));
		}
	}
	dst->normalized = in_order;
	dst->recent_from = dst->recent_to = 0;
}

static int
slot_cmp(const void *a, const void *b)
{
	int64		x = ((const QuarterSlot *) a)->quarter;
	int64		y = ((const QuarterSlot *) b)->quarter;

	sort_check_interrupts();
	return (x > y) - (x < y);
}

/*
 * Sort the summaries by quarter.  A summary is some 300 bytes, so the sort
 * orders (quarter, position) pairs and then moves each summary once, cycle
 * by cycle, where a qsort of the summaries themselves copied each of them
 * some log2(n) times (a Citus shard's week of quarters spent more time
 * there than in writing the value out).
 */
static void
sort_summaries(Traffic *traffic)
{
	int32		n = traffic->nquarters;
	QuarterSlot *order;
	int32		i;

	for (i = 1; i < n; i++)
		if (traffic->quarters[i - 1].quarter > traffic->quarters[i].quarter)
			break;
	if (i >= n)
		return;

	order = palloc(sizeof(QuarterSlot) * n);
	for (i = 0; i < n; i++)
	{
		order[i].quarter = traffic->quarters[i].quarter;
		order[i].pos = i;
	}
	qsort(order, n, sizeof(QuarterSlot), slot_cmp);

	/*
	 * The summary at order[i].pos belongs at i.  Each cycle of that
	 * permutation is walked once: the first summary is set aside, each
	 * place takes the summary that belongs there, and a place done is
	 * marked with pos -1.  Between cycles the summaries are a permutation
	 * of what they were, as between a qsort's swaps.
	 */
	for (i = 0; i < n; i++)
	{
		TrafficQuarter held;
		int32		at = i;

		if (order[i].pos < 0 || order[i].pos == i)
			continue;
		if ((i & 255) == 0)
			CHECK_FOR_INTERRUPTS();
		held = traffic->quarters[i];
		while (order[at].pos != i)
		{
			int32		from = order[at].pos;

			traffic->quarters[at] = traffic->quarters[from];
			order[at].pos = -1;
			at = from;
		}
		traffic->quarters[at] = held;
		order[at].pos = -1;
	}
	pfree(order);
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
	traffic_tally_flush(traffic);
	if (traffic->nrows > 0)
		compact_rows(traffic, true);
	sort_summaries(traffic);
	if (traffic->index_size > 0)
		index_rebuild(traffic, traffic->index_size);
	traffic->recent_from = traffic->recent_to = 0;
	Assert(traffic->tally == NULL);
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
		first = Min(first, row_minute(&traffic->rows[0]));
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

/* Add any traffic datum into an expanded value. */
void
traffic_add_datum(Traffic *traffic, Datum datum)
{
	struct varlena *flat;

	if (VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(datum)))
	{
		traffic_merge(traffic, (Traffic *) DatumGetEOHP(datum));
		return;
	}
	flat = PG_DETOAST_DATUM(datum);
	traffic_parse_into(traffic, VARDATA_ANY(flat), VARSIZE_ANY_EXHDR(flat),
					   ERRCODE_DATA_CORRUPTED);
}

/* A new expanded copy of any traffic datum, owned by parent. */
Traffic *
traffic_copy_into(Datum datum, MemoryContext parent)
{
	Traffic    *copy = traffic_create(parent);

	traffic_add_datum(copy, datum);
	return copy;
}

Datum
traffic_flat_datum(Traffic *traffic)
{
	Size		size = EOH_get_flat_size(&traffic->hdr);
	void	   *result = palloc(size);

	EOH_flatten_into(&traffic->hdr, result, size);
	return PointerGetDatum(result);
}
