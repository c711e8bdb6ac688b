/*-------------------------------------------------------------------------
 *
 * sketch.h
 *	  A mergeable log-bucket quantile sketch (in the manner of DDSketch).
 *
 * Values are counted in bins whose bounds grow geometrically by SKETCH_GAMMA,
 * so any quantile is answered with a bounded *relative* error, whatever the
 * distribution, and two sketches merge exactly by adding bin counts.  The
 * bins are a dense array over the keys in use; when a sketch would need more
 * than SKETCH_MAX_BINS bins, the lowest ones are collapsed together, which
 * keeps its size bounded while leaving the upper quantiles exact to the bound.
 *
 * Pure C: no catalog access, no error reporting beyond ereport for overflow.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCALER_SKETCH_H
#define SCALER_SKETCH_H

/*
 * A value's bin comes straight from its IEEE-754 bits: the exponent picks the
 * octave and a table over the top 10 mantissa bits picks one of 38 bins in
 * it.  Bins are then at most a factor 2^(1/38) * (1 + 2^-10) = 1.0194 wide,
 * so a bin's representative is within 0.96% of every value in it, inside
 * the promised 1%.  1024 bins span a factor of about 1.3e8 (say 1
 * microsecond to 2 minutes, in milliseconds) before the lowest collapse.
 */
#define SKETCH_BINS_PER_OCTAVE	38
#define SKETCH_MAX_BINS			1024
/* Every key sketch_key can return lies within +-SKETCH_KEY_LIMIT. */
#define SKETCH_KEY_LIMIT		(1024 * SKETCH_BINS_PER_OCTAVE)

/* bin within the octave, by the top 10 mantissa bits */
extern uint8 sketch_bin_of_mantissa[1024];

/*
 * Key of a positive, finite value: SKETCH_BINS_PER_OCTAVE keys per power of
 * two.  Subnormal values all share the lowest key.
 */
static inline int32
sketch_key(double value)
{
	uint64		bits;
	int32		exponent;

	memcpy(&bits, &value, sizeof(bits));
	exponent = (int32) (bits >> 52) - 1023;
	if (unlikely(exponent == -1023))
		return -1023 * SKETCH_BINS_PER_OCTAVE;
	return exponent * SKETCH_BINS_PER_OCTAVE +
		sketch_bin_of_mantissa[(bits >> 42) & 1023];
}

typedef struct Sketch
{
	uint64		zero_count;		/* values exactly zero */
	int32		lo;				/* key of the lowest bin in use */
	int32		nbins;			/* bins in use: keys lo .. lo + nbins - 1 */
	int32		base;			/* key of bins[0] */
	int32		capacity;		/* allocated length of bins */
	uint32	   *bins;			/* counts, indexed by key - base */
} Sketch;

extern void sketch_init(Sketch *sketch);
extern void sketch_reset(Sketch *sketch);
extern void sketch_prepare_tables(void);
extern double sketch_key_value(int32 key);
extern void sketch_add_slow(Sketch *sketch, double value, MemoryContext cxt);
extern void sketch_bin_overflow(void) pg_attribute_noreturn();
extern void sketch_add_key(Sketch *sketch, int32 key, uint64 count,
						   MemoryContext cxt);
extern uint64 sketch_add_counts(Sketch *sketch, int32 key_lo,
								const uint8 *counts, uint32 n,
								MemoryContext cxt);
extern void sketch_add_pairs(Sketch *sketch, const int32 *keys,
							 const uint32 *counts, int32 n,
							 MemoryContext cxt);
extern void sketch_merge(Sketch *dst, const Sketch *src, MemoryContext cxt);
extern uint64 sketch_total(const Sketch *sketch);
extern double sketch_quantile(const Sketch *sketch, double fraction);
extern void sketch_quantiles(const Sketch *sketch, const double *fractions,
							 int n, double *values);

/* Bins in use, trimmed of empty bins at either end (for serialization). */
extern void sketch_trimmed_range(const Sketch *sketch, int32 *lo, int32 *nbins);
extern uint32 sketch_count_at(const Sketch *sketch, int32 key);

/*
 * Count one value.  Inline, as the aggregate's inner loop calls it for every
 * row with a duration; a zero, or a key outside the bins in use, takes the
 * slow path.
 */
static inline void
sketch_add(Sketch *sketch, double value, MemoryContext cxt)
{
	if (likely(value != 0.0))
	{
		int32		key = sketch_key(value);
		uint32		offset = (uint32) (key - sketch->lo);

		if (likely(offset < (uint32) sketch->nbins))
		{
			uint32	   *bin = &sketch->bins[key - sketch->base];

			if (unlikely(*bin == PG_UINT32_MAX))
				sketch_bin_overflow();
			(*bin)++;
			return;
		}
	}
	sketch_add_slow(sketch, value, cxt);
}

#endif							/* SCALER_SKETCH_H */
