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
 * gamma = 1.0195 gives a relative accuracy of (gamma - 1) / (gamma + 1) =
 * 0.966%, just inside the promised 1% with room for rounding in log().
 * 1024 bins then span a factor of about 4e8 (e.g. 1 microsecond to 7 minutes
 * when measuring milliseconds) before the lowest bins are collapsed.
 */
#define SKETCH_GAMMA		1.0195
#define SKETCH_MAX_BINS		1024

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
extern int32 sketch_key(double value);
extern double sketch_key_value(int32 key);
extern void sketch_add(Sketch *sketch, double value, MemoryContext cxt);
extern void sketch_add_key(Sketch *sketch, int32 key, uint64 count,
						   MemoryContext cxt);
extern void sketch_merge(Sketch *dst, const Sketch *src, MemoryContext cxt);
extern uint64 sketch_total(const Sketch *sketch);
extern double sketch_quantile(const Sketch *sketch, double fraction);

/* Bins in use, trimmed of empty bins at either end (for serialization). */
extern void sketch_trimmed_range(const Sketch *sketch, int32 *lo, int32 *nbins);
extern uint32 sketch_count_at(const Sketch *sketch, int32 key);

#endif							/* SCALER_SKETCH_H */
