/*-------------------------------------------------------------------------
 *
 * traffic.c
 *	  The scaler.traffic type: its in-memory (expanded) form, its flat form,
 *	  text and binary I/O, and merging two values.
 *
 * The flat form is one layout for disk, the wire and text (text is base64 of
 * it), written in network byte order:
 *
 *	int32 version, int32 length + time zone name,
 *	int64 first minute, int32 n, int64 requests[n], float8 duration_ms[n],
 *	int32 hours, per hour: int64 start, int64 errors, int64 with_duration,
 *	float8 max_ms, int64 zero durations, int32 lowest key, int32 nbins,
 *	uint32 counts[nbins].
 *
 * Every reader goes through traffic_parse, which checks each field and the
 * consistency between them, so a truncated or hostile value is an error,
 * never a crash or a wrong answer.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/base64.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "traffic.h"

PG_FUNCTION_INFO_V1(traffic_in);
PG_FUNCTION_INFO_V1(traffic_out);
PG_FUNCTION_INFO_V1(traffic_recv);
PG_FUNCTION_INFO_V1(traffic_send);

#define TEXT_PREFIX "traffic:"

/* Smallest possible encoding of one hour and one minute, for size checks. */
#define FLAT_HOUR_MIN_BYTES		(8 + 8 + 8 + 8 + 8 + 4 + 4)
#define FLAT_MINUTE_BYTES		(8 + 8)

static Size traffic_get_flat_size(ExpandedObjectHeader *eohptr);
static void traffic_flatten_into(ExpandedObjectHeader *eohptr,
								 void *result, Size allocated_size);

static const ExpandedObjectMethods traffic_methods = {
	traffic_get_flat_size,
	traffic_flatten_into
};

Traffic *
traffic_create(MemoryContext parent, pg_tz *tz)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "scaler traffic",
											  ALLOCSET_DEFAULT_SIZES);
	Traffic    *traffic = MemoryContextAllocZero(cxt, sizeof(Traffic));

	sketch_prepare_tables();
	EOH_init_header(&traffic->hdr, &traffic_methods, cxt);
	strlcpy(traffic->tzname, pg_get_timezone_name(tz), sizeof(traffic->tzname));
	traffic->tz = tz;
	traffic->first_minute = PG_INT64_MAX;
	traffic->last_minute = PG_INT64_MIN;
	return traffic;
}

/*
 * Grow the minute arrays to include minute, doubling so that rows arriving
 * in time order cost amortized constant time.
 */
void
traffic_reserve_minute(Traffic *traffic, int64 minute)
{
	MemoryContext cxt = traffic->hdr.eoh_context;
	int64		lo;
	int64		hi;
	int64		span;
	int64		capacity;
	int64		minute0;
	int64	   *requests;
	double	   *ms;

	if (traffic->nminutes > 0 && minute >= traffic->minute0 &&
		minute < traffic->minute0 + traffic->nminutes)
		return;

	lo = traffic->nminutes > 0 ? Min(minute, traffic->minute0) : minute;
	hi = traffic->nminutes > 0 ?
		Max(minute, traffic->minute0 + traffic->nminutes - 1) : minute;
	span = hi - lo + 1;
	capacity = Max(Max(span + span / 2, (int64) traffic->nminutes * 2), 1440);

	if (capacity > (int64) (MaxAllocSize / sizeof(int64)))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("traffic value would span too many minutes")));
	/* Leave the slack on the side we are growing towards. */
	minute0 = (minute < traffic->minute0 || traffic->nminutes == 0) ?
		hi - capacity + 1 : lo;
	if (traffic->nminutes == 0)
		minute0 = minute - capacity / 2;

	requests = MemoryContextAllocZero(cxt, sizeof(int64) * capacity);
	ms = MemoryContextAllocZero(cxt, sizeof(double) * capacity);
	if (traffic->nminutes > 0)
	{
		memcpy(requests + (traffic->minute0 - minute0), traffic->minute_requests,
			   sizeof(int64) * traffic->nminutes);
		memcpy(ms + (traffic->minute0 - minute0), traffic->minute_ms,
			   sizeof(double) * traffic->nminutes);
		pfree(traffic->minute_requests);
		pfree(traffic->minute_ms);
	}
	traffic->minute0 = minute0;
	traffic->nminutes = (int32) capacity;
	/* indexes into the old arrays are stale */
	traffic->recent_from = traffic->recent_to = 0;
	traffic->minute_requests = requests;
	traffic->minute_ms = ms;
}

/* Find or add the hour starting at start. */
TrafficHour *
traffic_get_hour(Traffic *traffic, TimestampTz start)
{
	MemoryContext cxt = traffic->hdr.eoh_context;
	int64		slot = quarter_of(start);
	int64		index;
	TrafficHour *hour;

	if (traffic->nslots == 0 || slot < traffic->slot0 ||
		slot >= traffic->slot0 + traffic->nslots)
	{
		int64		lo = traffic->nslots > 0 ? Min(slot, traffic->slot0) : slot;
		int64		hi = traffic->nslots > 0 ?
			Max(slot, traffic->slot0 + traffic->nslots - 1) : slot;
		int64		span = hi - lo + 1;
		int64		capacity = Max(Max(span + span / 2, (int64) traffic->nslots * 2), 96);
		int64		slot0;
		TrafficHour **slots;

		if (capacity > (int64) (MaxAllocSize / sizeof(TrafficHour *)))
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("traffic value would span too many hours")));
		slot0 = (traffic->nslots == 0) ? slot - capacity / 2 :
			(slot < traffic->slot0) ? hi - capacity + 1 : lo;
		slots = MemoryContextAllocZero(cxt, sizeof(TrafficHour *) * capacity);
		if (traffic->nslots > 0)
		{
			memcpy(slots + (traffic->slot0 - slot0), traffic->slots,
				   sizeof(TrafficHour *) * traffic->nslots);
			pfree(traffic->slots);
		}
		traffic->slot0 = slot0;
		traffic->nslots = (int32) capacity;
		traffic->slots = slots;
	}

	index = slot - traffic->slot0;
	hour = traffic->slots[index];
	if (hour == NULL)
	{
		hour = MemoryContextAllocZero(cxt, sizeof(TrafficHour));
		hour->start = start;
		sketch_init(&hour->sketch);
		traffic->slots[index] = hour;
		traffic->nhours++;
	}
	else if (hour->start != start)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("time zone \"%s\" has two hour buckets within 15 minutes",
						traffic->tzname),
				 errdetail("Buckets start at %s and %s.",
						   timestamptz_to_str(hour->start),
						   timestamptz_to_str(start))));
	return hour;
}

/* Add src's counts into dst; both must use the same time zone. */
void
traffic_merge(Traffic *dst, Traffic *src)
{
	MemoryContext cxt = dst->hdr.eoh_context;
	int64		minute;
	int64		i;

	if (strcmp(dst->tzname, src->tzname) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot combine traffic values of different time zones"),
				 errdetail("One was bucketed in \"%s\", the other in \"%s\".",
						   dst->tzname, src->tzname),
				 errhint("Aggregate every part with the same TimeZone setting.")));

	if (src->first_minute <= src->last_minute)
	{
		traffic_reserve_minute(dst, src->first_minute);
		traffic_reserve_minute(dst, src->last_minute);
		dst->first_minute = Min(dst->first_minute, src->first_minute);
		dst->last_minute = Max(dst->last_minute, src->last_minute);
		for (minute = src->first_minute; minute <= src->last_minute; minute++)
		{
			dst->minute_requests[minute - dst->minute0] +=
				src->minute_requests[minute - src->minute0];
			dst->minute_ms[minute - dst->minute0] +=
				src->minute_ms[minute - src->minute0];
		}
	}

	for (i = 0; i < src->nslots; i++)
	{
		TrafficHour *from = src->slots[i];
		TrafficHour *to;

		if (from == NULL)
			continue;
		to = traffic_hour(dst, from->start);
		to->errors += from->errors;
		to->with_duration += from->with_duration;
		to->max_ms = Max(to->max_ms, from->max_ms);
		sketch_merge(&to->sketch, &from->sketch, cxt);
	}
}

/* ---------------------------------------------------------------- flat form */

void
traffic_serialize(Traffic *traffic, StringInfo buf)
{
	int			tzlen = strlen(traffic->tzname);
	int64		first = traffic->first_minute;
	int32		nminutes = 0;
	int64		minute;
	int64		i;

	if (first <= traffic->last_minute)
		nminutes = (int32) (traffic->last_minute - first + 1);
	else
		first = 0;

	pq_sendint32(buf, TRAFFIC_FORMAT_VERSION);
	pq_sendint32(buf, tzlen);
	pq_sendbytes(buf, traffic->tzname, tzlen);

	pq_sendint64(buf, first);
	pq_sendint32(buf, nminutes);
	for (minute = first; minute < first + nminutes; minute++)
		pq_sendint64(buf, traffic->minute_requests[minute - traffic->minute0]);
	for (minute = first; minute < first + nminutes; minute++)
		pq_sendfloat8(buf, traffic->minute_ms[minute - traffic->minute0]);

	pq_sendint32(buf, traffic->nhours);
	for (i = 0; i < traffic->nslots; i++)
	{
		TrafficHour *hour = traffic->slots[i];
		int32		lo;
		int32		nbins;
		int32		k;

		if (hour == NULL)
			continue;
		sketch_trimmed_range(&hour->sketch, &lo, &nbins);
		pq_sendint64(buf, hour->start);
		pq_sendint64(buf, hour->errors);
		pq_sendint64(buf, hour->with_duration);
		pq_sendfloat8(buf, hour->max_ms);
		pq_sendint64(buf, (int64) hour->sketch.zero_count);
		pq_sendint32(buf, nbins > 0 ? lo : 0);
		pq_sendint32(buf, nbins);
		for (k = 0; k < nbins; k++)
			pq_sendint32(buf, sketch_count_at(&hour->sketch, lo + k));
	}
}

/* A reader over the flat bytes that turns any overrun into an error. */
typedef struct FlatReader
{
	StringInfoData buf;
	int			errcode;
} FlatReader;

static void
flat_need(FlatReader *reader, int bytes)
{
	if (bytes < 0 || reader->buf.len - reader->buf.cursor < bytes)
		ereport(ERROR,
				(errcode(reader->errcode),
				 errmsg("invalid scaler.traffic value"),
				 errdetail("The value is truncated.")));
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

static double
flat_float8(FlatReader *reader)
{
	flat_need(reader, 8);
	return pq_getmsgfloat8(&reader->buf);
}

static void pg_attribute_noreturn()
flat_invalid(FlatReader *reader, const char *detail)
{
	ereport(ERROR,
			(errcode(reader->errcode),
			 errmsg("invalid scaler.traffic value"),
			 errdetail_internal("%s", detail)));
}

static bool
valid_count(int64 n)
{
	return n >= 0;
}

static bool
valid_ms(double ms)
{
	return !isnan(ms) && !isinf(ms) && ms >= 0.0;
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
	pg_tz	   *tz;
	char		tzname[TZ_STRLEN_MAX + 1];
	int32		tzlen;
	int64		first;
	int32		nminutes;
	int32		nhours;
	int64		minute;
	int64	   *slot_requests;
	TrafficHour **hours;
	int32		h;
	TimestampTz prev_start = DT_NOBEGIN;
	HourCache  *cache;

	reader.buf.data = (char *) data;
	reader.buf.len = len;
	reader.buf.maxlen = len;
	reader.buf.cursor = 0;
	reader.errcode = errcode;

	if (flat_int32(&reader) != TRAFFIC_FORMAT_VERSION)
		flat_invalid(&reader, "Unknown format version.");
	tzlen = flat_int32(&reader);
	if (tzlen <= 0 || tzlen > TZ_STRLEN_MAX)
		flat_invalid(&reader, "Bad time zone name length.");
	flat_need(&reader, tzlen);
	memcpy(tzname, reader.buf.data + reader.buf.cursor, tzlen);
	tzname[tzlen] = '\0';
	reader.buf.cursor += tzlen;
	if (strlen(tzname) != tzlen)
		flat_invalid(&reader, "Bad time zone name.");
	tz = pg_tzset(tzname);
	if (tz == NULL)
		flat_invalid(&reader, "Unknown time zone.");

	traffic = traffic_create(parent, tz);

	first = flat_int64(&reader);
	nminutes = flat_int32(&reader);
	if (nminutes < 0 || nminutes > (len - reader.buf.cursor) / FLAT_MINUTE_BYTES)
		flat_invalid(&reader, "Bad number of minutes.");
	if (nminutes > 0)
	{
		/*
		 * Compare without computing first + nminutes: for a hostile first
		 * near PG_INT64_MAX that sum wraps around and would pass, and
		 * traffic_reserve_minute would then copy the counts to before the
		 * start of its new arrays.
		 */
		if (first < MIN_TIMESTAMP / USECS_PER_MINUTE ||
			first > END_TIMESTAMP / USECS_PER_MINUTE - nminutes)
			flat_invalid(&reader, "Minutes out of range.");
		traffic_reserve_minute(traffic, first);
		traffic_reserve_minute(traffic, first + nminutes - 1);
		for (minute = first; minute < first + nminutes; minute++)
		{
			int64		requests = flat_int64(&reader);

			if (!valid_count(requests))
				flat_invalid(&reader, "Negative request count.");
			traffic->minute_requests[minute - traffic->minute0] = requests;
			if (requests > 0)
			{
				traffic->first_minute = Min(traffic->first_minute, minute);
				traffic->last_minute = Max(traffic->last_minute, minute);
			}
		}
		for (minute = first; minute < first + nminutes; minute++)
		{
			double		ms = flat_float8(&reader);

			if (!valid_ms(ms))
				flat_invalid(&reader, "Bad duration sum.");
			if (ms > 0 && traffic->minute_requests[minute - traffic->minute0] == 0)
				flat_invalid(&reader, "Duration in a minute without requests.");
			traffic->minute_ms[minute - traffic->minute0] = ms;
		}
	}

	nhours = flat_int32(&reader);
	if (nhours < 0 || nhours > (len - reader.buf.cursor) / FLAT_HOUR_MIN_BYTES)
		flat_invalid(&reader, "Bad number of hours.");
	hours = palloc(sizeof(TrafficHour *) * Max(nhours, 1));
	for (h = 0; h < nhours; h++)
	{
		TimestampTz start = flat_int64(&reader);
		int64		errors = flat_int64(&reader);
		int64		with_duration = flat_int64(&reader);
		double		max_ms = flat_float8(&reader);
		int64		zero = flat_int64(&reader);
		int32		lo = flat_int32(&reader);
		int32		nbins = flat_int32(&reader);
		uint64		total = (uint64) zero;
		TrafficHour *hour;
		int32		k;

		if (!IS_VALID_TIMESTAMP(start) || start <= prev_start)
			flat_invalid(&reader, "Hours out of order or out of range.");
		prev_start = start;
		if (!valid_count(errors) || !valid_count(with_duration) ||
			!valid_count(zero) || !valid_ms(max_ms) ||
			(with_duration == 0 && max_ms != 0.0))
			flat_invalid(&reader, "Bad hour counters.");
		if (nbins < 0 || nbins > SKETCH_MAX_BINS ||
			lo < -SKETCH_KEY_LIMIT || lo > SKETCH_KEY_LIMIT - nbins + 1 ||
			nbins > (len - reader.buf.cursor) / 4)
			flat_invalid(&reader, "Bad sketch bins.");

		hour = traffic_get_hour(traffic, start);
		hour->errors = errors;
		hour->with_duration = with_duration;
		hour->max_ms = max_ms;
		hour->sketch.zero_count = (uint64) zero;
		for (k = 0; k < nbins; k++)
		{
			uint32		count = (uint32) flat_int32(&reader);

			total += count;
			if (count > 0)
				sketch_add_key(&hour->sketch, lo + k, count, traffic->hdr.eoh_context);
		}
		if (total != (uint64) with_duration)
			flat_invalid(&reader, "Sketch does not match the duration count.");
		hours[h] = hour;
	}
	if (reader.buf.cursor != len)
		flat_invalid(&reader, "Trailing bytes.");

	/*
	 * Cross-check: every hour must have requests, and at least as many as it
	 * has errors and durations.  Requests are summed per slot.
	 */
	slot_requests = palloc0(sizeof(int64) * Max(traffic->nslots, 1));
	cache = hour_cache_create(CurrentMemoryContext, tz);
	for (minute = traffic->first_minute; minute <= traffic->last_minute; minute++)
	{
		int64		requests = traffic->minute_requests[minute - traffic->minute0];
		int64		index;

		if (requests == 0)
			continue;
		index = quarter_of(hour_cache_lookup(cache, minute * USECS_PER_MINUTE)) -
			traffic->slot0;
		if (index >= 0 && index < traffic->nslots)
			slot_requests[index] += requests;
	}
	for (h = 0; h < nhours; h++)
	{
		int64		requests = slot_requests[quarter_of(hours[h]->start) - traffic->slot0];

		if (requests == 0 ||
			hours[h]->errors > requests ||
			hours[h]->with_duration > requests)
			flat_invalid(&reader, "An hour has more errors or durations than requests.");
	}
	pfree(cache);
	pfree(slot_requests);
	pfree(hours);
	return traffic;
}

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
		Traffic    *src = (Traffic *) DatumGetEOHP(datum);
		Traffic    *copy = traffic_create(parent, src->tz);

		traffic_merge(copy, src);
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
