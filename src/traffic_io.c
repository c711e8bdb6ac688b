/*-------------------------------------------------------------------------
 *
 * traffic_io.c
 *	  The flat form of scaler.traffic (disk, wire and text) and its I/O
 *	  functions.
 *
 * One layout serves disk, the wire and text (text is "traffic:" and the
 * base64 of it), in network byte order.  Version 2:
 *
 *	int32 version, int32 number of quarters, then per quarter in ascending
 *	order: int64 quarter, uint8 form, and
 *	  form 0 (rows): uint8 n (1 .. SUMMARY_MIN_ROWS - 1), n rows in
 *	    canonical order, each uint8 minute-in-quarter | 0x40 error | 0x80
 *	    duration, then float8 duration_ms if it has one;
 *	  form 1 (summary): uint16 mask of minutes with requests, per such minute
 *	    varint requests and varint busy microseconds; varint errors, varint
 *	    with_duration, float8 max_ms, then the sketch: varint zero
 *	    durations, varint number of bins in use, and per bin in ascending
 *	    key order its key (the first as int32, the others as a varint of the
 *	    gap to the previous key minus one) and its count (a varint).
 *
 * Varints are unsigned LEB128: 7 bits a byte, low bits first.
 *
 * Version 1 (scaler 0.1: per-minute counters over the whole span, hours of
 * one time zone) is still read; see read_v1.
 *
 * Every reader goes through one parser (read_v2, read_v1), which checks
 * each field and the consistency between them, so a truncated or hostile
 * value is an error, never a crash, a huge allocation or a count that
 * wraps.  What it cannot check is that a value's figures come from rows:
 * 0.1's hours, spread over quarters, do not keep every quarter's busy time
 * beside its durations, so neither may anyone's.
 * Input functions run it without building the value (a valid value in
 * today's format is stored as it came).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/base64.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "port/pg_bitutils.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "traffic.h"
#include "traffic_stream.h"

PG_FUNCTION_INFO_V1(traffic_in);
PG_FUNCTION_INFO_V1(traffic_out);
PG_FUNCTION_INFO_V1(traffic_recv);
PG_FUNCTION_INFO_V1(traffic_send);

#define TEXT_PREFIX "traffic:"

#define FORM_ROWS		0
#define FORM_SUMMARY	1

#define FLAG_ERROR		0x40
#define FLAG_DURATION	0x80
#define FLAG_MINUTE		0x0f

/* Smallest encoding of one quarter: int64 quarter, form, one row. */
#define FLAT_QUARTER_MIN_BYTES	(8 + 1 + 1 + 1)

/* ---------------------------------------------------------------- writing */

/*
 * The writers put bytes straight into the buffer: a quarter's largest
 * encoding is reserved once, so a value of millions of bins is not written
 * through a function call (and a bounds check) per byte.
 */

/* Most bytes one quarter can take, in either form. */
#define FLAT_ROWS_MAX_BYTES		(8 + 1 + 1 + (SUMMARY_MIN_ROWS - 1) * (1 + 8))
#define FLAT_SUMMARY_MAX_BYTES	(8 + 1 + 2 + MINUTES_PER_QUARTER * 2 * 10 + \
								 2 * 10 + 8 + 2 * 10 + 4 + SKETCH_MAX_BINS * (2 + 5))

static inline uint8 *
put_uint8(uint8 *p, uint8 value)
{
	*p = value;
	return p + 1;
}

static inline uint8 *
put_uint16(uint8 *p, uint16 value)
{
	value = pg_hton16(value);
	memcpy(p, &value, sizeof(value));
	return p + sizeof(value);
}

static inline uint8 *
put_uint32(uint8 *p, uint32 value)
{
	value = pg_hton32(value);
	memcpy(p, &value, sizeof(value));
	return p + sizeof(value);
}

static inline uint8 *
put_uint64(uint8 *p, uint64 value)
{
	value = pg_hton64(value);
	memcpy(p, &value, sizeof(value));
	return p + sizeof(value);
}

static inline uint8 *
put_float8(uint8 *p, double value)
{
	uint64		bits;

	memcpy(&bits, &value, sizeof(bits));
	return put_uint64(p, bits);
}

static inline uint8 *
put_varint(uint8 *p, uint64 value)
{
	while (value >= 0x80)
	{
		*p++ = (uint8) (value | 0x80);
		value >>= 7;
	}
	*p++ = (uint8) value;
	return p;
}

/* Room for bytes more at the end of buf, and where they go. */
static inline uint8 *
reserve(StringInfo buf, int bytes)
{
	enlargeStringInfo(buf, bytes);
	return (uint8 *) buf->data + buf->len;
}

static inline void
commit(StringInfo buf, uint8 *end)
{
	buf->len = (char *) end - buf->data;
	buf->data[buf->len] = '\0';
}

static void
write_rows(StringInfo buf, const TrafficRow *rows, int32 n, int64 quarter)
{
	uint8	   *p = reserve(buf, FLAT_ROWS_MAX_BYTES);
	int32		i;

	Assert(n > 0 && n < SUMMARY_MIN_ROWS);
	p = put_uint64(p, (uint64) quarter);
	p = put_uint8(p, FORM_ROWS);
	p = put_uint8(p, (uint8) n);
	for (i = 0; i < n; i++)
	{
		int64		minute = row_minute(&rows[i]) - quarter * MINUTES_PER_QUARTER;
		uint8		flags = (uint8) minute;

		if (rows[i].key & ROW_ERROR)
			flags |= FLAG_ERROR;
		if (rows[i].key & ROW_DURATION)
			flags |= FLAG_DURATION;
		p = put_uint8(p, flags);
		if (rows[i].key & ROW_DURATION)
			p = put_float8(p, row_duration(&rows[i]));
	}
	commit(buf, p);
}

/*
 * Only the bins in use: a quarter's durations rarely fill a wide range.
 * One branch-free pass marks the bins in use, 64 to a word, and counts
 * them; the second visits only those.  Testing each bin as it is written
 * mispredicted about once per bin in use, which was most of the cost of
 * writing a value of sparse sketches out.
 */
static uint8 *
write_sketch(uint8 *p, const Sketch *sketch)
{
	uint64		in_use[SKETCH_MAX_BINS / 64];
	int32		lo;
	int32		nbins;
	const uint32 *bins;
	uint32		used = 0;
	int32		prev = -1;
	int32		k;
	int32		w;

	sketch_trimmed_range(sketch, &lo, &nbins);
	/* (a sketch collapses its lowest bins rather than grow past this) */
	if (unlikely(nbins > SKETCH_MAX_BINS))
		elog(ERROR, "sketch of %d bins, more than %d", nbins, SKETCH_MAX_BINS);
	bins = nbins > 0 ? sketch->bins + (lo - sketch->base) : NULL;
	for (w = 0; w * 64 < nbins; w++)
	{
		const uint32 *chunk = &bins[w * 64];
		int32		n = Min(64, nbins - w * 64);
		uint64		word = 0;

		for (k = 0; k < n; k++)
			word |= (uint64) (chunk[k] != 0) << k;
		in_use[w] = word;
		used += (uint32) pg_popcount64(word);
	}
	p = put_varint(p, sketch->zero_count);
	p = put_varint(p, (uint64) used);
	for (w = 0; w * 64 < nbins; w++)
	{
		uint64		word = in_use[w];

		while (word != 0)
		{
			k = w * 64 + pg_rightmost_one_pos64(word);
			word &= word - 1;
			if (prev < 0)
				p = put_uint32(p, (uint32) lo);
			else
				p = put_varint(p, (uint64) (k - prev - 1));
			p = put_varint(p, bins[k]);
			prev = k;
		}
	}
	return p;
}

static void
write_summary(StringInfo buf, const TrafficQuarter *q)
{
	uint8	   *p = reserve(buf, FLAT_SUMMARY_MAX_BYTES);
	uint16		mask = 0;
	int			m;

	/* (what the readers check: see quarter_requests) */
	(void) quarter_requests(q);
	for (m = 0; m < MINUTES_PER_QUARTER; m++)
		if (q->minutes[m].requests > 0)
			mask |= (uint16) (1 << m);
	p = put_uint64(p, (uint64) q->quarter);
	p = put_uint8(p, FORM_SUMMARY);
	p = put_uint16(p, mask);
	for (m = 0; m < MINUTES_PER_QUARTER; m++)
	{
		if (q->minutes[m].requests == 0)
			continue;
		p = put_varint(p, (uint64) q->minutes[m].requests);
		p = put_varint(p, (uint64) q->minutes[m].busy_us);
	}
	p = put_varint(p, (uint64) q->errors);
	p = put_varint(p, (uint64) q->with_duration);
	p = put_float8(p, q->max_ms);
	p = write_sketch(p, &q->sketch);
	commit(buf, p);
}

void
traffic_serialize(Traffic *traffic, StringInfo buf)
{
	int32		nquarters = 0;
	int32		s = 0;
	int32		r = 0;
	int32		i;

	traffic_normalize(traffic);

	/* Count distinct quarters: summaries, then quarters of rows. */
	nquarters = traffic->nquarters;
	for (i = 0; i < traffic->nrows; i++)
		if (i == 0 ||
			row_quarter(&traffic->rows[i]) != row_quarter(&traffic->rows[i - 1]))
			nquarters++;

	pq_sendint32(buf, TRAFFIC_FORMAT_VERSION);
	pq_sendint32(buf, nquarters);
	while (s < traffic->nquarters || r < traffic->nrows)
	{
		int64		row_q = r < traffic->nrows ?
			row_quarter(&traffic->rows[r]) : PG_INT64_MAX;

		CHECK_FOR_INTERRUPTS();
		if (s < traffic->nquarters && traffic->quarters[s].quarter < row_q)
			write_summary(buf, &traffic->quarters[s++]);
		else
		{
			int32		end = r + 1;

			while (end < traffic->nrows && row_quarter(&traffic->rows[end]) == row_q)
				end++;
			write_rows(buf, &traffic->rows[r], end - r, row_q);
			r = end;
		}
	}
}

/* ---------------------------------------------------------------- reading */

/*
 * A reader over the flat bytes that turns any overrun into an error.  The
 * fields are read in place, inline: parsing is what a coordinator does
 * with every partial state it receives.
 */
typedef struct FlatReader
{
	const uint8 *p;
	const uint8 *end;
	int			errcode;
	bool		canonical;		/* would be written back byte for byte */
	int64		first_quarter;	/* of a version 2 value; PG_INT64_MAX if none */
} FlatReader;

static void pg_attribute_noreturn()
flat_invalid(FlatReader *reader, const char *detail)
{
	ereport(ERROR,
			(errcode(reader->errcode),
			 errmsg("invalid scaler.traffic value"),
			 errdetail_internal("%s", detail)));
}

static inline int
flat_remaining(FlatReader *reader)
{
	return (int) (reader->end - reader->p);
}

static inline void
flat_need(FlatReader *reader, int bytes)
{
	if (unlikely(bytes < 0 || flat_remaining(reader) < bytes))
		flat_invalid(reader, "The value is truncated.");
}

static inline uint8
flat_uint8(FlatReader *reader)
{
	flat_need(reader, 1);
	return *reader->p++;
}

static inline uint16
flat_uint16(FlatReader *reader)
{
	uint16		value;

	flat_need(reader, sizeof(value));
	memcpy(&value, reader->p, sizeof(value));
	reader->p += sizeof(value);
	return pg_ntoh16(value);
}

static inline int32
flat_int32(FlatReader *reader)
{
	uint32		value;

	flat_need(reader, sizeof(value));
	memcpy(&value, reader->p, sizeof(value));
	reader->p += sizeof(value);
	return (int32) pg_ntoh32(value);
}

static inline int64
flat_int64(FlatReader *reader)
{
	uint64		value;

	flat_need(reader, sizeof(value));
	memcpy(&value, reader->p, sizeof(value));
	reader->p += sizeof(value);
	return (int64) pg_ntoh64(value);
}

static inline double
flat_float8(FlatReader *reader)
{
	uint64		bits = (uint64) flat_int64(reader);
	double		value;

	memcpy(&value, &bits, sizeof(value));
	return value;
}

static int64
flat_count(FlatReader *reader, const char *what)
{
	int64		n = flat_int64(reader);

	if (n < 0)
		flat_invalid(reader, what);
	return n;
}

static pg_noinline uint64
flat_varint_slow(FlatReader *reader)
{
	uint64		value = 0;
	int			shift;

	for (shift = 0; shift < 64; shift += 7)
	{
		uint8		byte = flat_uint8(reader);

		if (shift == 63 && byte > 1)
			break;
		value |= (uint64) (byte & 0x7f) << shift;
		if ((byte & 0x80) == 0)
		{
			/* one encoding per value: no trailing zero bytes */
			if (byte == 0 && shift > 0)
				flat_invalid(reader, "Overlong varint.");
			return value;
		}
	}
	flat_invalid(reader, "Varint out of range.");
}

/* Most varints are one byte: that case is a test and a load. */
static inline uint64
flat_varint(FlatReader *reader)
{
	if (likely(reader->p < reader->end && *reader->p < 0x80))
		return *reader->p++;
	return flat_varint_slow(reader);
}

/* A count stored as a varint: at most 2^63 - 1. */
static int64
flat_varcount(FlatReader *reader, const char *what)
{
	uint64		n = flat_varint(reader);

	if (n > (uint64) PG_INT64_MAX)
		flat_invalid(reader, what);
	return (int64) n;
}

/* -0.0 is not canonical: rows and the transition store +0.0 */
static inline bool
duration_valid(double ms)
{
	return !isnan(ms) && ms >= 0.0 && ms <= TRAFFIC_MAX_DURATION_MS &&
		!(ms == 0.0 && signbit(ms));
}

static inline double
flat_duration(FlatReader *reader)
{
	double		ms = flat_float8(reader);

	if (!duration_valid(ms))
		flat_invalid(reader, "Bad duration.");
	return ms;
}

/* A quarter number whose instants are all valid timestamps. */
static bool
valid_quarter(int64 quarter)
{
	return quarter >= MIN_TIMESTAMP / USECS_PER_QUARTER &&
		quarter < END_TIMESTAMP / USECS_PER_QUARTER;
}

/*
 * The bins of a summary's sketch as read: its keys in use, ascending, with
 * their counts (above zero), and its zero durations.  Kept as pairs, not as
 * dense bins, since most of a busy quarter's span of keys is empty: checking
 * a value then writes nothing but the pairs, and merging one adds only them.
 */
typedef struct SketchPairs
{
	uint64		zero;			/* zero durations */
	int32		n;				/* keys in use */
	int32		keys[SKETCH_MAX_BINS];	/* within SKETCH_MAX_BINS of keys[0] */
	uint32		counts[SKETCH_MAX_BINS];
} SketchPairs;

/*
 * The bins of a summary's sketch, checked, into pairs; the total is returned
 * so the caller can check it against the duration count.
 */
static uint64
read_sketch_pairs(FlatReader *reader, SketchPairs *pairs)
{
	uint64		total = flat_varint(reader);
	uint64		used = flat_varint(reader);
	int64		key = 0;
	int64		first = 0;
	int32		i;

	if (used > SKETCH_MAX_BINS || used > (uint64) flat_remaining(reader) / 2)
		flat_invalid(reader, "Bad sketch bins.");
	pairs->zero = total;
	pairs->n = (int32) used;
	for (i = 0; i < (int32) used; i++)
	{
		uint64		count;

		if (i == 0)
			key = first = flat_int32(reader);
		else
		{
			uint64		gap = flat_varint(reader);

			if (gap >= SKETCH_MAX_BINS)
				flat_invalid(reader, "Bad sketch bins.");
			key += (int64) gap + 1;
		}
		if (key < -SKETCH_KEY_LIMIT || key > SKETCH_KEY_LIMIT ||
			key - first >= SKETCH_MAX_BINS)
			flat_invalid(reader, "Bad sketch bins.");
		count = flat_varint(reader);
		if (count == 0 || count > PG_UINT32_MAX)
			flat_invalid(reader, "Bad sketch count.");
		/* (a total that wrapped could equal the duration count again) */
		if (pg_add_u64_overflow(total, count, &total))
			flat_invalid(reader, "Bad sketch count.");
		pairs->keys[i] = (int32) key;
		pairs->counts[i] = (uint32) count;
	}
	return total;
}

/* The sketch of a 0.1 hour: dense uint32 counts over [lo, lo + nbins). */
static uint64
read_sketch_v1(FlatReader *reader, Traffic *traffic, Sketch *sketch)
{
	uint64		total = (uint64) flat_count(reader, "Bad sketch zero count.");
	int32		lo = flat_int32(reader);
	int32		nbins = flat_int32(reader);
	int32		k;

	if (nbins < 0 || nbins > SKETCH_MAX_BINS ||
		lo < -SKETCH_KEY_LIMIT || lo > SKETCH_KEY_LIMIT - nbins + 1 ||
		nbins > flat_remaining(reader) / 4)
		flat_invalid(reader, "Bad sketch bins.");
	sketch->zero_count = total;
	for (k = 0; k < nbins; k++)
	{
		uint32		count = (uint32) flat_int32(reader);

		total += count;
		if (count > 0)
			sketch_add_key(sketch, lo + k, count, traffic->hdr.eoh_context);
	}
	return total;
}

/*
 * The rows of a quarter kept as rows, checked (flags, durations, canonical
 * order) and decoded into rows[]; their number is returned.  A report over
 * a rollup decodes every row it reads here, so the bytes are read through
 * a local pointer (not the reader's, which the compiler would store back
 * after every byte), and rows are ordered by their key within the quarter,
 * (minute, has duration, is error), which orders them as the keys of the
 * in-memory rows do.
 */
static inline int
decode_rows(FlatReader *reader, int64 quarter, StreamRow *rows)
{
	int			n = flat_uint8(reader);
	const uint8 *p = reader->p;
	int			prev_key = -1;
	double		prev_ms = 0.0;
	int			i;

	if (n < 1 || n >= SUMMARY_MIN_ROWS)
		flat_invalid(reader, "Bad number of rows in a quarter.");
	for (i = 0; i < n; i++)
	{
		uint8		flags;
		int			key;
		double		duration_ms = 0.0;

		if (unlikely(p >= reader->end))
			flat_invalid(reader, "The value is truncated.");
		flags = *p++;
		if ((flags & FLAG_MINUTE) >= MINUTES_PER_QUARTER ||
			(flags & ~(FLAG_MINUTE | FLAG_ERROR | FLAG_DURATION)) != 0)
			flat_invalid(reader, "Bad row flags.");
		key = (flags & FLAG_MINUTE) * 4 +
			((flags & FLAG_DURATION) ? ROW_DURATION : 0) +
			((flags & FLAG_ERROR) ? ROW_ERROR : 0);
		if (flags & FLAG_DURATION)
		{
			uint64		bits;

			if (unlikely(reader->end - p < (ptrdiff_t) sizeof(bits)))
				flat_invalid(reader, "The value is truncated.");
			memcpy(&bits, p, sizeof(bits));
			p += sizeof(bits);
			bits = pg_ntoh64(bits);
			memcpy(&duration_ms, &bits, sizeof(duration_ms));
			if (!duration_valid(duration_ms))
				flat_invalid(reader, "Bad duration.");
		}
		if (key < prev_key || (key == prev_key && duration_ms < prev_ms))
			flat_invalid(reader, "Rows out of order.");
		prev_key = key;
		prev_ms = duration_ms;
		rows[i].duration_ms = duration_ms;
		rows[i].minute = flags & FLAG_MINUTE;
		rows[i].is_error = (flags & FLAG_ERROR) != 0;
		rows[i].has_duration = (flags & FLAG_DURATION) != 0;
	}
	reader->p = p;
	return n;
}

/*
 * A quarter kept as rows: appended to the value in canonical order (or only
 * checked, when traffic is NULL).
 */
static void
read_rows(FlatReader *reader, Traffic *traffic, int64 quarter)
{
	StreamRow	decoded[SUMMARY_MIN_ROWS];
	TrafficRow	rows[SUMMARY_MIN_ROWS];
	int			n = decode_rows(reader, quarter, decoded);
	bool		as_rows;
	int			i;

	/* valid, but kept as a summary in memory, so not canonical */
	if (!quarter_keeps_rows(quarter))
		reader->canonical = false;
	if (traffic == NULL)
		return;
	/* rows of a quarter without a summary are appended as they are */
	as_rows = quarter_keeps_rows(quarter) &&
		traffic_find_summary(traffic, quarter) == NULL;
	for (i = 0; i < n; i++)
	{
		int64		minute = quarter * MINUTES_PER_QUARTER + decoded[i].minute;

		if (as_rows)
			row_set(&rows[i], row_key(minute, decoded[i].has_duration,
									  decoded[i].is_error),
					decoded[i].duration_ms);
		else
			traffic_add_row(traffic, minute * USECS_PER_MINUTE,
							decoded[i].is_error, decoded[i].has_duration,
							decoded[i].duration_ms);
	}
	if (as_rows)
		traffic_append_rows(traffic, rows, n);
}

/*
 * The counters of a summary (its minutes, errors, durations, longest
 * duration) into q, whose minutes not in the mask must be zero, checked.
 */
static void
read_summary_counts(FlatReader *reader, TrafficQuarter *q)
{
	uint16		mask = flat_uint16(reader);
	int64		requests = 0;
	int			m;

	if (mask == 0 || mask >= (1 << MINUTES_PER_QUARTER))
		flat_invalid(reader, "Bad minute mask.");
	for (m = 0; m < MINUTES_PER_QUARTER; m++)
	{
		if ((mask & (1 << m)) == 0)
			continue;
		q->minutes[m].requests = flat_varcount(reader, "Bad request count.");
		q->minutes[m].busy_us = flat_varcount(reader, "Bad busy time.");
		if (q->minutes[m].requests == 0)
			flat_invalid(reader, "A minute of the mask has no requests.");
		/* (a count past int64 is 22003 wherever it is added) */
		if (pg_add_s64_overflow(requests, q->minutes[m].requests, &requests))
			traffic_overflow("request count");
	}
	q->errors = flat_varcount(reader, "Bad error count.");
	q->with_duration = flat_varcount(reader, "Bad duration count.");
	q->max_ms = flat_duration(reader);
	if (q->errors > requests || q->with_duration > requests)
		flat_invalid(reader, "A quarter has more errors or durations than requests.");
	if (q->with_duration == 0 && q->max_ms != 0.0)
		flat_invalid(reader, "A longest duration without durations.");
}

/*
 * A quarter kept as a summary.  Read straight into the value when it has no
 * summary of that quarter yet (parsing a value, or the first partial state a
 * coordinator combines), else added to the one it has; when traffic is NULL,
 * only checked.
 */
static void
read_summary(FlatReader *reader, Traffic *traffic, int64 quarter)
{
	SketchPairs pairs;
	TrafficQuarter local;
	TrafficQuarter *q = &local;
	TrafficQuarter *have = NULL;

	if (traffic != NULL)
		have = traffic_find_summary(traffic, quarter);
	if (traffic != NULL && have == NULL)
		q = traffic_get_summary(traffic, quarter);
	else
	{
		memset(&local, 0, sizeof(local));
		local.quarter = quarter;
		sketch_init(&local.sketch);
	}
	read_summary_counts(reader, q);
	if (read_sketch_pairs(reader, &pairs) != (uint64) q->with_duration)
		flat_invalid(reader, "Sketch does not match the duration count.");
	if (traffic == NULL)
		return;

	/* the counts, and the zero durations, then the bins */
	q->sketch.zero_count = pairs.zero;
	if (have != NULL)
	{
		traffic_merge_summary(traffic, &local);
		q = have;
	}
	sketch_add_pairs(&q->sketch, pairs.keys, pairs.counts, pairs.n,
					 traffic->hdr.eoh_context);
}

static void
read_v2(FlatReader *reader, Traffic *traffic)
{
	int32		nquarters = flat_int32(reader);
	int64		prev = PG_INT64_MIN;
	int32		i;

	if (nquarters < 0 || nquarters > flat_remaining(reader) / FLAT_QUARTER_MIN_BYTES)
		flat_invalid(reader, "Bad number of quarters.");
	for (i = 0; i < nquarters; i++)
	{
		int64		quarter = flat_int64(reader);
		uint8		form = flat_uint8(reader);

		CHECK_FOR_INTERRUPTS();
		if (!valid_quarter(quarter) || quarter <= prev)
			flat_invalid(reader, "Quarters out of order or out of range.");
		prev = quarter;
		if (i == 0)
			reader->first_quarter = quarter;
		if (form == FORM_ROWS)
			read_rows(reader, traffic, quarter);
		else if (form == FORM_SUMMARY)
			read_summary(reader, traffic, quarter);
		else
			flat_invalid(reader, "Unknown quarter form.");
	}
}

/* ------------------------------------------------------------ streaming */

/* A reader at the stream's position; stream_close puts the position back. */
static inline void
stream_open(TrafficStream *stream, FlatReader *reader)
{
	reader->p = stream->p;
	reader->end = stream->end;
	reader->errcode = stream->errcode;
	reader->canonical = true;
	reader->first_quarter = PG_INT64_MAX;
}

static inline void
stream_close(TrafficStream *stream, FlatReader *reader)
{
	stream->p = reader->p;
}

/*
 * Start reading a flat value quarter by quarter; false (nothing read) when
 * it is not in today's format, which the caller then parses whole.
 */
bool
traffic_stream_begin(TrafficStream *stream, const char *data, int len,
					 int errcode)
{
	FlatReader	reader;
	int32		nquarters;

	stream->p = (const uint8 *) data;
	stream->end = stream->p + len;
	stream->errcode = errcode;
	stream->left = 0;
	stream->prev = PG_INT64_MIN;
	stream_open(stream, &reader);
	if (flat_int32(&reader) != 2)
		return false;
	nquarters = flat_int32(&reader);
	if (nquarters < 0 || nquarters > flat_remaining(&reader) / FLAT_QUARTER_MIN_BYTES)
		flat_invalid(&reader, "Bad number of quarters.");
	stream->left = nquarters;
	stream_close(stream, &reader);
	return true;
}

/*
 * The next quarter the stream holds, checked but not read; PG_INT64_MAX
 * once every quarter is read (and the value has no trailing bytes).
 */
int64
traffic_stream_peek(TrafficStream *stream)
{
	FlatReader	reader;
	int64		quarter;

	stream_open(stream, &reader);
	if (stream->left == 0)
	{
		if (reader.p != reader.end)
			flat_invalid(&reader, "Trailing bytes.");
		return PG_INT64_MAX;
	}
	quarter = flat_int64(&reader);
	if (!valid_quarter(quarter) || quarter <= stream->prev)
		flat_invalid(&reader, "Quarters out of order or out of range.");
	return quarter;
}

/*
 * Read the next quarter (traffic_stream_peek said there is one) into
 * stream->rows or stream->summary, with the checks the parser makes.
 */
void
traffic_stream_read(TrafficStream *stream)
{
	FlatReader	reader;
	uint8		form;

	CHECK_FOR_INTERRUPTS();
	Assert(stream->left > 0);
	stream_open(stream, &reader);
	stream->quarter = flat_int64(&reader);
	form = flat_uint8(&reader);
	stream->prev = stream->quarter;
	stream->left--;
	if (form == FORM_ROWS)
	{
		stream->is_summary = false;
		stream->nrows = decode_rows(&reader, stream->quarter, stream->rows);
	}
	else if (form == FORM_SUMMARY)
	{
		TrafficQuarter *q = &stream->summary;
		Sketch	   *sketch = &q->sketch;
		SketchPairs pairs_read;
		SketchPairs *pairs = &pairs_read;
		int32		nbins = 0;
		int32		i;

		stream->is_summary = true;
		memset(q->minutes, 0, sizeof(q->minutes));
		q->quarter = stream->quarter;
		read_summary_counts(&reader, q);
		if (read_sketch_pairs(&reader, pairs) != (uint64) q->with_duration)
			flat_invalid(&reader, "Sketch does not match the duration count.");

		/* the sketch borrows the stream's bins: it is only read */
		if (pairs->n > 0)
			nbins = pairs->keys[pairs->n - 1] - pairs->keys[0] + 1;
		memset(stream->counts, 0, sizeof(uint32) * nbins);
		for (i = 0; i < pairs->n; i++)
			stream->counts[pairs->keys[i] - pairs->keys[0]] = pairs->counts[i];
		sketch->zero_count = pairs->zero;
		sketch->lo = sketch->base = pairs->n > 0 ? pairs->keys[0] : 0;
		sketch->nbins = sketch->capacity = nbins;
		sketch->bins = stream->counts;
	}
	else
		flat_invalid(&reader, "Unknown quarter form.");
	stream_close(stream, &reader);
}

/*
 * Version 1, as scaler 0.1 wrote it:
 *
 *	int32 version, int32 length + time zone name,
 *	int64 first minute, int32 n, int64 requests[n], float8 duration_ms[n],
 *	int32 hours, per hour: int64 start, int64 errors, int64 with_duration,
 *	float8 max_ms, int64 zero durations, int32 lowest key, int32 nbins,
 *	uint32 counts[nbins].
 *
 * Each minute becomes a minute of a summary (busy time rounded to whole
 * microseconds).  An hour's errors and durations are spread over the
 * quarters of that hour (in the value's own zone) that have requests, each
 * quarter taking at most as many as it has requests, the sketch's bins in
 * key order; the hour, read in the zone the value was made in, therefore
 * reports exactly what 0.1 reported.
 */
typedef struct V1Hour
{
	TimestampTz start;
	int64		errors;
	int64		with_duration;
	double		max_ms;
	Sketch		sketch;
} V1Hour;

static void
v1_spread_hour(FlatReader *reader, Traffic *traffic, V1Hour *hour, pg_tz *tz)
{
	int64		errors = hour->errors;
	int64		durations = hour->with_duration;
	uint64		zeros = hour->sketch.zero_count;
	int32		key = hour->sketch.lo;
	int32		key_end = hour->sketch.lo + hour->sketch.nbins;
	uint64		key_left = sketch_count_at(&hour->sketch, key);
	int64		quarter = quarter_of(hour->start);
	int64		q;

	/* A bucket starts at most 90 minutes before the end of its minutes. */
	for (q = quarter - 2; q < quarter + 8 && (errors > 0 || durations > 0); q++)
	{
		TrafficQuarter *summary;
		int64		requests;
		int64		take;
		int64		taken = 0;

		if (hour_bucket(q * USECS_PER_QUARTER, tz) != hour->start)
			continue;
		summary = traffic_find_summary(traffic, q);
		if (summary == NULL)
			continue;
		requests = quarter_requests(summary);

		take = Min(errors, requests - summary->errors);
		summary->errors += take;
		errors -= take;

		/* Durations, lowest first: zeros, then bin by bin. */
		while (durations > 0 && summary->with_duration < requests)
		{
			uint64		room = (uint64) (requests - summary->with_duration);
			uint64		n;

			if (zeros > 0)
			{
				n = Min(zeros, room);
				summary->sketch.zero_count += n;
				zeros -= n;
			}
			else
			{
				while (key_left == 0 && key < key_end)
					key_left = sketch_count_at(&hour->sketch, ++key);
				if (key >= key_end)
					break;
				n = Min(key_left, room);
				sketch_add_key(&summary->sketch, key, n, traffic->hdr.eoh_context);
				key_left -= n;
				summary->max_ms = Max(summary->max_ms,
									  Min(sketch_key_value(key), hour->max_ms));
			}
			summary->with_duration += (int64) n;
			durations -= (int64) n;
			taken += (int64) n;
		}
		/* the quarter holding the hour's longest duration says so */
		if (taken > 0 && durations == 0)
			summary->max_ms = hour->max_ms;
	}
	if (errors > 0 || durations > 0)
		flat_invalid(reader, "An hour has more errors or durations than requests.");
}

/*
 * The minutes of a 0.1 value (first minute, count, requests, busy time),
 * each a minute of its quarter's summary in traffic.
 */
static void
read_v1_minutes(FlatReader *reader, Traffic *traffic)
{
	int64		first;
	int32		nminutes;
	int64	   *requests;
	int32		i;

	first = flat_int64(reader);
	nminutes = flat_int32(reader);
	if (nminutes < 0 || nminutes > flat_remaining(reader) / 16)
		flat_invalid(reader, "Bad number of minutes.");
	if (nminutes > 0 &&
		(first < MIN_TIMESTAMP / USECS_PER_MINUTE ||
		 first > END_TIMESTAMP / USECS_PER_MINUTE - nminutes))
		flat_invalid(reader, "Minutes out of range.");
	requests = palloc(sizeof(int64) * Max(nminutes, 1));
	for (i = 0; i < nminutes; i++)
		requests[i] = flat_count(reader, "Negative request count.");
	for (i = 0; i < nminutes; i++)
	{
		double		ms = flat_float8(reader);
		int64		minute = first + i;
		int64		quarter = floor_div(minute, MINUTES_PER_QUARTER);
		TrafficQuarter *summary;
		TrafficMinute *m;

		if ((i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		/* (its microseconds must fit in an int64) */
		if (isnan(ms) || ms < 0.0 || ms * 1000.0 >= (double) PG_INT64_MAX)
			flat_invalid(reader, "Bad duration sum.");
		if (requests[i] == 0)
		{
			if (ms > 0)
				flat_invalid(reader, "Duration in a minute without requests.");
			continue;
		}
		summary = traffic_get_summary(traffic, quarter);
		m = &summary->minutes[minute - quarter * MINUTES_PER_QUARTER];
		/* (each minute once, into an empty value) */
		m->requests = requests[i];
		m->busy_us = duration_us(ms);
	}
	pfree(requests);
	/* a quarter's minutes, each in range, may add up past 2^63 - 1: 22003 */
	for (i = 0; i < traffic->nquarters; i++)
	{
		if ((i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		(void) quarter_requests(&traffic->quarters[i]);
	}
}

/* A 0.1 value, read into an empty one (see traffic_parse_into). */
static void
read_v1(FlatReader *reader, Traffic *traffic)
{
	char		tzname[TZ_STRLEN_MAX + 1];
	int32		tzlen = flat_int32(reader);
	pg_tz	   *tz;
	int32		nhours;
	int32		i;
	TimestampTz prev_start = DT_NOBEGIN;

	Assert(traffic_is_empty(traffic));
	if (tzlen <= 0 || tzlen > TZ_STRLEN_MAX)
		flat_invalid(reader, "Bad time zone name length.");
	flat_need(reader, tzlen);
	memcpy(tzname, reader->p, tzlen);
	tzname[tzlen] = '\0';
	reader->p += tzlen;
	if (strlen(tzname) != tzlen)
		flat_invalid(reader, "Bad time zone name.");
	tz = pg_tzset(tzname);
	if (tz == NULL)
		flat_invalid(reader, "Unknown time zone.");

	read_v1_minutes(reader, traffic);

	nhours = flat_int32(reader);
	if (nhours < 0 || nhours > flat_remaining(reader) / 48)
		flat_invalid(reader, "Bad number of hours.");
	for (i = 0; i < nhours; i++)
	{
		V1Hour		hour;
		uint64		total;

		CHECK_FOR_INTERRUPTS();
		hour.start = flat_int64(reader);
		hour.errors = flat_count(reader, "Bad hour counters.");
		hour.with_duration = flat_count(reader, "Bad hour counters.");
		hour.max_ms = flat_duration(reader);
		if (!IS_VALID_TIMESTAMP(hour.start) || hour.start <= prev_start)
			flat_invalid(reader, "Hours out of order or out of range.");
		prev_start = hour.start;
		if (hour.with_duration == 0 && hour.max_ms != 0.0)
			flat_invalid(reader, "Bad hour counters.");
		sketch_init(&hour.sketch);
		total = read_sketch_v1(reader, traffic, &hour.sketch);
		if (total != (uint64) hour.with_duration)
			flat_invalid(reader, "Sketch does not match the duration count.");
		v1_spread_hour(reader, traffic, &hour, tz);
		if (hour.sketch.bins != NULL)
			pfree(hour.sketch.bins);
	}
}

/*
 * Build an expanded traffic value from its flat bytes, checking everything:
 * errcode is 22P02 for text input, 22P03 for binary.
 */
Traffic *
traffic_parse(const char *data, int len, int errcode, MemoryContext parent)
{
	Traffic    *traffic = traffic_create(parent);

	traffic_parse_into(traffic, data, len, errcode);
	return traffic;
}

/* Add the rows of a flat value to an expanded one, checking everything. */
void
traffic_parse_into(Traffic *traffic, const char *data, int len, int errcode)
{
	FlatReader	reader;
	int32		version;
	bool		was_empty = traffic_is_empty(traffic);
	bool		was_normalized = traffic->normalized;
	int64		last_before = PG_INT64_MIN;

	reader.p = (const uint8 *) data;
	reader.end = reader.p + len;
	reader.errcode = errcode;
	reader.canonical = true;
	reader.first_quarter = PG_INT64_MAX;
	if (!was_empty && was_normalized)
	{
		int64		first;

		traffic_quarter_range(traffic, &first, &last_before);
	}

	version = flat_int32(&reader);
	if (version == 2)
		read_v2(&reader, traffic);
	else if (version == 1 && was_empty)
		read_v1(&reader, traffic);
	else if (version == 1)
	{
		/*
		 * 0.1's hours are spread over the quarters they cover by what those
		 * quarters hold: read into a value of their own and merged, so that
		 * what the value held before, which depends on the order a plan
		 * merges in, cannot change the spread.
		 */
		Traffic    *own = traffic_create(CurrentMemoryContext);

		read_v1(&reader, own);
		if (reader.p != reader.end)
			flat_invalid(&reader, "Trailing bytes.");
		traffic_merge(traffic, own);
		DeleteExpandedObject(EOHPGetRWDatum(&own->hdr));
		return;
	}
	else
		flat_invalid(&reader, "Unknown format version.");
	if (reader.p != reader.end)
		flat_invalid(&reader, "Trailing bytes.");

	/*
	 * A version 2 value read into an empty one, or after the last quarter
	 * of one in canonical order (a reader merging days in time order), is
	 * in canonical order (the reader checked it): it need not be sorted.
	 */
	if (version == 2 && reader.canonical && was_normalized &&
		(was_empty || reader.first_quarter > last_before))
	{
		traffic->normalized = true;
		traffic->recent_from = traffic->recent_to = 0;
	}
}

/*
 * Whether flat bytes are a value in today's format and canonical, checked
 * without building it (the format has one encoding per value, so such bytes
 * are the value's own canonical form); false when they are in an older
 * format, or have rows in a quarter that keeps a summary (far from the
 * epoch): those are to be rebuilt.  Invalid bytes are an error (errcode).
 */
static bool
flat_is_canonical(const char *data, int len, int errcode)
{
	FlatReader	reader;

	reader.p = (const uint8 *) data;
	reader.end = reader.p + len;
	reader.errcode = errcode;
	reader.canonical = true;
	reader.first_quarter = PG_INT64_MAX;
	if (flat_int32(&reader) != TRAFFIC_FORMAT_VERSION)
		return false;
	read_v2(&reader, NULL);
	if (reader.p != reader.end)
		flat_invalid(&reader, "Trailing bytes.");
	return reader.canonical;
}

/*
 * The datum of a value given as flat bytes (from text or binary input):
 * kept as it came when it is canonical, else rebuilt.
 */
static Datum
flat_datum_of(const char *data, int len, int errcode)
{
	struct varlena *result;

	if (!flat_is_canonical(data, len, errcode))
		return traffic_flat_datum(traffic_parse(data, len, errcode,
												CurrentMemoryContext));
	result = palloc(VARHDRSZ + len);
	SET_VARSIZE(result, VARHDRSZ + len);
	memcpy(VARDATA(result), data, len);
	return PointerGetDatum(result);
}

/*
 * The bytes of a traffic datum that is flat and canonical (as input stores
 * values), or NULL: expanded, or to be rebuilt.  Not built to find out: a
 * value's sketches take more memory built than stored (a summary of two
 * durations far apart stores 33 bytes and builds 4 kB of bins).
 */
static const char *
current_flat_bytes(Datum datum, int *len)
{
	struct varlena *flat;

	if (VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(datum)))
		return NULL;
	flat = PG_DETOAST_DATUM(datum);
	if (!flat_is_canonical(VARDATA_ANY(flat), VARSIZE_ANY_EXHDR(flat),
						   ERRCODE_DATA_CORRUPTED))
		return NULL;
	*len = VARSIZE_ANY_EXHDR(flat);
	return VARDATA_ANY(flat);
}

/*
 * The first quarter of flat bytes (detoasted) in today's format, or
 * PG_INT64_MAX for an empty value; false when they are in an older format.
 */
bool
traffic_flat_first_quarter(const struct varlena *flat, int64 *first)
{
	TrafficStream *stream = palloc(sizeof(TrafficStream));
	bool		current = traffic_stream_begin(stream, VARDATA_ANY(flat),
											   VARSIZE_ANY_EXHDR(flat),
											   ERRCODE_DATA_CORRUPTED);

	if (current)
		*first = traffic_stream_peek(stream);
	pfree(stream);
	return current;
}

/*
 * The first and last quarter of any traffic datum; false when it is empty.
 * A flat one in today's format is streamed, not built.
 */
bool
traffic_datum_range(Datum datum, int64 *first, int64 *last)
{
	Traffic    *traffic;

	if (!VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(datum)))
	{
		struct varlena *flat = PG_DETOAST_DATUM(datum);
		TrafficStream *stream = palloc(sizeof(TrafficStream));
		int64		quarter;
		bool		any = false;

		if (traffic_stream_begin(stream, VARDATA_ANY(flat), VARSIZE_ANY_EXHDR(flat),
								 ERRCODE_DATA_CORRUPTED))
		{
			while ((quarter = traffic_stream_peek(stream)) != PG_INT64_MAX)
			{
				if (!any)
					*first = quarter;
				*last = quarter;
				any = true;
				traffic_stream_read(stream);
			}
			pfree(stream);
			return any;
		}
		pfree(stream);
	}
	traffic = traffic_from_datum(datum);
	if (traffic_is_empty(traffic))
		return false;
	traffic_quarter_range(traffic, first, last);
	return true;
}

/* ------------------------------------------------------------- SQL I/O */

/*
 * pg_b64_decode, faster: the whole groups of four alphabet characters that
 * begin src (all of a value traffic_out wrote but its padded end) are
 * decoded here, by table, and the rest by pg_b64_decode.  That rest starts
 * where a group starts, with nothing pending, so what is accepted, and how,
 * is pg_b64_decode's.  A coordinator that combines Citus's partial states
 * decodes megabytes of them.
 */
static int
decode_base64(const char *src, int len, char *dst, int dstlen)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static int8 sextet[256];
	static bool sextet_ready = false;
	const unsigned char *s = (const unsigned char *) src;
	const unsigned char *end = s + len;
	char	   *p = dst;
	int			rest;

	if (!sextet_ready)
	{
		int			i;

		memset(sextet, -1, sizeof(sextet));
		for (i = 0; i < 64; i++)
			sextet[(unsigned char) alphabet[i]] = (int8) i;
		sextet_ready = true;
	}
	while (end - s >= 4 && dst + dstlen - p >= 3)
	{
		int32		a = sextet[s[0]];
		int32		b = sextet[s[1]];
		int32		c = sextet[s[2]];
		int32		d = sextet[s[3]];
		uint32		group;

		if ((a | b | c | d) < 0)
			break;
		group = ((uint32) a << 18) | ((uint32) b << 12) | ((uint32) c << 6) | (uint32) d;
		p[0] = (char) (group >> 16);
		p[1] = (char) (group >> 8);
		p[2] = (char) group;
		p += 3;
		s += 4;
	}
	if (s == end)
		return p - dst;
	rest = pg_b64_decode((const char *) s, end - s, p, dst + dstlen - p);
	return rest < 0 ? -1 : (p - dst) + rest;
}

Datum
traffic_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	size_t		prefix = strlen(TEXT_PREFIX);
	int			enclen;
	int			maxlen;
	char	   *bytes;
	int			len;

	if (strncmp(str, TEXT_PREFIX, prefix) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type %s: \"%.40s\"",
						"scaler.traffic", str),
				 errhint("Text values of scaler.traffic start with \"%s\".",
						 TEXT_PREFIX)));
	str += prefix;
	enclen = strlen(str);
	maxlen = pg_b64_dec_len(enclen);
	bytes = palloc(maxlen + 1);
	len = decode_base64(str, enclen, bytes, maxlen);
	if (len < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type %s", "scaler.traffic"),
				 errdetail("The value is not valid base64.")));
	PG_RETURN_DATUM(flat_datum_of(bytes, len, ERRCODE_INVALID_TEXT_REPRESENTATION));
}

/*
 * The flat bytes of a traffic argument: as stored when they are in today's
 * format (the input made them canonical), else serialized.
 */
static const char *
output_bytes(Datum datum, int *len)
{
	const char *data = current_flat_bytes(datum, len);
	StringInfoData bytes;

	if (data != NULL)
		return data;
	initStringInfo(&bytes);
	traffic_serialize(traffic_from_datum(datum), &bytes);
	*len = bytes.len;
	return bytes.data;
}

Datum
traffic_out(PG_FUNCTION_ARGS)
{
	int			nbytes;
	const char *bytes = output_bytes(PG_GETARG_DATUM(0), &nbytes);
	size_t		prefix = strlen(TEXT_PREFIX);
	int			enclen;
	char	   *result;
	int			len;

	enclen = pg_b64_enc_len(nbytes);
	result = palloc(prefix + enclen + 1);
	memcpy(result, TEXT_PREFIX, prefix);
	len = pg_b64_encode(bytes, nbytes, result + prefix, enclen);
	if (len < 0)
		elog(ERROR, "could not encode scaler.traffic value");
	result[prefix + len] = '\0';
	PG_RETURN_CSTRING(result);
}

Datum
traffic_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	Datum		result;

	result = flat_datum_of(buf->data + buf->cursor, buf->len - buf->cursor,
						   ERRCODE_INVALID_BINARY_REPRESENTATION);
	buf->cursor = buf->len;
	PG_RETURN_DATUM(result);
}

Datum
traffic_send(PG_FUNCTION_ARGS)
{
	int			nbytes;
	const char *bytes = output_bytes(PG_GETARG_DATUM(0), &nbytes);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbytes(&buf, bytes, nbytes);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}
