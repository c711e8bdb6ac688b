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
 *	    int64 requests and int64 busy microseconds; int64 errors, int64
 *	    with_duration, float8 max_ms, then the sketch: int64 zero durations,
 *	    int32 number of bins in use, and per bin in ascending key order its
 *	    key (the first as int32, the others as a varint of the gap to the
 *	    previous key minus one) and its count (a varint).
 *
 * Varints are unsigned LEB128: 7 bits a byte, low bits first.
 *
 * Version 1 (scaler 0.1: per-minute counters over the whole span, hours of
 * one time zone) is still read; see read_v1.
 *
 * Every reader goes through traffic_parse, which checks each field and the
 * consistency between them, so a truncated or hostile value is an error,
 * never a crash, a huge allocation or a wrong answer.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/base64.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "traffic.h"

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

static void
write_rows(StringInfo buf, const TrafficRow *rows, int32 n, int64 quarter)
{
	int32		i;

	Assert(n > 0 && n < SUMMARY_MIN_ROWS);
	pq_sendint64(buf, quarter);
	pq_sendint8(buf, FORM_ROWS);
	pq_sendint8(buf, (int8) n);
	for (i = 0; i < n; i++)
	{
		int64		minute = ROW_MINUTE(rows[i].key) - quarter * MINUTES_PER_QUARTER;
		uint8		flags = (uint8) minute;

		if (rows[i].key & ROW_ERROR)
			flags |= FLAG_ERROR;
		if (rows[i].key & ROW_DURATION)
			flags |= FLAG_DURATION;
		pq_sendint8(buf, (int8) flags);
		if (rows[i].key & ROW_DURATION)
			pq_sendfloat8(buf, rows[i].duration_ms);
	}
}

static void
send_varint(StringInfo buf, uint64 value)
{
	do
	{
		uint8		byte = value & 0x7f;

		value >>= 7;
		if (value != 0)
			byte |= 0x80;
		pq_sendint8(buf, (int8) byte);
	} while (value != 0);
}

/* Only the bins in use: a quarter's durations rarely fill a wide range. */
static void
write_sketch(StringInfo buf, const Sketch *sketch)
{
	int32		lo;
	int32		nbins;
	int32		used = 0;
	int32		prev = 0;
	int32		k;

	sketch_trimmed_range(sketch, &lo, &nbins);
	for (k = 0; k < nbins; k++)
		if (sketch_count_at(sketch, lo + k) > 0)
			used++;
	pq_sendint64(buf, (int64) sketch->zero_count);
	pq_sendint32(buf, used);
	for (k = 0; k < nbins; k++)
	{
		int32		key = lo + k;
		uint32		count = sketch_count_at(sketch, key);

		if (count == 0)
			continue;
		if (key == lo)
			pq_sendint32(buf, key);
		else
			send_varint(buf, (uint64) (key - prev - 1));
		send_varint(buf, count);
		prev = key;
	}
}

static void
write_summary(StringInfo buf, const TrafficQuarter *q)
{
	uint16		mask = 0;
	int			m;

	for (m = 0; m < MINUTES_PER_QUARTER; m++)
		if (q->minutes[m].requests > 0)
			mask |= (uint16) (1 << m);
	pq_sendint64(buf, q->quarter);
	pq_sendint8(buf, FORM_SUMMARY);
	pq_sendint16(buf, mask);
	for (m = 0; m < MINUTES_PER_QUARTER; m++)
	{
		if (q->minutes[m].requests == 0)
			continue;
		pq_sendint64(buf, q->minutes[m].requests);
		pq_sendint64(buf, q->minutes[m].busy_us);
	}
	pq_sendint64(buf, q->errors);
	pq_sendint64(buf, q->with_duration);
	pq_sendfloat8(buf, q->max_ms);
	write_sketch(buf, &q->sketch);
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

/* A reader over the flat bytes that turns any overrun into an error. */
typedef struct FlatReader
{
	StringInfoData buf;
	int			errcode;
} FlatReader;

static void pg_attribute_noreturn()
flat_invalid(FlatReader *reader, const char *detail)
{
	ereport(ERROR,
			(errcode(reader->errcode),
			 errmsg("invalid scaler.traffic value"),
			 errdetail_internal("%s", detail)));
}

static void
flat_need(FlatReader *reader, int bytes)
{
	if (bytes < 0 || reader->buf.len - reader->buf.cursor < bytes)
		flat_invalid(reader, "The value is truncated.");
}

static int
flat_remaining(FlatReader *reader)
{
	return reader->buf.len - reader->buf.cursor;
}

static int64
flat_int64(FlatReader *reader)
{
	flat_need(reader, 8);
	return pq_getmsgint64(&reader->buf);
}

static int32
flat_int32(FlatReader *reader)
{
	flat_need(reader, 4);
	return (int32) pq_getmsgint(&reader->buf, 4);
}

static uint16
flat_uint16(FlatReader *reader)
{
	flat_need(reader, 2);
	return (uint16) pq_getmsgint(&reader->buf, 2);
}

static uint8
flat_uint8(FlatReader *reader)
{
	flat_need(reader, 1);
	return (uint8) pq_getmsgbyte(&reader->buf);
}

static double
flat_float8(FlatReader *reader)
{
	flat_need(reader, 8);
	return pq_getmsgfloat8(&reader->buf);
}

static int64
flat_count(FlatReader *reader, const char *what)
{
	int64		n = flat_int64(reader);

	if (n < 0)
		flat_invalid(reader, what);
	return n;
}

static double
flat_duration(FlatReader *reader)
{
	double		ms = flat_float8(reader);

	/* -0.0 is not canonical: rows and the transition store +0.0 */
	if (isnan(ms) || ms < 0.0 || ms > TRAFFIC_MAX_DURATION_MS ||
		(ms == 0.0 && signbit(ms)))
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

static uint64
flat_varint(FlatReader *reader)
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

/*
 * The sketch of a summary; its total is returned so the caller can check it
 * against the duration count.
 */
static uint64
read_sketch(FlatReader *reader, Traffic *traffic, Sketch *sketch)
{
	uint64		total = (uint64) flat_count(reader, "Bad sketch zero count.");
	int32		used = flat_int32(reader);
	int32		first = 0;
	int64		key = 0;
	int32		i;

	if (used < 0 || used > SKETCH_MAX_BINS || used > flat_remaining(reader) / 2)
		flat_invalid(reader, "Bad sketch bins.");
	sketch->zero_count = total;
	for (i = 0; i < used; i++)
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
		total += count;
		sketch_add_key(sketch, (int32) key, count, traffic->hdr.eoh_context);
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

/* A quarter kept as rows: appended to the value in canonical order. */
static void
read_rows(FlatReader *reader, Traffic *traffic, int64 quarter)
{
	int			n = flat_uint8(reader);
	TrafficRow	prev = {PG_INT64_MIN, 0.0};
	int			i;

	if (n < 1 || n >= SUMMARY_MIN_ROWS)
		flat_invalid(reader, "Bad number of rows in a quarter.");
	for (i = 0; i < n; i++)
	{
		uint8		flags = flat_uint8(reader);
		TrafficRow	row;

		if ((flags & FLAG_MINUTE) >= MINUTES_PER_QUARTER ||
			(flags & ~(FLAG_MINUTE | FLAG_ERROR | FLAG_DURATION)) != 0)
			flat_invalid(reader, "Bad row flags.");
		row.key = ((quarter * MINUTES_PER_QUARTER + (flags & FLAG_MINUTE)) << 2) |
			((flags & FLAG_DURATION) ? ROW_DURATION : 0) |
			((flags & FLAG_ERROR) ? ROW_ERROR : 0);
		row.duration_ms = (flags & FLAG_DURATION) ? flat_duration(reader) : 0.0;
		if (row.key < prev.key ||
			(row.key == prev.key && row.duration_ms < prev.duration_ms))
			flat_invalid(reader, "Rows out of order.");
		prev = row;
		traffic_add_row(traffic,
						ROW_MINUTE(row.key) * USECS_PER_MINUTE,
						(row.key & ROW_ERROR) != 0,
						(row.key & ROW_DURATION) != 0, row.duration_ms);
	}
}

/* A quarter kept as a summary. */
static void
read_summary(FlatReader *reader, Traffic *traffic, int64 quarter)
{
	TrafficQuarter q;
	uint16		mask = flat_uint16(reader);
	int64		requests = 0;
	uint64		total;
	int			m;

	memset(&q, 0, sizeof(q));
	q.quarter = quarter;
	sketch_init(&q.sketch);
	if (mask == 0 || mask >= (1 << MINUTES_PER_QUARTER))
		flat_invalid(reader, "Bad minute mask.");
	for (m = 0; m < MINUTES_PER_QUARTER; m++)
	{
		if ((mask & (1 << m)) == 0)
			continue;
		q.minutes[m].requests = flat_count(reader, "Bad request count.");
		q.minutes[m].busy_us = flat_count(reader, "Bad busy time.");
		if (q.minutes[m].requests == 0)
			flat_invalid(reader, "A minute of the mask has no requests.");
		if (pg_add_s64_overflow(requests, q.minutes[m].requests, &requests))
			flat_invalid(reader, "Request count out of range.");
	}
	q.errors = flat_count(reader, "Bad error count.");
	q.with_duration = flat_count(reader, "Bad duration count.");
	q.max_ms = flat_duration(reader);
	if (q.errors > requests || q.with_duration > requests)
		flat_invalid(reader, "A quarter has more errors or durations than requests.");
	if (q.with_duration == 0 && q.max_ms != 0.0)
		flat_invalid(reader, "A longest duration without durations.");
	total = read_sketch(reader, traffic, &q.sketch);
	if (total != (uint64) q.with_duration)
		flat_invalid(reader, "Sketch does not match the duration count.");

	traffic_merge_summary(traffic, &q);
	if (q.sketch.bins != NULL)
		pfree(q.sketch.bins);
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
		if (form == FORM_ROWS)
			read_rows(reader, traffic, quarter);
		else if (form == FORM_SUMMARY)
			read_summary(reader, traffic, quarter);
		else
			flat_invalid(reader, "Unknown quarter form.");
	}
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
		int64		requests = 0;
		int64		take;
		int64		taken = 0;
		int			m;

		if (hour_bucket(q * USECS_PER_QUARTER, tz) != hour->start)
			continue;
		summary = traffic_find_summary(traffic, q);
		if (summary == NULL)
			continue;
		for (m = 0; m < MINUTES_PER_QUARTER; m++)
			requests += summary->minutes[m].requests;

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

static void
read_v1(FlatReader *reader, Traffic *traffic)
{
	char		tzname[TZ_STRLEN_MAX + 1];
	int32		tzlen = flat_int32(reader);
	pg_tz	   *tz;
	int64		first;
	int32		nminutes;
	int64	   *requests;
	int32		nhours;
	int32		i;
	TimestampTz prev_start = DT_NOBEGIN;

	if (tzlen <= 0 || tzlen > TZ_STRLEN_MAX)
		flat_invalid(reader, "Bad time zone name length.");
	flat_need(reader, tzlen);
	memcpy(tzname, reader->buf.data + reader->buf.cursor, tzlen);
	tzname[tzlen] = '\0';
	reader->buf.cursor += tzlen;
	if (strlen(tzname) != tzlen)
		flat_invalid(reader, "Bad time zone name.");
	tz = pg_tzset(tzname);
	if (tz == NULL)
		flat_invalid(reader, "Unknown time zone.");

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
		if (isnan(ms) || ms < 0.0 || ms > TRAFFIC_MAX_DURATION_MS * 1.0e6)
			flat_invalid(reader, "Bad duration sum.");
		if (requests[i] == 0)
		{
			if (ms > 0)
				flat_invalid(reader, "Duration in a minute without requests.");
			continue;
		}
		summary = traffic_get_summary(traffic, quarter);
		m = &summary->minutes[minute - quarter * MINUTES_PER_QUARTER];
		m->requests = requests[i];
		m->busy_us = duration_us(ms);
	}
	pfree(requests);

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
	FlatReader	reader;
	Traffic    *traffic;
	int32		version;

	reader.buf.data = (char *) data;
	reader.buf.len = len;
	reader.buf.maxlen = len;
	reader.buf.cursor = 0;
	reader.errcode = errcode;

	traffic = traffic_create(parent);
	version = flat_int32(&reader);
	if (version == 2)
		read_v2(&reader, traffic);
	else if (version == 1)
		read_v1(&reader, traffic);
	else
		flat_invalid(&reader, "Unknown format version.");
	if (reader.buf.cursor != len)
		flat_invalid(&reader, "Trailing bytes.");
	return traffic;
}

/* ------------------------------------------------------------- SQL I/O */

Datum
traffic_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	size_t		prefix = strlen(TEXT_PREFIX);
	int			enclen;
	int			maxlen;
	char	   *bytes;
	int			len;
	Traffic    *traffic;

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
	len = pg_b64_decode(str, enclen, bytes, maxlen);
	if (len < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type %s", "scaler.traffic"),
				 errdetail("The value is not valid base64.")));
	traffic = traffic_parse(bytes, len, ERRCODE_INVALID_TEXT_REPRESENTATION,
							CurrentMemoryContext);
	PG_RETURN_DATUM(traffic_flat_datum(traffic));
}

Datum
traffic_out(PG_FUNCTION_ARGS)
{
	Traffic    *traffic = traffic_from_datum(PG_GETARG_DATUM(0));
	StringInfoData bytes;
	size_t		prefix = strlen(TEXT_PREFIX);
	int			enclen;
	char	   *result;
	int			len;

	initStringInfo(&bytes);
	traffic_serialize(traffic, &bytes);
	enclen = pg_b64_enc_len(bytes.len);
	result = palloc(prefix + enclen + 1);
	memcpy(result, TEXT_PREFIX, prefix);
	len = pg_b64_encode(bytes.data, bytes.len, result + prefix, enclen);
	if (len < 0)
		elog(ERROR, "could not encode scaler.traffic value");
	result[prefix + len] = '\0';
	PG_RETURN_CSTRING(result);
}

Datum
traffic_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	Traffic    *traffic;

	traffic = traffic_parse(buf->data + buf->cursor, buf->len - buf->cursor,
							ERRCODE_INVALID_BINARY_REPRESENTATION,
							CurrentMemoryContext);
	buf->cursor = buf->len;
	PG_RETURN_DATUM(traffic_flat_datum(traffic));
}

Datum
traffic_send(PG_FUNCTION_ARGS)
{
	Traffic    *traffic = traffic_from_datum(PG_GETARG_DATUM(0));
	StringInfoData buf;

	pq_begintypsend(&buf);
	traffic_serialize(traffic, &buf);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}
