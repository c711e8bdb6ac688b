/*-------------------------------------------------------------------------
 *
 * traffic.h
 *	  The scaler.traffic value: traffic statistics of a group of rows, kept
 *	  per UTC quarter hour so that it costs what its traffic costs.
 *
 * A value holds only the quarter hours (15-minute UTC slots) that have rows,
 * each in one of two forms:
 *
 *	- sparse: a quarter with few rows keeps the rows themselves (minute,
 *	  error flag, duration), 12 bytes a row in memory, 1 to 9 bytes on disk;
 *	- summary: a busy quarter keeps per-minute requests and busy time, its
 *	  errors, the number of durations, the longest one and a quantile sketch.
 *
 * A quarter becomes a summary once it has SUMMARY_MIN_ROWS rows, and never
 * goes back, so the form a quarter takes depends only on the rows in it and
 * not on the plan that aggregated them.  Sums are integers (busy time in
 * microseconds) and every addition is overflow-checked, so any split of the
 * rows (serial, parallel, partitionwise, Citus) gives the same value.
 *
 * The value is independent of time zones: local hours are unions of
 * quarters in every zone whose offset is a multiple of 15 minutes, so the
 * readers (hourly.c) bucket quarters into the session's local hours when
 * they report, exactly as date_trunc('hour', ts) would.
 *
 * In memory a value is an expanded object (see expandeddatum.h), so the
 * aggregate updates it in place row after row; stored or sent it is a flat
 * varlena in network byte order (traffic.c describes the layout).
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCALER_TRAFFIC_H
#define SCALER_TRAFFIC_H

#include <math.h>

#include "common/int.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/expandeddatum.h"

#include "hourbucket.h"
#include "sketch.h"

/* Version of the flat (stored, sent, text) layout written today. */
#define TRAFFIC_FORMAT_VERSION	2

#define MINUTES_PER_QUARTER		15
#define QUARTERS_PER_HOUR		(MINS_PER_HOUR / MINUTES_PER_QUARTER)

/*
 * A quarter with this many rows is kept as a summary.  Below it rows cost
 * less: a summary takes about 300 bytes and its sketch up to 4 kB, 64 rows
 * 768 bytes.
 */
#define SUMMARY_MIN_ROWS		64

/* Longest duration we accept: its microseconds must fit comfortably. */
#define TRAFFIC_MAX_DURATION_MS	1.0e12

/*
 * One row of a sparse quarter, 12 bytes.  key = minute * 4 + has_duration * 2
 * + is_error, with minute counted from 2000-01-01 00:00 UTC (the PostgreSQL
 * epoch); sorting by (key, duration) gives the canonical order.  The
 * duration is kept as the bytes of a float8, so that the struct needs only
 * 4-byte alignment: with thousands of rare functions, rows are most of the
 * memory an aggregate uses.
 *
 * A 32-bit key reaches about 1,000 years either side of the epoch (years
 * 979 to 3020).  A quarter outside that window is always kept as a summary,
 * whatever its rows: still a rule of the quarter and its rows alone.
 */
typedef struct TrafficRow
{
	int32		key;
	uint32		duration_bits[2];	/* float8 duration_ms, 0 when none */
} TrafficRow;

#define ROW_ERROR			1
#define ROW_DURATION		2

/* Quarters -ROW_QUARTER_LIMIT .. ROW_QUARTER_LIMIT - 1 may keep rows. */
#define ROW_QUARTER_LIMIT	INT64CONST(35791394)	/* 2^29 / 15 */

static inline bool
quarter_keeps_rows(int64 quarter)
{
	return quarter >= -ROW_QUARTER_LIMIT && quarter < ROW_QUARTER_LIMIT;
}

/* The key of a row in a quarter for which quarter_keeps_rows holds. */
static inline int32
row_key(int64 minute, bool has_duration, bool is_error)
{
	return (int32) (minute * 4 + (has_duration ? ROW_DURATION : 0) +
					(is_error ? ROW_ERROR : 0));
}

static inline int64
key_minute(int32 key)
{
	return ((int64) key - (key & 3)) / 4;
}

static inline int64
row_minute(const TrafficRow *row)
{
	return key_minute(row->key);
}

/*
 * The compactions ask every row its quarter, so this is one unsigned 32-bit
 * division by a constant (a multiply): a key's minute lies within +-2^29,
 * and counted from ROW_MINUTE_BIAS_QUARTERS quarters before the epoch it is
 * positive, so that division floors.
 */
#define ROW_MINUTE_BIAS_QUARTERS	35791395	/* ceil(2^29 / 15) */

static inline int64
row_quarter(const TrafficRow *row)
{
	int32		minute = (row->key - (row->key & 3)) / 4;
	uint32		biased = (uint32) (minute + MINUTES_PER_QUARTER * ROW_MINUTE_BIAS_QUARTERS);

	return (int64) (biased / MINUTES_PER_QUARTER) - ROW_MINUTE_BIAS_QUARTERS;
}

static inline double
row_duration(const TrafficRow *row)
{
	double		duration_ms;

	memcpy(&duration_ms, row->duration_bits, sizeof(duration_ms));
	return duration_ms;
}

static inline void
row_set(TrafficRow *row, int32 key, double duration_ms)
{
	row->key = key;
	memcpy(row->duration_bits, &duration_ms, sizeof(duration_ms));
}

typedef struct TrafficMinute
{
	int64		requests;
	int64		busy_us;		/* summed durations, in microseconds */
} TrafficMinute;

/*
 * What every row with a duration touches comes first, in one cache line:
 * rows in random order miss the cache on nearly every quarter they visit.
 */
typedef struct TrafficQuarter
{
	int64		quarter;		/* floor(ts / 15 minutes) */
	int64		errors;			/* rows with status >= 500 */
	int64		with_duration;	/* rows with a known duration */
	double		max_ms;			/* longest duration, 0 if none */
	Sketch		sketch;			/* the durations */
	TrafficMinute minutes[MINUTES_PER_QUARTER];
} TrafficQuarter;

/* An entry of the summaries' index: the quarter too, to compare in place. */
typedef struct QuarterSlot
{
	int64		quarter;
	int32		pos;			/* in quarters, or -1 */
} QuarterSlot;

/*
 * A count of the tally (below).  Small, so that more of the tally stays in
 * the cache; a count that wraps is added to its quarter's summary.
 */
typedef uint16 TallyCount;
#define TALLY_COUNT_WRAP	(PG_UINT16_MAX + 1)

/* A minute of the tally's timed part: its rows, and their busy time. */
typedef struct TallyMinute
{
	uint32		requests;
	uint32		busy_us;
} TallyMinute;

/*
 * A row waiting to be counted in the timed part: its minute in the tally's
 * span, its bin (an offset in the timed part's bins) and its duration.
 */
typedef struct TallyPending
{
	uint32		minute;
	uint32		bin;
	double		duration_ms;
} TallyPending;

#define TALLY_PENDING_ROWS	1024

/* The tally's timed part (see Traffic); all zero when there is none. */
typedef struct TallyTimed
{
	TallyMinute *minutes;		/* per minute of the tally's span */
	int32	   *slot_of;		/* per quarter of the span: a slot, or -1 */
	int32	   *slot_pos;		/* per slot: its summary, in quarters */
	double	   *max_ms;			/* per slot: the longest duration counted */
	uint8	   *bins;			/* per slot, nkeys counts of sketch keys */
	TallyPending *pending;		/* rows to count */
	int32		npending;
	int32		nslots;
	int32		slots_capacity;
	int32		scanned;		/* summaries looked at for a slot */
	int32		key_lo;
	uint32		nkeys;			/* 0 when there is no timed part */
} TallyTimed;

typedef struct Traffic
{
	ExpandedObjectHeader hdr;

	/* Summaries, found by quarter through an open-addressing index. */
	TrafficQuarter *quarters;
	int32		nquarters;
	int32		quarters_capacity;
	struct QuarterSlot *index;	/* open addressing; pos -1 when free */
	int32		index_size;		/* a power of two, or 0 */

	/* Rows of sparse quarters, in arrival order until normalized. */
	TrafficRow *rows;
	int32		nrows;
	int32		rows_capacity;

	/*
	 * Set by traffic_normalize: quarters sorted by quarter, rows sorted and
	 * no row in a quarter that has a summary.  Any addition clears it.
	 */
	bool		normalized;

	/*
	 * The quarter of the row before: a row in another quarter than its
	 * predecessor is kept as a row even when its quarter has a summary, and
	 * folded later with others of its quarter, so rows in random order do
	 * not miss the cache on a summary each.
	 */
	int64		last_quarter;
	int32		quarter_run;	/* rows in a row in last_quarter */

	/*
	 * Rows 0 .. settled_rows - 1 are in canonical order and stay rows (no
	 * summary for their quarters, too few for one), as of when the value
	 * had settled_quarters summaries: compacting rows appended after them
	 * in order need not look at them again.
	 */
	int32		settled_rows;
	int32		settled_quarters;

	/* The minute counted last: rows mostly come in time order. */
	TimestampTz recent_from;
	TimestampTz recent_to;
	TrafficQuarter *recent_quarter;
	TrafficMinute *recent_minute;

	/*
	 * The tally: per-minute counts of rows with neither duration nor error,
	 * over a span where such rows are dense (set up by the compaction of
	 * rows in random order, see tally_consider).  Counting one is a single
	 * increment in an array small enough to stay in the cache, where a row
	 * kept for folding later costs a write, a scatter in the counting sort
	 * and a read back.  The counts are rows not yet in the value proper:
	 * tally_flush adds them as summaries' requests or as rows, by the rules
	 * every row follows, before anything reads the value.
	 */
	TallyCount *tally;			/* NULL when there is none */
	TimestampTz tally_from;		/* start of its first minute */
	uint64		tally_span;		/* its length, in microseconds */

	/*
	 * The tally's timed part, for rows with a duration (and no error) in a
	 * quarter of its span that has a summary: such a row can be counted in
	 * any order without changing the value.  It is counted in dense arrays,
	 * 8 bytes a minute and a byte per sketch key of a quarter, where its
	 * summary would cost a cache miss on each of the summary's header,
	 * minute and sketch bin; and it is counted there in batches, from
	 * its queue, so that those misses overlap, where a kept row would cost
	 * a counting sort by quarter too.  Slots are the summaries the timed
	 * part counts for.  A duration whose sketch key is outside key_lo ..
	 * key_lo + nkeys - 1 is kept as a row, as without a tally.  Everything is
	 * added to the summaries before anything reads the value.
	 */
	TallyTimed	timed;

	/* Flat image computed by get_flat_size for flatten_into. */
	StringInfoData flat;
} Traffic;

/* Creating, reading and writing traffic values. */
extern Traffic *traffic_create(MemoryContext parent);
extern Traffic *traffic_create_in(MemoryContext cxt);
extern Traffic *traffic_parse(const char *data, int len, int errcode,
							  MemoryContext parent);
extern void traffic_parse_into(Traffic *traffic, const char *data, int len,
							   int errcode);
extern void traffic_add_datum(Traffic *traffic, Datum datum);
extern void traffic_serialize(Traffic *traffic, StringInfo buf);
extern Traffic *traffic_from_datum(Datum datum);
extern bool traffic_datum_range(Datum datum, int64 *first, int64 *last);
extern bool traffic_flat_first_quarter(const struct varlena *flat, int64 *first);
extern Traffic *traffic_copy_into(Datum datum, MemoryContext parent);
extern Datum traffic_flat_datum(Traffic *traffic);
extern void traffic_merge(Traffic *dst, Traffic *src);
extern void traffic_merge_range(Traffic *dst, Traffic *src, int64 first,
								int64 end);
extern void traffic_normalize(Traffic *traffic);
extern bool traffic_is_empty(Traffic *traffic);
extern int64 traffic_first_minute(Traffic *traffic);
extern void traffic_quarter_range(Traffic *traffic, int64 *first, int64 *last);
extern void traffic_check_duration(double duration_ms);
extern TrafficQuarter *traffic_find_summary(Traffic *traffic, int64 quarter);
extern TrafficQuarter *traffic_get_summary(Traffic *traffic, int64 quarter);
extern void traffic_merge_summary(Traffic *traffic, const TrafficQuarter *src);
extern void traffic_append_rows(Traffic *traffic, const TrafficRow *rows,
								int32 n);

/* The slow path of traffic_add_row. */
extern void traffic_add_row_slow(Traffic *traffic, TimestampTz ts,
								 bool is_error, bool has_duration,
								 double duration_ms);
extern void traffic_tally_wrapped(Traffic *traffic, TimestampTz ts);
extern void traffic_tally_count_pending(Traffic *traffic);

/* Overflow-checked counting: an error (22003) names what overflowed. */
extern void traffic_overflow(const char *what) pg_attribute_noreturn();

static inline void
traffic_add_count(int64 *counter, int64 n, const char *what)
{
	if (unlikely(pg_add_s64_overflow(*counter, n, counter)))
		traffic_overflow(what);
}

/*
 * A quarter's requests.  Each minute's count is checked as it is added, but
 * the readers also refuse a quarter whose minutes add up past 2^63 - 1: a
 * merge checks the totals it adds, and a value is checked when it is
 * flattened (rows cannot come near it, only values given as input).
 */
static inline int64
quarter_requests(const TrafficQuarter *q)
{
	int64		requests = 0;
	int			m;

	for (m = 0; m < MINUTES_PER_QUARTER; m++)
		if (unlikely(pg_add_s64_overflow(requests, q->minutes[m].requests, &requests)))
			traffic_overflow("request count");
	return requests;
}

/*
 * Microseconds of a (checked) duration in milliseconds, rounded half away
 * from zero as llround does, without its call: a checked duration is not
 * negative and its microseconds are below 2^53, so x - trunc(x) is exact.
 */
static inline int64
duration_us(double duration_ms)
{
	double		us = duration_ms * 1000.0;
	int64		whole = (int64) us;

	return whole + (us - (double) whole >= 0.5 ? 1 : 0);
}

/* Count one row (its duration already checked) in a summary's minute. */
static inline void
traffic_count_in_summary(Traffic *traffic, TrafficQuarter *quarter,
						 TrafficMinute *minute, bool is_error,
						 bool has_duration, double duration_ms)
{
	traffic_add_count(&minute->requests, 1, "request count");
	if (is_error)
		traffic_add_count(&quarter->errors, 1, "error count");
	if (has_duration)
	{
		traffic_add_count(&minute->busy_us, duration_us(duration_ms), "busy time");
		traffic_add_count(&quarter->with_duration, 1, "duration count");
		if (duration_ms > quarter->max_ms)
			quarter->max_ms = duration_ms;
		sketch_add(&quarter->sketch, duration_ms, traffic->hdr.eoh_context);
	}
}

/*
 * Count a row with a (checked) duration and no error in the tally's timed
 * part, minute minutes into the tally's span; false when the timed part
 * does not take it.  (A zero duration goes to its sketch's zero count, so
 * it takes the way of rows.)
 */
static inline bool
traffic_tally_timed(Traffic *traffic, uint64 minute, double duration_ms)
{
	uint32		key_offset = (uint32) (sketch_key(duration_ms) - traffic->timed.key_lo);
	int32		slot;
	TallyPending *pending;

	if (key_offset >= traffic->timed.nkeys || duration_ms == 0.0)
		return false;
	slot = traffic->timed.slot_of[minute / MINUTES_PER_QUARTER];
	if (slot < 0)
		return false;
	pending = &traffic->timed.pending[traffic->timed.npending++];
	pending->minute = (uint32) minute;
	pending->bin = (uint32) slot * traffic->timed.nkeys + key_offset;
	pending->duration_ms = duration_ms;
	if (unlikely(traffic->timed.npending == TALLY_PENDING_ROWS))
		traffic_tally_count_pending(traffic);
	return true;
}

/*
 * Count one row.  This is the aggregate's inner loop, hence inline: a row in
 * the minute of the previous row touches only that minute and its quarter.
 */
static inline void
traffic_add_row(Traffic *traffic, TimestampTz ts, bool is_error,
				bool has_duration, double duration_ms)
{
	uint64		tally_offset;

	if (likely(ts >= traffic->recent_from && ts < traffic->recent_to))
		traffic_count_in_summary(traffic, traffic->recent_quarter,
								 traffic->recent_minute, is_error,
								 has_duration, duration_ms);
	/* (unsigned: a ts before tally_from wraps to far past its span) */
	else if (!is_error && traffic->tally != NULL &&
			 (tally_offset = (uint64) ts - (uint64) traffic->tally_from) <
			 traffic->tally_span)
	{
		uint64		minute = tally_offset / USECS_PER_MINUTE;

		if (has_duration)
		{
			if (!traffic_tally_timed(traffic, minute, duration_ms))
				traffic_add_row_slow(traffic, ts, is_error, has_duration,
									 duration_ms);
		}
		else if (unlikely(++traffic->tally[minute] == 0))
			traffic_tally_wrapped(traffic, ts);
	}
	else
		traffic_add_row_slow(traffic, ts, is_error, has_duration, duration_ms);
}

#endif							/* SCALER_TRAFFIC_H */
