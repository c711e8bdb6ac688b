/*-------------------------------------------------------------------------
 *
 * sketch.c
 *	  The mergeable log-bucket quantile sketch behind the latency percentiles.
 *
 * A positive value v falls in the bin with key k = ceil(log(v) / log(gamma)),
 * i.e. gamma^(k-1) < v <= gamma^k.  The bin is represented by
 * 2 gamma^k / (gamma + 1), which is within (gamma - 1) / (gamma + 1) of every
 * value in it.  Quantiles use the same rank as percentile_disc, so the answer
 * is within that relative error of what percentile_disc returns.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "utils/float.h"

#include "sketch.h"

static double inv_log_gamma = 0.0;

static inline double
log_gamma_inverse(void)
{
	if (unlikely(inv_log_gamma == 0.0))
		inv_log_gamma = 1.0 / log(SKETCH_GAMMA);
	return inv_log_gamma;
}

void
sketch_init(Sketch *sketch)
{
	memset(sketch, 0, sizeof(Sketch));
}

/*
 * Key of a positive, finite value.  Keys are clamped to a range far wider
 * than any duration (about 1e-150 .. 1e150) so that key arithmetic cannot
 * overflow.
 */
int32
sketch_key(double value)
{
	double		k = ceil(log(value) * log_gamma_inverse());

	if (k < -20000.0)
		return -20000;
	if (k > 20000.0)
		return 20000;
	return (int32) k;
}

double
sketch_key_value(int32 key)
{
	return 2.0 * exp((double) key / log_gamma_inverse()) / (SKETCH_GAMMA + 1.0);
}

/*
 * Make room for keys newlo .. newhi (a span of at most SKETCH_MAX_BINS).
 * Grows geometrically, leaving slack on both sides since durations extend
 * their range in either direction.
 */
static void
sketch_reserve(Sketch *sketch, int32 newlo, int32 newhi, MemoryContext cxt)
{
	int32		span = newhi - newlo + 1;
	int32		capacity;
	int32		base;
	uint32	   *bins;

	Assert(span <= SKETCH_MAX_BINS);
	if (sketch->bins != NULL &&
		newlo >= sketch->base && newhi < sketch->base + sketch->capacity)
		return;

	capacity = Max(Max(span * 2, sketch->capacity * 2), 32);
	capacity = Min(capacity, SKETCH_MAX_BINS * 2);
	base = newlo - (capacity - span) / 2;
	bins = MemoryContextAllocZero(cxt, sizeof(uint32) * capacity);
	if (sketch->nbins > 0)
		memcpy(bins + (sketch->lo - base),
			   sketch->bins + (sketch->lo - sketch->base),
			   sizeof(uint32) * sketch->nbins);
	if (sketch->bins)
		pfree(sketch->bins);
	sketch->bins = bins;
	sketch->base = base;
	sketch->capacity = capacity;
}

static void
bin_add(uint32 *bin, uint64 count)
{
	if (count > PG_UINT32_MAX - (uint64) *bin)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("too many durations in one hour of a traffic value")));
	*bin += (uint32) count;
}

/*
 * Drop the bins below newlo from the sketch and return their total count,
 * which the caller adds to the new lowest bin.
 */
static uint64
sketch_cut_below(Sketch *sketch, int32 newlo)
{
	uint64		moved = 0;
	int32		key;
	int32		hi = sketch->lo + sketch->nbins - 1;

	for (key = sketch->lo; key < newlo && key <= hi; key++)
	{
		moved += sketch->bins[key - sketch->base];
		sketch->bins[key - sketch->base] = 0;
	}
	sketch->nbins = (newlo <= hi) ? hi - newlo + 1 : 0;
	sketch->lo = newlo;
	return moved;
}

void
sketch_add_key(Sketch *sketch, int32 key, uint64 count, MemoryContext cxt)
{
	if (sketch->nbins == 0)
	{
		sketch_reserve(sketch, key, key, cxt);
		sketch->lo = key;
		sketch->nbins = 1;
	}
	else if (key < sketch->lo)
	{
		int32		hi = sketch->lo + sketch->nbins - 1;

		/* Too far below: count it in the lowest bin we may keep. */
		if (hi - key + 1 > SKETCH_MAX_BINS)
			key = hi - SKETCH_MAX_BINS + 1;
		sketch_reserve(sketch, key, hi, cxt);
		sketch->nbins += sketch->lo - key;
		sketch->lo = key;
	}
	else if (key >= sketch->lo + sketch->nbins)
	{
		uint64		moved = 0;

		/* Too far above: collapse the lowest bins to keep the span bounded. */
		if (key - sketch->lo + 1 > SKETCH_MAX_BINS)
			moved = sketch_cut_below(sketch, key - SKETCH_MAX_BINS + 1);
		sketch_reserve(sketch, sketch->lo, key, cxt);
		sketch->nbins = key - sketch->lo + 1;
		if (moved > 0)
			bin_add(&sketch->bins[sketch->lo - sketch->base], moved);
	}

	bin_add(&sketch->bins[key - sketch->base], count);
}

void
sketch_add(Sketch *sketch, double value, MemoryContext cxt)
{
	if (value == 0.0)
	{
		sketch->zero_count++;
		return;
	}

	/* The common case: a key inside the bins in use, no reallocation. */
	{
		int32		key = sketch_key(value);
		int32		offset = key - sketch->lo;

		if (likely(offset >= 0 && offset < sketch->nbins))
		{
			uint32	   *bin = &sketch->bins[key - sketch->base];

			if (unlikely(*bin == PG_UINT32_MAX))
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("too many durations in one hour of a traffic value")));
			(*bin)++;
			return;
		}
		sketch_add_key(sketch, key, 1, cxt);
	}
}

void
sketch_merge(Sketch *dst, const Sketch *src, MemoryContext cxt)
{
	int32		i;

	dst->zero_count += src->zero_count;
	/* Add the highest bins first so collapsing happens at most once. */
	for (i = src->nbins - 1; i >= 0; i--)
	{
		int32		key = src->lo + i;
		uint32		count = src->bins[key - src->base];

		if (count > 0)
			sketch_add_key(dst, key, count, cxt);
	}
}

uint64
sketch_total(const Sketch *sketch)
{
	uint64		total = sketch->zero_count;
	int32		i;

	for (i = 0; i < sketch->nbins; i++)
		total += sketch->bins[sketch->lo - sketch->base + i];
	return total;
}

uint32
sketch_count_at(const Sketch *sketch, int32 key)
{
	if (key < sketch->lo || key >= sketch->lo + sketch->nbins)
		return 0;
	return sketch->bins[key - sketch->base];
}

void
sketch_trimmed_range(const Sketch *sketch, int32 *lo, int32 *nbins)
{
	int32		first = 0;
	int32		last = sketch->nbins - 1;

	while (first <= last && sketch_count_at(sketch, sketch->lo + first) == 0)
		first++;
	while (last >= first && sketch_count_at(sketch, sketch->lo + last) == 0)
		last--;
	*lo = sketch->lo + first;
	*nbins = last - first + 1;
}

/*
 * The value at rank ceil(fraction * total), the same rank percentile_disc
 * picks, or NaN for an empty sketch.
 */
double
sketch_quantile(const Sketch *sketch, double fraction)
{
	uint64		total = sketch_total(sketch);
	uint64		rank;
	uint64		seen;
	int32		i;

	if (total == 0)
		return get_float8_nan();

	rank = (uint64) ceil(fraction * (double) total);
	if (rank < 1)
		rank = 1;
	if (rank > total)
		rank = total;

	seen = sketch->zero_count;
	if (seen >= rank)
		return 0.0;
	for (i = 0; i < sketch->nbins; i++)
	{
		int32		key = sketch->lo + i;

		seen += sketch->bins[key - sketch->base];
		if (seen >= rank)
			return sketch_key_value(key);
	}
	/* unreachable: the bins add up to total */
	return get_float8_nan();
}
