/*-------------------------------------------------------------------------
 *
 * sketch.c
 *	  The mergeable log-bucket quantile sketch behind the latency percentiles.
 *
 * A positive value's bin is read off its floating-point bits (see sketch.h);
 * each bin is represented by a value within 0.96% of everything in it.
 * Quantiles use the same rank as percentile_disc, so the answer is within
 * that relative error of what percentile_disc returns.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "port/pg_bitutils.h"

#include <math.h>

#include "utils/float.h"

#include "sketch.h"

uint8		sketch_bin_of_mantissa[1024];

/* Representative of each bin of an octave, as a fraction of 2^exponent. */
static double bin_value[SKETCH_BINS_PER_OCTAVE];
static bool tables_ready = false;

/*
 * Bin j of an octave holds the mantissas m whose 1/1024-wide slice starts in
 * [2^(j/38), 2^((j+1)/38)).  Its representative 2 lo hi / (lo + hi) has the
 * same relative error towards both edges.
 */
void
sketch_prepare_tables(void)
{
	double		lo[SKETCH_BINS_PER_OCTAVE];
	double		hi[SKETCH_BINS_PER_OCTAVE];
	int			i;

	if (tables_ready)
		return;
	for (i = 0; i < SKETCH_BINS_PER_OCTAVE; i++)
		lo[i] = hi[i] = 0.0;
	for (i = 0; i < 1024; i++)
	{
		double		slice_lo = 1.0 + i / 1024.0;
		int			bin = (int) floor(SKETCH_BINS_PER_OCTAVE * log2(slice_lo));

		bin = Min(Max(bin, 0), SKETCH_BINS_PER_OCTAVE - 1);
		sketch_bin_of_mantissa[i] = (uint8) bin;
		if (lo[bin] == 0.0)
			lo[bin] = slice_lo;
		hi[bin] = slice_lo + 1.0 / 1024.0;
	}
	for (i = 0; i < SKETCH_BINS_PER_OCTAVE; i++)
		bin_value[i] = 2.0 * lo[i] * hi[i] / (lo[i] + hi[i]);
	tables_ready = true;
}

void
sketch_init(Sketch *sketch)
{
	memset(sketch, 0, sizeof(Sketch));
}

/* Empty a sketch, keeping its bins allocated for reuse. */
void
sketch_reset(Sketch *sketch)
{
	if (sketch->nbins > 0)
		memset(sketch->bins + (sketch->lo - sketch->base), 0,
			   sizeof(uint32) * sketch->nbins);
	sketch->zero_count = 0;
	sketch->lo = 0;
	sketch->nbins = 0;
}

double
sketch_key_value(int32 key)
{
	int32		exponent = key / SKETCH_BINS_PER_OCTAVE;
	int32		bin = key % SKETCH_BINS_PER_OCTAVE;

	if (bin < 0)
	{
		bin += SKETCH_BINS_PER_OCTAVE;
		exponent--;
	}
	sketch_prepare_tables();
	return ldexp(bin_value[bin], exponent);
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

	/*
	 * A quarter of the span as slack, rounded up to the power of two the
	 * allocator would round the chunk to anyway: sketches are most of the
	 * memory of a value with many busy quarters.
	 */
	capacity = (int32) pg_nextpower2_32((uint32) Max(span + span / 4, 4));
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

void
sketch_bin_overflow(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("too many durations in one bin of a traffic value sketch")));
}

static inline void
bin_add(uint32 *bin, uint64 count)
{
	if (count > PG_UINT32_MAX - (uint64) *bin)
		sketch_bin_overflow();
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

/*
 * Add counts[i] values of key keys[i] for every i below n, the keys
 * ascending and the counts above zero (the bins of a sketch as stored):
 * what sketch_add_key for each would do, highest key first so that the
 * lowest bins collapse at most once, with the bins' range set by the
 * highest and the lowest key.  A key between them is then in the bins or
 * below the lowest the sketch keeps, where sketch_add_key would have
 * counted it in the lowest bin.  An empty sketch gets just the bins of
 * those keys: a value read from disk is mostly read, not grown.
 */
void
sketch_add_pairs(Sketch *sketch, const int32 *keys, const uint32 *counts,
				 int32 n, MemoryContext cxt)
{
	int32		i;

	if (n == 0)
		return;
	if (sketch->bins == NULL && keys[n - 1] - keys[0] < SKETCH_MAX_BINS)
	{
		int32		nbins = keys[n - 1] - keys[0] + 1;

		sketch->capacity = Max(nbins, 4);
		sketch->bins = MemoryContextAllocZero(cxt, sizeof(uint32) * sketch->capacity);
		sketch->base = sketch->lo = keys[0];
		sketch->nbins = nbins;
		for (i = 0; i < n; i++)
			sketch->bins[keys[i] - keys[0]] = counts[i];
		return;
	}
	sketch_add_key(sketch, keys[n - 1], counts[n - 1], cxt);
	if (n == 1)
		return;
	sketch_add_key(sketch, keys[0], counts[0], cxt);
	for (i = 1; i < n - 1; i++)
	{
		int32		key = Max(keys[i], sketch->lo);

		bin_add(&sketch->bins[key - sketch->base], counts[i]);
	}
}

/*
 * Add counts[k] values of key key_lo + k, for every k below n, and return
 * how many that is: what sketch_add_key for each key would do, with the
 * bins' range set once, by the lowest and highest key counted.  A key
 * between them is then in the bins or below the lowest the sketch keeps,
 * where sketch_add_key would have counted it in the lowest bin.
 */
uint64
sketch_add_counts(Sketch *sketch, int32 key_lo, const uint8 *counts,
				  uint32 n, MemoryContext cxt)
{
	uint32		first = 0;
	uint32		last = n;
	uint64		total;
	uint32		k;

	while (first < n && counts[first] == 0)
		first++;
	if (first == n)
		return 0;
	while (counts[last - 1] == 0)
		last--;
	sketch_add_key(sketch, key_lo + (int32) (last - 1), counts[last - 1], cxt);
	total = counts[last - 1];
	if (first == last - 1)
		return total;
	sketch_add_key(sketch, key_lo + (int32) first, counts[first], cxt);
	total += counts[first];
	for (k = first + 1; k < last - 1; k++)
	{
		int32		key = Max(key_lo + (int32) k, sketch->lo);

		bin_add(&sketch->bins[key - sketch->base], counts[k]);
		total += counts[k];
	}
	return total;
}

/* sketch_add for a zero, or a key outside the bins in use. */
void
sketch_add_slow(Sketch *sketch, double value, MemoryContext cxt)
{
	if (value == 0.0)
	{
		if (unlikely(sketch->zero_count == PG_UINT64_MAX))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("too many zero durations in one quarter hour of a traffic value")));
		sketch->zero_count++;
		return;
	}
	sketch_add_key(sketch, sketch_key(value), 1, cxt);
}

void
sketch_merge(Sketch *dst, const Sketch *src, MemoryContext cxt)
{
	int32		i;

	if (src->zero_count > PG_UINT64_MAX - dst->zero_count)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("too many zero durations in one quarter hour of a traffic value")));
	dst->zero_count += src->zero_count;
	if (src->nbins == 0)
		return;

	/* The common case: the union of both ranges fits; make room once. */
	if (dst->nbins == 0 ||
		Max(dst->lo + dst->nbins, src->lo + src->nbins) - Min(dst->lo, src->lo)
		<= SKETCH_MAX_BINS)
	{
		int32		lo = dst->nbins == 0 ? src->lo : Min(dst->lo, src->lo);
		int32		end = dst->nbins == 0 ? src->lo + src->nbins :
			Max(dst->lo + dst->nbins, src->lo + src->nbins);
		const uint32 *from = src->bins + (src->lo - src->base);
		uint32	   *to;

		sketch_reserve(dst, lo, end - 1, cxt);
		dst->lo = lo;
		dst->nbins = end - lo;
		to = dst->bins + (src->lo - dst->base);
		for (i = 0; i < src->nbins; i++)
			bin_add(&to[i], from[i]);
		return;
	}

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
	double		value;

	sketch_quantiles(sketch, &fraction, 1, &value);
	return value;
}

/*
 * sketch_quantile of n fractions in ascending order, into values: one pass
 * over the bins for all of them.
 */
void
sketch_quantiles(const Sketch *sketch, const double *fractions, int n,
				 double *values)
{
	uint64		total = sketch_total(sketch);
	uint64		seen = sketch->zero_count;
	int32		i = 0;
	int			k;

	for (k = 0; k < n; k++)
	{
		uint64		rank;

		Assert(k == 0 || fractions[k] >= fractions[k - 1]);
		if (total == 0)
		{
			values[k] = get_float8_nan();
			continue;
		}
		rank = (uint64) ceil(fractions[k] * (double) total);
		rank = Max(rank, 1);
		rank = Min(rank, total);
		if (sketch->zero_count >= rank)
		{
			values[k] = 0.0;
			continue;
		}
		/* the bins add up to total, so the walk stops at rank */
		while (seen < rank && i < sketch->nbins)
			seen += sketch->bins[sketch->lo - sketch->base + i++];
		values[k] = sketch_key_value(sketch->lo + i - 1);
	}
}
