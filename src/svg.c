/*-------------------------------------------------------------------------
 *
 * svg.c
 *	  scaler.traffic_svg(): hourly traffic, and optionally the capacity a
 *	  policy decided over the same hours, drawn as a self-contained SVG
 *	  document.
 *
 * The picture is made only from what SQL callers can see: the hourly rows
 * come from scaler.hourly_requests() through SPI (so the source is read as
 * the caller, with the caller's privileges and row-level security), the
 * replayed capacity from scaler.backtest() through SPI, and the recorded
 * decisions and capacity floors from scaler._svg_policy(), a SECURITY
 * DEFINER function nobody may EXECUTE that is called here through fmgr with
 * the real caller (the trampoline of policy.c), so it can apply the rule of
 * every policy function: the caller must be able to manage the policy.
 *
 * Local-hour labels are the hour timestamps as PostgreSQL prints them in
 * the session TimeZone (to_char), so a 23- or 25-hour day is labelled as
 * the server counts it; where the UTC offset changes the label carries the
 * zone abbreviation.
 *
 * The document has no scripts, links, external fonts or style sheets.  All
 * text that can carry user data (function, source, policy and zone names)
 * goes through svg_text(), which writes markup characters as entities and
 * everything beyond ASCII as character references, so the document is
 * pure ASCII whatever the database and client encodings.  Numbers are
 * printed with fixed formats (LC_NUMERIC is always C in the backend), so
 * identical input gives an identical document.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "policy.h"
#include "traffic.h"

PG_FUNCTION_INFO_V1(scaler_traffic_svg);
PG_FUNCTION_INFO_V1(scaler_traffic_svg_value);

/* Limits of the picture (errors name them). */
#define SVG_MAX_HOURS	1000
#define SVG_MIN_WIDTH	320
#define SVG_MAX_WIDTH	8000
#define SVG_MIN_HEIGHT	240
#define SVG_MAX_HEIGHT	4000

/* Rows of a replay read at a time. */
#define REPLAY_BATCH_ROWS	1000

/*
 * The requests axis reaches up to this many times the busiest hour to show
 * busiest-minute marks; marks above are drawn clipped, as a triangle.
 */
#define PEAK_CLIP		2.0

/* Longest user string drawn, in characters (the rest becomes an ellipsis). */
#define SVG_MAX_NAME	80

/* Colours. */
#define COLOR_BAR		"#4e79a7"
#define COLOR_PEAK		"#0b2545"
#define COLOR_P95		"#f28e2b"
#define COLOR_ERROR		"#d62728"
#define COLOR_CAPACITY	"#2e7d32"
#define COLOR_FLOOR		"#59a14f"
#define COLOR_PREWARM	"#b07aa1"
#define COLOR_DEMAND	"#555555"
#define COLOR_GRID		"#e4e4e4"
#define COLOR_AXIS		"#888888"
#define COLOR_TEXT		"#333333"

/* One local hour, as scaler.hourly_requests() reports it. */
typedef struct SvgHour
{
	TimestampTz start;
	TimestampTz end;			/* the next hour's start */
	int64		requests;
	int64		errors;
	int64		peak_rpm;
	bool		has_p95;
	double		p95_ms;
	char	   *hh;				/* "HH24" */
	char	   *day;			/* "Dy DD Mon" */
	char	   *zone;			/* "TZ" */
	char	   *offset;			/* "OF" */
	char	   *when;			/* "YYYY-MM-DD HH24:MI TZ", for tooltips */
} SvgHour;

/* A step line: value from since, then values[i] from at[i] on. */
typedef struct SvgSteps
{
	int			initial;
	int			n;
	TimestampTz *at;
	int		   *values;
} SvgSteps;

typedef struct SvgFloor
{
	TimestampTz starts;
	TimestampTz ends;
	int			min_capacity;
	bool		forecast;		/* a pre-warm floor written by apply_forecast */
} SvgFloor;

typedef struct SvgChart
{
	int			width;
	int			height;
	char	   *function_name;	/* NULL: all functions, or a traffic value */
	char	   *source;			/* NULL: a traffic value */
	char	   *range_from;		/* the drawn range, as printed in the session */
	char	   *range_to;
	char	   *timezone;
	SvgHour    *hours;
	int			nhours;
	/* the policy overlay */
	char	   *policy;			/* NULL: no overlay */
	bool		replay;
	SvgSteps	capacity;
	SvgSteps	demand;			/* replay only */
	SvgFloor   *floors;
	int			nfloors;
} SvgChart;

/* ---------------------------------------------------------------- text */

/*
 * Append s (in the server encoding) as XML character data or attribute
 * text: ASCII as itself except markup characters, which become entities;
 * other characters as numeric references; control characters that XML 1.0
 * forbids as U+FFFD.  At most maxchars characters, then an ellipsis.
 */
static void
svg_text(StringInfo buf, const char *s, int maxchars)
{
	const unsigned char *p;
	const unsigned char *end;
	char	   *utf8;
	int			len = strlen(s);
	int			chars = 0;

	utf8 = pg_server_to_any(s, len, PG_UTF8);
	p = (const unsigned char *) utf8;
	end = p + strlen(utf8);
	while (p < end)
	{
		int			mblen = pg_utf_mblen(p);
		pg_wchar	c;

		CHECK_FOR_INTERRUPTS();
		if (chars++ >= maxchars)
		{
			appendStringInfoString(buf, "&#8230;");
			break;
		}
		if (mblen > end - p)
			mblen = end - p;
		c = (mblen == 1) ? *p : utf8_to_unicode(p);
		p += mblen;

		switch (c)
		{
			case '&':
				appendStringInfoString(buf, "&amp;");
				break;
			case '<':
				appendStringInfoString(buf, "&lt;");
				break;
			case '>':
				appendStringInfoString(buf, "&gt;");
				break;
			case '"':
				appendStringInfoString(buf, "&quot;");
				break;
			case '\'':
				appendStringInfoString(buf, "&#39;");
				break;
			default:
				if (c >= 0x20 && c < 0x7f)
					appendStringInfoChar(buf, (char) c);
				else if (c == '\t' || c == '\n' || c == '\r' ||
						 (c >= 0xa0 && c <= 0xd7ff) ||
						 (c >= 0xe000 && c <= 0xfffd) ||
						 (c >= 0x10000 && c <= 0x10ffff))
					appendStringInfo(buf, "&#x%X;", (unsigned int) c);
				else
					appendStringInfoString(buf, "&#xFFFD;");
				break;
		}
	}
	if (utf8 != s)
		pfree(utf8);
}

/* A coordinate: one decimal, never "-0.0". */
static void
svg_num(StringInfo buf, double v)
{
	if (fabs(v) < 0.05)
		v = 0.0;
	appendStringInfo(buf, "%.1f", v);
}

/*
 * An axis label of a tick at v on an axis with ticks step apart: as many
 * decimals as the step needs (0.025 ms steps label 0.075 so), trailing
 * zeros cut, and k, M, G, T, P or E for big values, scaling the step alike.
 */
static void
tick_label(char *out, size_t size, double v, double step)
{
	/* (thousands from 10k on: 5000 reads better than 5k) */
	static const struct
	{
		double		from;
		double		unit;
		const char *suffix;
	}			scales[] = {
		{1e18, 1e18, "E"}, {1e15, 1e15, "P"}, {1e12, 1e12, "T"},
		{1e9, 1e9, "G"}, {1e6, 1e6, "M"}, {1e4, 1e3, "k"}
	};
	const char *suffix = "";
	int			decimals;
	int			i;
	char	   *dot;
	size_t		len;

	for (i = 0; i < lengthof(scales); i++)
	{
		if (fabs(v) >= scales[i].from)
		{
			v /= scales[i].unit;
			step /= scales[i].unit;
			suffix = scales[i].suffix;
			break;
		}
	}
	/* the fewest decimals that write every multiple of step exactly */
	for (decimals = 0; decimals <= 6; decimals++)
	{
		double		scaled = step * pow(10.0, decimals);

		if (rint(scaled) >= 1.0 && fabs(scaled - rint(scaled)) <= 1e-6 * scaled)
			break;
	}
	if (decimals > 6)
		snprintf(out, size, "%.3g", v);	/* a step below a millionth */
	else
		snprintf(out, size, "%.*f", decimals, v);
	dot = strchr(out, '.');
	if (dot != NULL && strchr(out, 'e') == NULL)
	{
		len = strlen(out);
		while (len > 0 && out[len - 1] == '0')
			out[--len] = '\0';
		if (len > 0 && out[len - 1] == '.')
			out[--len] = '\0';
	}
	if (strcmp(out, "-0") == 0)
		strcpy(out, "0");
	strlcat(out, suffix, size);
}

/*
 * The smallest "nice" step (1, 2, 2.5 or 5 times a power of ten) of at
 * least x; integral steps only when integral (counts).
 */
static double
nice_step(double x, bool integral)
{
	static const double mult[] = {1.0, 2.0, 2.5, 5.0, 10.0};
	double		p;
	int			i;

	if (!(x > 0.0) || !isfinite(x))
		return 1.0;
	/* (a subnormal x would make p underflow to 0) */
	x = Max(x, DBL_MIN);
	p = pow(10.0, floor(log10(x)));
	for (i = 0; i < lengthof(mult); i++)
	{
		double		step = mult[i] * p;

		if (integral && step < 1.0)
			continue;
		if (integral && mult[i] == 2.5 && p < 10.0)
			continue;
		if (step >= x * (1.0 - 1e-12))
			return step;
	}
	return 10.0 * p;
}

/* An estimate of how wide a text is drawn, for layout (sans-serif, 11px). */
static double
text_width(const char *s, double font_size)
{
	return (double) pg_mbstrlen(s) * font_size * 0.58;
}

/* ------------------------------------------------------------- reading */

static char *
spi_text(HeapTuple tuple, TupleDesc desc, int col)
{
	char	   *v = SPI_getvalue(tuple, desc, col);

	return v ? v : pstrdup("");
}

/* The error for a chart of more than SVG_MAX_HOURS hours; detail says why. */
static void refuse_hours(const char *detail) pg_attribute_noreturn();

static void
refuse_hours(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("traffic_svg draws at most %d hours", SVG_MAX_HOURS),
			 errdetail("%s", detail),
			 errhint("Draw a shorter range.")));
}

/*
 * Where each hour read starts and ends, for placing decisions and floors
 * under the bars whose rows they cover.  An hour is named by date_trunc,
 * which is not always where it starts: where Australia/Lord_Howe moves its
 * clock by half an hour, the hour after 01:00 is named 01:30 but starts at
 * 02:30 local time, half an hour after its name.  Its quarters say it
 * (hourbucket.h); should they ever name another hour than the rows do, the
 * next hour's name is taken as each hour's end, as PostgreSQL labels it.
 */
static void
place_hours(SvgChart *chart)
{
	int64		quarter;
	int			i;

	if (chart->nhours == 0)
		return;
	quarter = quarter_of(chart->hours[0].start);
	for (i = 0; i < chart->nhours; i++)
	{
		SvgHour    *h = &chart->hours[i];
		TimestampTz name;
		int64		first;
		int64		end;
		int			k;

		bucket_of_quarter(quarter, session_timezone, &name, &first, &end);
		for (k = 0; name < h->start && k < MAX_BUCKET_QUARTERS; k++)
			bucket_of_quarter(++quarter, session_timezone, &name, &first, &end);
		if (name != h->start)
			break;
		h->start = first * USECS_PER_QUARTER;
		h->end = end * USECS_PER_QUARTER;
		quarter = end;
	}
	for (; i < chart->nhours; i++)
		chart->hours[i].end = (i + 1 < chart->nhours) ?
			chart->hours[i + 1].start : chart->hours[i].start + USECS_PER_HOUR;
}

/*
 * The rows of an hourly_requests() query (run through SPI as the caller)
 * with their labels.  query has the columns hour, requests, errors, p95_ms,
 * peak_rpm, then the hour as to_char prints it ('HH24', 'Dy DD Mon', 'TZ',
 * 'OF', 'YYYY-MM-DD HH24:MI TZ').
 */
static void
read_hours(SvgChart *chart, const char *query, int nargs, Oid *argtypes,
		   Datum *values, const char *nulls, const char *too_many)
{
	int			ret;
	uint64		i;
	TupleDesc	desc;

	ret = SPI_execute_with_args(query, nargs, argtypes, values, nulls, true,
								SVG_MAX_HOURS + 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed: %s",
			 SPI_result_code_string(ret));
	if (SPI_processed > SVG_MAX_HOURS)
		refuse_hours(too_many);

	desc = SPI_tuptable->tupdesc;
	chart->nhours = (int) SPI_processed;
	chart->hours = palloc0(sizeof(SvgHour) * Max(chart->nhours, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		SvgHour    *h = &chart->hours[i];
		bool		isnull;
		Datum		d;

		CHECK_FOR_INTERRUPTS();
		h->start = DatumGetTimestampTz(SPI_getbinval(tuple, desc, 1, &isnull));
		d = SPI_getbinval(tuple, desc, 2, &isnull);
		h->requests = isnull ? 0 : DatumGetInt64(d);
		d = SPI_getbinval(tuple, desc, 3, &isnull);
		h->errors = isnull ? 0 : DatumGetInt64(d);
		d = SPI_getbinval(tuple, desc, 4, &isnull);
		h->has_p95 = !isnull && isfinite(DatumGetFloat8(d));
		h->p95_ms = h->has_p95 ? DatumGetFloat8(d) : 0.0;
		d = SPI_getbinval(tuple, desc, 5, &isnull);
		h->peak_rpm = isnull ? 0 : DatumGetInt64(d);
		h->hh = spi_text(tuple, desc, 6);
		h->day = spi_text(tuple, desc, 7);
		h->zone = spi_text(tuple, desc, 8);
		h->offset = spi_text(tuple, desc, 9);
		h->when = spi_text(tuple, desc, 10);
	}
	place_hours(chart);
}

/* The range [from, to) and the session TimeZone, as PostgreSQL prints them. */
static void
read_range_labels(SvgChart *chart, TimestampTz from, TimestampTz to)
{
	Oid			argtypes[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[2];
	int			ret;

	values[0] = TimestampTzGetDatum(from);
	values[1] = TimestampTzGetDatum(to);
	ret = SPI_execute_with_args("SELECT pg_catalog.to_char($1, 'YYYY-MM-DD HH24:MI TZ'), "
								"pg_catalog.to_char($2, 'YYYY-MM-DD HH24:MI TZ'), "
								"pg_catalog.current_setting('TimeZone')",
								2, argtypes, values, NULL, true, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "reading the range labels failed: %s",
			 SPI_result_code_string(ret));
	chart->range_from = spi_text(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	chart->range_to = spi_text(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	chart->timezone = spi_text(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
}

/* Deconstruct a one-dimensional array of a fixed-width type. */
static int
array_elements(Datum array, Oid elemtype, Datum **elems, bool **nulls)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			n;

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(DatumGetArrayTypeP(array), elemtype, typlen, typbyval,
					  typalign, elems, nulls, &n);
	return n;
}

/*
 * Call scaler._svg_policy() through fmgr with the real caller and deform
 * its row (name, capacity, decided_at[], to_capacity[], starts[], ends[],
 * min_capacity[], forecast[]) into values and nulls.
 */
static void
call_svg_policy(const char *policy, TimestampTz since, TimestampTz until,
				bool decisions, Datum *values, bool *nulls)
{
	Oid			argtypes[5] = {OIDOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, BOOLOID};
	Oid			fn = scaler_function("_svg_policy", 5, argtypes);
	LOCAL_FCINFO(fcinfo, 5);
	FmgrInfo	flinfo;
	Datum		result;

	fmgr_info(fn, &flinfo);
	InitFunctionCallInfoData(*fcinfo, &flinfo, 5, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = ObjectIdGetDatum(GetUserId());
	fcinfo->args[0].isnull = false;
	fcinfo->args[1].value = CStringGetTextDatum(policy);
	fcinfo->args[1].isnull = false;
	fcinfo->args[2].value = TimestampTzGetDatum(since);
	fcinfo->args[2].isnull = false;
	fcinfo->args[3].value = TimestampTzGetDatum(until);
	fcinfo->args[3].isnull = false;
	fcinfo->args[4].value = BoolGetDatum(decisions);
	fcinfo->args[4].isnull = false;
	result = FunctionCallInvoke(fcinfo);
	if (fcinfo->isnull)
		elog(ERROR, "scaler._svg_policy returned null");
	scaler_deform_result(result, "scaler._svg_policy", 8, values, nulls);
}

/* The recorded decisions as capacity steps, from decided_at[], to_capacity[]. */
static void
read_decisions(SvgChart *chart, Datum decided_at, Datum to_capacity)
{
	Datum	   *e1;
	Datum	   *e2;
	bool	   *n1;
	bool	   *n2;
	int			n;
	int			i;

	n = array_elements(decided_at, TIMESTAMPTZOID, &e1, &n1);
	if (array_elements(to_capacity, INT4OID, &e2, &n2) != n)
		elog(ERROR, "scaler._svg_policy returned arrays of different lengths");
	chart->capacity.at = palloc(sizeof(TimestampTz) * Max(n, 1));
	chart->capacity.values = palloc(sizeof(int) * Max(n, 1));
	chart->capacity.n = 0;
	for (i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (n1[i] || n2[i])
			continue;
		chart->capacity.at[chart->capacity.n] = DatumGetTimestampTz(e1[i]);
		chart->capacity.values[chart->capacity.n] = DatumGetInt32(e2[i]);
		chart->capacity.n++;
	}
}

/* The capacity floors, from starts[], ends[], min_capacity[], forecast[]. */
static void
read_floors(SvgChart *chart, const Datum *arrays)
{
	Datum	   *e1;
	Datum	   *e2;
	Datum	   *e3;
	Datum	   *e4;
	bool	   *n1;
	bool	   *n2;
	bool	   *n3;
	bool	   *n4;
	int			n;
	int			i;

	n = array_elements(arrays[0], TIMESTAMPTZOID, &e1, &n1);
	if (array_elements(arrays[1], TIMESTAMPTZOID, &e2, &n2) != n ||
		array_elements(arrays[2], INT4OID, &e3, &n3) != n ||
		array_elements(arrays[3], BOOLOID, &e4, &n4) != n)
		elog(ERROR, "scaler._svg_policy returned arrays of different lengths");
	chart->floors = palloc(sizeof(SvgFloor) * Max(n, 1));
	chart->nfloors = 0;
	for (i = 0; i < n; i++)
	{
		SvgFloor   *f = &chart->floors[chart->nfloors];

		CHECK_FOR_INTERRUPTS();
		if (n1[i] || n2[i] || n3[i] || n4[i])
			continue;
		f->starts = DatumGetTimestampTz(e1[i]);
		f->ends = DatumGetTimestampTz(e2[i]);
		f->min_capacity = DatumGetInt32(e3[i]);
		f->forecast = DatumGetBool(e4[i]);
		chart->nfloors++;
	}
}

/*
 * The policy's name, its recorded decisions (unless replaying) and its
 * capacity floors over [since, until), from scaler._svg_policy() called
 * with the real caller, who must be able to manage the policy.
 */
static void
read_policy(SvgChart *chart, const char *policy, TimestampTz since,
			TimestampTz until)
{
	Datum		values[8];
	bool		nulls[8];

	call_svg_policy(policy, since, until, !chart->replay, values, nulls);
	if (nulls[0] || nulls[1])
		elog(ERROR, "scaler._svg_policy returned no name or capacity");
	chart->policy = TextDatumGetCString(values[0]);
	chart->capacity.initial = DatumGetInt32(values[1]);
	if (!nulls[2] && !nulls[3])
		read_decisions(chart, values[2], values[3]);
	if (!nulls[4] && !nulls[5] && !nulls[6] && !nulls[7])
		read_floors(chart, &values[4]);
}

/*
 * The capacity and demand of scaler.backtest() over (since, until], as the
 * caller runs it (backtest checks that the caller may manage the policy).
 * A replay has a row per stable_window (up to a million): only the first
 * row and those where demand or capacity change come back from SQL.  The
 * demand of a row is over the step ending at its `at`, so it holds from the
 * previous row's `at` (step_start); the capacity holds from `at` on.
 * (Neither is ever NULL, so the first row aside, <> finds the changes; every
 * operator is qualified, as the caller's search_path may hold one of
 * anybody's.)
 */
static void
read_replay(SvgChart *chart, const char *policy, TimestampTz since,
			TimestampTz until)
{
	Oid			argtypes[3] = {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[3];
	SPIPlanPtr	plan;
	Portal		portal;
	int			capacity = 0;
	int			n = 0;

	values[0] = CStringGetTextDatum(policy);
	values[1] = TimestampTzGetDatum(since);
	values[2] = TimestampTzGetDatum(until);
	plan = SPI_prepare("SELECT x.at, x.step_start, x.demand, x.from_capacity, x.capacity "
					   "FROM (SELECT b.at, b.demand, b.from_capacity, b.capacity, "
					   "pg_catalog.lag(b.at) OVER w AS step_start, "
					   "pg_catalog.lag(b.demand) OVER w AS last_demand, "
					   "pg_catalog.lag(b.capacity) OVER w AS last_capacity "
					   "FROM scaler.backtest($1, $2, $3) b WINDOW w AS (ORDER BY b.at)) x "
					   "WHERE x.step_start IS NULL "
					   "OR x.demand OPERATOR(pg_catalog.<>) x.last_demand "
					   "OR x.capacity OPERATOR(pg_catalog.<>) x.last_capacity "
					   "ORDER BY x.at",
					   3, argtypes);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, values, NULL, true);

	/*
	 * Read in batches through a cursor: a policy whose capacity changes at
	 * most of a million steps would otherwise hold every changed row as a
	 * tuple at once, where the arrays take 24 bytes a change.
	 */
	for (;;)
	{
		TupleDesc	desc;
		uint64		i;

		SPI_cursor_fetch(portal, true, REPLAY_BATCH_ROWS);
		if (SPI_processed == 0)
			break;
		desc = SPI_tuptable->tupdesc;
		if (n + SPI_processed > (uint64) capacity)
		{
			capacity = Max(capacity * 2, n + (int) SPI_processed);
			if (chart->capacity.at == NULL)
			{
				chart->capacity.at = palloc(sizeof(TimestampTz) * capacity);
				chart->capacity.values = palloc(sizeof(int) * capacity);
				chart->demand.at = palloc(sizeof(TimestampTz) * capacity);
				chart->demand.values = palloc(sizeof(int) * capacity);
			}
			else
			{
				chart->capacity.at = repalloc(chart->capacity.at, sizeof(TimestampTz) * capacity);
				chart->capacity.values = repalloc(chart->capacity.values, sizeof(int) * capacity);
				chart->demand.at = repalloc(chart->demand.at, sizeof(TimestampTz) * capacity);
				chart->demand.values = repalloc(chart->demand.values, sizeof(int) * capacity);
			}
		}
		for (i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tuple = SPI_tuptable->vals[i];
			bool		isnull;
			TimestampTz at;
			Datum		d;

			CHECK_FOR_INTERRUPTS();
			at = DatumGetTimestampTz(SPI_getbinval(tuple, desc, 1, &isnull));
			if (isnull)
				continue;
			d = SPI_getbinval(tuple, desc, 2, &isnull);
			chart->demand.at[n] = isnull ? since : DatumGetTimestampTz(d);
			d = SPI_getbinval(tuple, desc, 3, &isnull);
			chart->demand.values[n] = isnull ? 0 : DatumGetInt32(d);
			if (n == 0)
			{
				chart->demand.initial = chart->demand.values[0];
				d = SPI_getbinval(tuple, desc, 4, &isnull);
				chart->capacity.initial = isnull ? 0 : DatumGetInt32(d);
			}
			d = SPI_getbinval(tuple, desc, 5, &isnull);
			chart->capacity.at[n] = at;
			chart->capacity.values[n] = isnull ? 0 : DatumGetInt32(d);
			n++;
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	SPI_freeplan(plan);
	chart->capacity.n = n;
	chart->demand.n = n;
}

/* -------------------------------------------------------------- layout */

typedef struct SvgLayout
{
	double		x0;				/* plot area, left and right */
	double		x1;
	double		slot;			/* width of one hour */
	double		top;			/* traffic panel */
	double		base;
	double		cap_top;		/* capacity panel (policy only) */
	double		cap_base;
	double		axis_y;			/* the line the hour labels hang from */
	TimestampTz from;			/* the hours drawn: [from, to) */
	TimestampTz to;
	int			ticks;
	double		req_max;		/* top of the requests axis */
	double		p95_max;		/* top of the p95 axis */
	int			cap_ticks;
	double		cap_max;
} SvgLayout;

typedef struct LegendItem
{
	const char *kind;			/* bar, peak, p95, error, capacity, demand, floor, prewarm */
	const char *label;			/* plain text, escaped when drawn */
	const char *markup;			/* or fixed markup, drawn as it is */
} LegendItem;

/* x of a time: piecewise linear over the hours, clamped to the plot. */
static double
x_of(const SvgChart *chart, const SvgLayout *l, TimestampTz t)
{
	int			lo = 0;
	int			hi = chart->nhours - 1;
	const SvgHour *h;

	if (chart->nhours == 0 || t <= chart->hours[0].start)
		return l->x0;
	if (t >= chart->hours[chart->nhours - 1].end)
		return l->x1;
	/* the last hour starting at or before t */
	while (lo < hi)
	{
		int			mid = (lo + hi + 1) / 2;

		if (chart->hours[mid].start <= t)
			lo = mid;
		else
			hi = mid - 1;
	}
	h = &chart->hours[lo];
	return l->x0 + l->slot * (lo + (double) (t - h->start) /
							  (double) Max(h->end - h->start, 1));
}

static double
y_req(const SvgLayout *l, double v)
{
	return l->base - (l->base - l->top) * Min(v / l->req_max, 1.0);
}

static double
y_p95(const SvgLayout *l, double v)
{
	return l->base - (l->base - l->top) * Min(v / l->p95_max, 1.0);
}

static double
y_cap(const SvgLayout *l, double v)
{
	return l->cap_base - (l->cap_base - l->cap_top) * Min(v / l->cap_max, 1.0);
}

/* ------------------------------------------------------------- drawing */

static void
draw_legend_swatch(StringInfo buf, const char *kind, double x, double y)
{
	/* y is the text baseline; swatches are 14 wide, centred on y - 4 */
	if (strcmp(kind, "bar") == 0)
		appendStringInfo(buf, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"9\" fill=\"%s\"/>",
						 x, y - 8.5, COLOR_BAR);
	else if (strcmp(kind, "peak") == 0)
		appendStringInfo(buf, "<path d=\"M%.1f %.1fh14\" stroke=\"%s\" stroke-width=\"2\"/>",
						 x, y - 4.0, COLOR_PEAK);
	else if (strcmp(kind, "p95") == 0)
		appendStringInfo(buf, "<path d=\"M%.1f %.1fh14\" stroke=\"%s\" stroke-width=\"2\"/>",
						 x, y - 4.0, COLOR_P95);
	else if (strcmp(kind, "error") == 0)
		appendStringInfo(buf, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"5\" fill=\"%s\"/>",
						 x, y - 6.5, COLOR_ERROR);
	else if (strcmp(kind, "capacity") == 0)
		appendStringInfo(buf, "<path d=\"M%.1f %.1fh5v-6h9\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"/>",
						 x, y - 1.0, COLOR_CAPACITY);
	else if (strcmp(kind, "demand") == 0)
		appendStringInfo(buf, "<path d=\"M%.1f %.1fh14\" stroke=\"%s\" stroke-width=\"1.5\" stroke-dasharray=\"3 2\"/>",
						 x, y - 4.0, COLOR_DEMAND);
	else if (strcmp(kind, "floor") == 0)
		appendStringInfo(buf, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"9\" fill=\"%s\" fill-opacity=\"0.3\"/>",
						 x, y - 8.5, COLOR_FLOOR);
	else if (strcmp(kind, "prewarm") == 0)
		appendStringInfo(buf, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"9\" fill=\"%s\" fill-opacity=\"0.35\"/>",
						 x, y - 8.5, COLOR_PREWARM);
}

/* Whether the UTC offset changes at hour i (a DST switch). */
static bool
offset_changes(const SvgChart *chart, int i)
{
	return i > 0 && strcmp(chart->hours[i].offset, chart->hours[i - 1].offset) != 0;
}

/*
 * Which hours get a label: every hour where the offset changes (labelled
 * with the new zone abbreviation), then every label_every-th local hour
 * (1, 2, 3, 4, 6 or 12, the first that leaves room) where it does not
 * overlap a label already placed.
 */
static bool *
place_hour_labels(const SvgChart *chart, const SvgLayout *l)
{
	bool	   *draw = palloc0(sizeof(bool) * Max(chart->nhours, 1));
	double	   *left = palloc(sizeof(double) * Max(chart->nhours, 1));
	double	   *right = palloc(sizeof(double) * Max(chart->nhours, 1));
	int			nplaced = 0;
	int			label_every;
	int			pass;
	int			i;
	int			j;

	for (label_every = 1; label_every < 24; label_every++)
		if (24 % label_every == 0 && l->slot * label_every >= 26.0)
			break;

	for (pass = 0; pass < 2; pass++)
	{
		for (i = 0; i < chart->nhours; i++)
		{
			bool		shift = offset_changes(chart, i);
			double		x = l->x0 + l->slot * i;
			double		half;
			bool		free = true;

			CHECK_FOR_INTERRUPTS();
			if (pass == 0 ? !shift :
				(shift || label_every >= 24 || atoi(chart->hours[i].hh) % label_every != 0))
				continue;
			half = (text_width(shift ? "00 XXXX" : "00", 11.0) + 6.0) / 2.0;
			for (j = 0; j < nplaced && free; j++)
				free = x + half <= left[j] || x - half >= right[j];
			if (!free)
				continue;
			draw[i] = true;
			left[nplaced] = x - half;
			right[nplaced] = x + half;
			nplaced++;
		}
	}
	return draw;
}

/*
 * The vertical stroke of one pixel column of a step line: from the value
 * drawn before, through every value the changes in the column reached
 * (lowest to highest), to the last of them.
 */
static void
draw_step_column(StringInfo buf, const SvgLayout *l, double x, int before,
				 int lowest, int highest, int last)
{
	appendStringInfoString(buf, "H");
	svg_num(buf, x);
	if (lowest < Min(before, last))
	{
		appendStringInfoString(buf, "V");
		svg_num(buf, y_cap(l, lowest));
	}
	if (highest > Max(before, last))
	{
		appendStringInfoString(buf, "V");
		svg_num(buf, y_cap(l, highest));
	}
	appendStringInfoString(buf, "V");
	svg_num(buf, y_cap(l, last));
}

/*
 * A step line as a path: from `from` at initial, then each change.  The
 * changes that fall in one pixel column are drawn as one vertical stroke,
 * so a path has a few commands per pixel whatever the number of changes: a
 * replay can change at each of a million steps, and an SVG attribute over
 * 10 MB is too big for libxml2-based viewers.
 */
static void
draw_steps(StringInfo buf, const SvgChart *chart, const SvgLayout *l,
		   const SvgSteps *s, TimestampTz from, TimestampTz to)
{
	int			drawn = s->initial;	/* the value the path is at */
	int			last = s->initial;	/* the value of the latest change */
	bool		gathering = false;	/* changes of column_x seen, not drawn */
	double		column_x = 0.0;
	int			lowest = 0;
	int			highest = 0;
	int			i;

	appendStringInfoString(buf, "M");
	svg_num(buf, x_of(chart, l, from));
	appendStringInfoChar(buf, ' ');
	svg_num(buf, y_cap(l, drawn));
	for (i = 0; i < s->n; i++)
	{
		double		x;

		CHECK_FOR_INTERRUPTS();
		if (s->values[i] == last || s->at[i] >= to)
			continue;
		x = x_of(chart, l, Max(s->at[i], from));
		if (gathering && floor(x) == floor(column_x))
		{
			last = s->values[i];
			lowest = Min(lowest, last);
			highest = Max(highest, last);
			continue;
		}
		if (gathering)
		{
			draw_step_column(buf, l, column_x, drawn, lowest, highest, last);
			drawn = last;
		}
		last = s->values[i];
		gathering = true;
		column_x = x;
		lowest = highest = last;
	}
	if (gathering)
		draw_step_column(buf, l, column_x, drawn, lowest, highest, last);
	appendStringInfoString(buf, "H");
	svg_num(buf, x_of(chart, l, to));
}

/* The legend's items; the labels are plain text (markup: drawn as is). */
static int
legend_items(const SvgChart *chart, LegendItem *legend)
{
	int			nlegend = 0;
	bool		policy = chart->policy != NULL;

	legend[nlegend].kind = "bar";
	legend[nlegend++].label = "requests per hour";
	legend[nlegend].kind = "peak";
	legend[nlegend].label = "busiest minute x 60";
	legend[nlegend++].markup = "busiest minute &#215; 60";
	legend[nlegend].kind = "p95";
	legend[nlegend++].label = "p95 latency (ms, right axis)";
	legend[nlegend].kind = "error";
	legend[nlegend++].label = "hours with errors (solid: 5% or more)";
	if (policy)
	{
		legend[nlegend].kind = "capacity";
		legend[nlegend++].label = psprintf("capacity of %s%s", chart->policy,
										   chart->replay ? " (backtest replay)" : " (decisions)");
		if (chart->replay)
		{
			legend[nlegend].kind = "demand";
			legend[nlegend++].label = "demand (replay)";
		}
		legend[nlegend].kind = "floor";
		legend[nlegend++].label = "capacity floor";
		legend[nlegend].kind = "prewarm";
		legend[nlegend++].label = "forecast floor (pre-warm)";
	}
	return nlegend;
}

/* How many rows the legend takes at this width. */
static int
legend_rows(const SvgChart *chart, const LegendItem *legend, int nlegend)
{
	int			rows = 1;
	double		lx = 64.0;
	int			i;

	for (i = 0; i < nlegend; i++)
	{
		double		w = 20.0 + text_width(legend[i].label, 11.0) + 16.0;

		CHECK_FOR_INTERRUPTS();
		if (i > 0 && lx + w > chart->width - 16.0)
		{
			rows++;
			lx = 64.0;
		}
		lx += w;
	}
	return rows;
}

/*
 * Where everything goes: the panels, and the scales (the p95 axis shares
 * the requests axis' grid lines).
 */
static void
compute_layout(const SvgChart *chart, int rows, SvgLayout *l)
{
	double		raw;
	double		step;
	double		max_p95 = 0.0;
	double		max_peak = 0.0;
	int64		max_req = 0;
	int			max_cap = 0;
	bool		policy = chart->policy != NULL;
	int			i;

	/* ---- geometry */
	l->x0 = 64.0;
	l->x1 = chart->width - 64.0;
	l->slot = (l->x1 - l->x0) / Max(chart->nhours, 1);
	l->top = 50.0 + 16.0 * rows + 8.0;
	l->axis_y = chart->height - 38.0;
	if (policy)
	{
		double		avail = l->axis_y - l->top;
		double		cap_h = floor(avail * 0.34);

		l->base = l->top + (avail - cap_h - 26.0);
		l->cap_top = l->base + 26.0;
		l->cap_base = l->axis_y;
	}
	else
	{
		l->base = l->axis_y;
		l->cap_top = l->cap_base = l->axis_y;
	}

	/* ---- scales: the p95 axis shares the requests axis' grid lines */
	for (i = 0; i < chart->nhours; i++)
	{
		const SvgHour *h = &chart->hours[i];

		CHECK_FOR_INTERRUPTS();
		max_req = Max(max_req, h->requests);
		max_peak = Max(max_peak, (double) h->peak_rpm * 60.0);
		if (h->has_p95)
			max_p95 = Max(max_p95, h->p95_ms);
	}
	/* a burst of a few seconds must not flatten the bars: clip the marks */
	raw = max_req > 0 ? Max((double) max_req, Min(max_peak, PEAK_CLIP * max_req)) :
		max_peak;
	step = nice_step(raw / 5.0, true);
	l->ticks = Max((int) ceil(raw / step - 1e-9), 1);
	l->req_max = step * l->ticks;
	l->p95_max = nice_step(max_p95 / l->ticks, false) * l->ticks;

	l->from = l->to = 0;
	if (chart->nhours > 0)
	{
		l->from = chart->hours[0].start;
		l->to = chart->hours[chart->nhours - 1].end;
	}
	if (policy)
	{
		max_cap = chart->capacity.initial;
		for (i = 0; i < chart->capacity.n; i++)
			max_cap = Max(max_cap, chart->capacity.values[i]);
		for (i = 0; i < chart->demand.n; i++)
			max_cap = Max(max_cap, chart->demand.values[i]);
		for (i = 0; i < chart->nfloors; i++)
			if (chart->floors[i].ends > l->from && chart->floors[i].starts < l->to)
				max_cap = Max(max_cap, chart->floors[i].min_capacity);
		step = nice_step((double) max_cap / 3.0, true);
		l->cap_ticks = Max((int) ceil(max_cap / step - 1e-9), 1);
		l->cap_max = step * l->cap_ticks;
	}
}

/* The prolog, title, description, background, title lines and legend. */
static void
draw_header(StringInfo buf, const SvgChart *chart, const LegendItem *legend,
			int nlegend)
{
	StringInfoData title;
	bool		policy = chart->policy != NULL;
	double		lx;
	double		ly;
	int			i;

	initStringInfo(&title);
	appendStringInfoString(&title, "Requests per hour: ");
	if (chart->source == NULL)
		appendStringInfoString(&title, "a traffic value");
	else if (chart->function_name == NULL)
		appendStringInfoString(&title, "all functions");
	else
		appendStringInfoString(&title, chart->function_name);

	appendStringInfo(buf,
					 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
					 "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
					 "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
					 "font-family=\"sans-serif\" font-size=\"11\" fill=\"%s\">\n",
					 chart->width, chart->height, chart->width, chart->height,
					 COLOR_TEXT);
	appendStringInfoString(buf, "<title>");
	svg_text(buf, title.data, SVG_MAX_NAME + 32);
	appendStringInfoString(buf, "</title>\n<desc>");
	appendStringInfoString(buf, "Requests per local hour as bars, the busiest minute of each hour (times 60) as a mark, p95 latency as a line on the right axis, hours with errors marked below the bars");
	if (policy)
		appendStringInfoString(buf, "; below, the capacity of a policy as a step line over its capacity floors");
	appendStringInfoString(buf, ". Made by scaler.traffic_svg().</desc>\n");
	appendStringInfo(buf, "<rect class=\"background\" x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n",
					 chart->width, chart->height);

	/* title and subtitle */
	appendStringInfoString(buf, "<text class=\"title\" x=\"16\" y=\"22\" font-size=\"15\" font-weight=\"bold\">");
	svg_text(buf, title.data, SVG_MAX_NAME + 32);
	appendStringInfoString(buf, "</text>\n<text class=\"subtitle\" x=\"16\" y=\"39\" fill=\"#666666\">");
	if (chart->source != NULL)
	{
		svg_text(buf, chart->source, SVG_MAX_NAME);
		appendStringInfoString(buf, ", ");
	}
	if (chart->nhours > 0)
	{
		svg_text(buf, chart->range_from, SVG_MAX_NAME);
		appendStringInfoString(buf, " to ");
		svg_text(buf, chart->range_to, SVG_MAX_NAME);
		appendStringInfoChar(buf, ' ');
	}
	appendStringInfoString(buf, "(TimeZone ");
	svg_text(buf, chart->timezone, SVG_MAX_NAME);
	appendStringInfoString(buf, ")</text>\n");

	/* legend */
	appendStringInfoString(buf, "<g class=\"legend\">\n");
	lx = 64.0;
	ly = 58.0;
	for (i = 0; i < nlegend; i++)
	{
		double		w = 20.0 + text_width(legend[i].label, 11.0) + 16.0;

		CHECK_FOR_INTERRUPTS();
		if (i > 0 && lx + w > chart->width - 16.0)
		{
			lx = 64.0;
			ly += 16.0;
		}
		draw_legend_swatch(buf, legend[i].kind, lx, ly);
		appendStringInfo(buf, "<text x=\"%.1f\" y=\"%.1f\">", lx + 20.0, ly);
		if (legend[i].markup != NULL)
			appendStringInfoString(buf, legend[i].markup);
		else
			svg_text(buf, legend[i].label, SVG_MAX_NAME + 32);
		appendStringInfoString(buf, "</text>\n");
		lx += w;
	}
	appendStringInfoString(buf, "</g>\n");
}

/*
 * The labels of one axis: ticks + 1 values from 0 to max, at x, each placed
 * by the axis' own scale y_of.
 */
static void
draw_tick_labels(StringInfo buf, const SvgLayout *l, double x, double max,
				 int ticks, double (*y_of) (const SvgLayout *, double))
{
	char		label[64];
	int			k;

	for (k = 0; k <= ticks; k++)
	{
		tick_label(label, sizeof(label), max * k / ticks, max / ticks);
		appendStringInfo(buf, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
						 x, y_of(l, max * k / ticks) + 4.0, label);
	}
}

/* The plot area, grid lines and axis labels. */
static void
draw_axes(StringInfo buf, const SvgChart *chart, const SvgLayout *l)
{
	bool		policy = chart->policy != NULL;
	int			k;

	/* plot area (tests find the geometry here) and grid */
	appendStringInfo(buf, "<rect class=\"plot-area\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#ffffff\"/>\n",
					 l->x0, l->top, l->x1 - l->x0, l->base - l->top);
	appendStringInfo(buf, "<g class=\"grid\" stroke=\"%s\" stroke-width=\"1\">\n", COLOR_GRID);
	for (k = 1; k <= l->ticks; k++)
		appendStringInfo(buf, "<path d=\"M%.1f %.1fH%.1f\"/>\n", l->x0,
						 y_req(l, l->req_max * k / l->ticks), l->x1);
	if (policy)
		for (k = 1; k <= l->cap_ticks; k++)
			appendStringInfo(buf, "<path d=\"M%.1f %.1fH%.1f\"/>\n", l->x0,
							 y_cap(l, l->cap_max * k / l->cap_ticks), l->x1);
	appendStringInfoString(buf, "</g>\n");

	/* axis labels */
	appendStringInfo(buf, "<g class=\"axis-requests\" text-anchor=\"end\">\n");
	draw_tick_labels(buf, l, l->x0 - 6.0, l->req_max, l->ticks, y_req);
	appendStringInfo(buf, "<text transform=\"translate(14 %.1f) rotate(-90)\" text-anchor=\"middle\">requests / hour</text>\n",
					 (l->top + l->base) / 2.0);
	appendStringInfoString(buf, "</g>\n");
	appendStringInfo(buf, "<g class=\"axis-p95\" text-anchor=\"start\" fill=\"%s\">\n", COLOR_P95);
	draw_tick_labels(buf, l, l->x1 + 6.0, l->p95_max, l->ticks, y_p95);
	appendStringInfo(buf, "<text transform=\"translate(%.1f %.1f) rotate(90)\" text-anchor=\"middle\">p95 latency (ms)</text>\n",
					 chart->width - 14.0, (l->top + l->base) / 2.0);
	appendStringInfoString(buf, "</g>\n");
	if (policy)
	{
		appendStringInfo(buf, "<g class=\"axis-capacity\" text-anchor=\"end\">\n");
		draw_tick_labels(buf, l, l->x0 - 6.0, l->cap_max, l->cap_ticks, y_cap);
		appendStringInfo(buf, "<text transform=\"translate(14 %.1f) rotate(-90)\" text-anchor=\"middle\">instances</text>\n",
						 (l->cap_top + l->cap_base) / 2.0);
		appendStringInfoString(buf, "</g>\n");
	}

	if (chart->nhours == 0)
		appendStringInfo(buf, "<text class=\"empty\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">no traffic</text>\n",
						 (l->x0 + l->x1) / 2.0, (l->top + l->base) / 2.0);
}

/* Local midnights: a faint line across the panels. */
static void
draw_day_lines(StringInfo buf, const SvgChart *chart, const SvgLayout *l)
{
	int			i;

	appendStringInfo(buf, "<g class=\"days\" stroke=\"%s\" stroke-dasharray=\"2 3\">\n", COLOR_AXIS);
	for (i = 1; i < chart->nhours; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (strcmp(chart->hours[i].day, chart->hours[i - 1].day) != 0)
			appendStringInfo(buf, "<path d=\"M%.1f %.1fV%.1f\"/>\n",
							 l->x0 + l->slot * i, l->top, l->cap_base);
	}
	appendStringInfoString(buf, "</g>\n");
}

/* The bars, with the hour's numbers as a tooltip. */
static void
draw_bars(StringInfo buf, const SvgChart *chart, const SvgLayout *l)
{
	int			i;

	appendStringInfo(buf, "<g class=\"bars\" fill=\"%s\">\n", COLOR_BAR);
	for (i = 0; i < chart->nhours; i++)
	{
		const SvgHour *h = &chart->hours[i];
		double		gap = l->slot >= 4.0 ? Max(1.0, l->slot * 0.15) : 0.0;
		double		y;

		CHECK_FOR_INTERRUPTS();
		if (h->requests <= 0)
			continue;
		y = Min(y_req(l, (double) h->requests), l->base - 1.0);
		appendStringInfoString(buf, "<rect class=\"bar\" x=\"");
		svg_num(buf, l->x0 + l->slot * i + gap / 2.0);
		appendStringInfoString(buf, "\" y=\"");
		svg_num(buf, y);
		appendStringInfoString(buf, "\" width=\"");
		svg_num(buf, Max(l->slot - gap, 0.1));
		appendStringInfoString(buf, "\" height=\"");
		svg_num(buf, l->base - y);
		appendStringInfoString(buf, "\"><title>");
		svg_text(buf, h->when, SVG_MAX_NAME);
		appendStringInfo(buf, ": " INT64_FORMAT " requests, " INT64_FORMAT " errors, busiest minute " INT64_FORMAT,
						 h->requests, h->errors, h->peak_rpm);
		if (h->has_p95)
			appendStringInfo(buf, ", p95 %.1f ms", h->p95_ms);
		appendStringInfoString(buf, "</title></rect>\n");
	}
	appendStringInfoString(buf, "</g>\n");
}

/* The busiest minute, times 60, as a thin mark over each hour. */
static void
draw_peaks(StringInfo buf, const SvgChart *chart, const SvgLayout *l)
{
	int			i;

	appendStringInfo(buf, "<path class=\"peak\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" d=\"", COLOR_PEAK);
	for (i = 0; i < chart->nhours; i++)
	{
		const SvgHour *h = &chart->hours[i];
		double		w = Max(l->slot * 0.7, 1.0);

		CHECK_FOR_INTERRUPTS();
		if (h->peak_rpm <= 0 || (double) h->peak_rpm * 60.0 > l->req_max)
			continue;
		appendStringInfoString(buf, "M");
		svg_num(buf, l->x0 + l->slot * (i + 0.5) - w / 2.0);
		appendStringInfoChar(buf, ' ');
		svg_num(buf, y_req(l, (double) h->peak_rpm * 60.0));
		appendStringInfoString(buf, "h");
		svg_num(buf, w);
	}
	appendStringInfoString(buf, "\"/>\n");
}

/*
 * Busiest minutes off the requests scale (PEAK_CLIP): a triangle at the top,
 * the number as a tooltip.
 */
static void
draw_clipped_peaks(StringInfo buf, const SvgChart *chart, const SvgLayout *l)
{
	int			i;

	appendStringInfo(buf, "<g class=\"peak-clipped\" fill=\"%s\">\n", COLOR_PEAK);
	for (i = 0; i < chart->nhours; i++)
	{
		const SvgHour *h = &chart->hours[i];
		double		cx = l->x0 + l->slot * (i + 0.5);
		double		half = Min(Max(l->slot * 0.35, 1.5), 5.0);

		CHECK_FOR_INTERRUPTS();
		if (h->peak_rpm <= 0 || (double) h->peak_rpm * 60.0 <= l->req_max)
			continue;
		appendStringInfoString(buf, "<path d=\"M");
		svg_num(buf, cx - half);
		appendStringInfoChar(buf, ' ');
		svg_num(buf, l->top + 7.0);
		appendStringInfoString(buf, "L");
		svg_num(buf, cx);
		appendStringInfoChar(buf, ' ');
		svg_num(buf, l->top + 1.0);
		appendStringInfoString(buf, "L");
		svg_num(buf, cx + half);
		appendStringInfoChar(buf, ' ');
		svg_num(buf, l->top + 7.0);
		appendStringInfoString(buf, "Z\"><title>");
		svg_text(buf, h->when, SVG_MAX_NAME);
		appendStringInfo(buf, ": busiest minute " INT64_FORMAT " requests, off the scale</title></path>\n",
						 h->peak_rpm);
	}
	appendStringInfoString(buf, "</g>\n");
}

/*
 * p95: a line through the hours that have durations, broken elsewhere; an
 * hour with durations between two without gets a dot.
 */
static void
draw_p95(StringInfo buf, const SvgChart *chart, const SvgLayout *l)
{
	int			i;

	appendStringInfo(buf, "<path class=\"p95\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" stroke-linejoin=\"round\" d=\"", COLOR_P95);
	for (i = 0; i < chart->nhours; i++)
	{
		const SvgHour *h = &chart->hours[i];

		CHECK_FOR_INTERRUPTS();
		if (!h->has_p95)
			continue;
		appendStringInfoString(buf, (i > 0 && chart->hours[i - 1].has_p95) ? "L" : "M");
		svg_num(buf, l->x0 + l->slot * (i + 0.5));
		appendStringInfoChar(buf, ' ');
		svg_num(buf, y_p95(l, h->p95_ms));
	}
	appendStringInfoString(buf, "\"/>\n");
	appendStringInfo(buf, "<g class=\"p95-points\" fill=\"%s\">\n", COLOR_P95);
	for (i = 0; i < chart->nhours; i++)
	{
		const SvgHour *h = &chart->hours[i];

		CHECK_FOR_INTERRUPTS();
		if (!h->has_p95 || (i > 0 && chart->hours[i - 1].has_p95) ||
			(i + 1 < chart->nhours && chart->hours[i + 1].has_p95))
			continue;
		appendStringInfoString(buf, "<circle cx=\"");
		svg_num(buf, l->x0 + l->slot * (i + 0.5));
		appendStringInfoString(buf, "\" cy=\"");
		svg_num(buf, y_p95(l, h->p95_ms));
		appendStringInfoString(buf, "\" r=\"2\"/>\n");
	}
	appendStringInfoString(buf, "</g>\n");
}

/*
 * Hours with errors: a red mark under the bar, more opaque the higher the
 * error rate (solid from 5%), so that a few errors an hour do not look like
 * an outage.
 */
static void
draw_errors(StringInfo buf, const SvgChart *chart, const SvgLayout *l)
{
	int			i;

	appendStringInfo(buf, "<g class=\"errors\" fill=\"%s\">\n", COLOR_ERROR);
	for (i = 0; i < chart->nhours; i++)
	{
		const SvgHour *h = &chart->hours[i];

		CHECK_FOR_INTERRUPTS();
		if (h->errors <= 0)
			continue;
		appendStringInfoString(buf, "<rect class=\"error\" x=\"");
		svg_num(buf, l->x0 + l->slot * i);
		appendStringInfoString(buf, "\" y=\"");
		svg_num(buf, l->base + 3.0);
		appendStringInfoString(buf, "\" width=\"");
		svg_num(buf, Max(l->slot, 1.0));
		appendStringInfo(buf, "\" height=\"5\" fill-opacity=\"%.2f\"><title>",
						 h->requests > 0 ?
						 Min(Max((double) h->errors / (double) h->requests / 0.05, 0.3), 1.0) :
						 1.0);
		svg_text(buf, h->when, SVG_MAX_NAME);
		appendStringInfo(buf, ": " INT64_FORMAT " errors (%.2f%%)</title></rect>\n",
						 h->errors, h->requests > 0 ?
						 100.0 * (double) h->errors / (double) h->requests : 0.0);
	}
	appendStringInfoString(buf, "</g>\n");
}

/* Day lines, bars, busiest-minute marks, the p95 line and error marks. */
static void
draw_traffic(StringInfo buf, const SvgChart *chart, const SvgLayout *l)
{
	draw_day_lines(buf, chart, l);
	draw_bars(buf, chart, l);
	draw_peaks(buf, chart, l);
	draw_clipped_peaks(buf, chart, l);
	draw_p95(buf, chart, l);
	draw_errors(buf, chart, l);
}

/* The capacity panel: floors shaded, demand (replay) and capacity as steps. */
static void
draw_capacity(StringInfo buf, const SvgChart *chart, const SvgLayout *l)
{
	int			i;

	appendStringInfo(buf, "<rect class=\"capacity-area\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\"/>\n",
					 l->x0, l->cap_top, l->x1 - l->x0, l->cap_base - l->cap_top);
	appendStringInfoString(buf, "<g class=\"floors\">\n");
	for (i = 0; i < chart->nfloors; i++)
	{
		const SvgFloor *f = &chart->floors[i];
		double		fx0;
		double		fx1;
		double		fy;

		CHECK_FOR_INTERRUPTS();
		if (f->ends <= l->from || f->starts >= l->to || f->min_capacity <= 0)
			continue;
		fx0 = x_of(chart, l, Max(f->starts, l->from));
		fx1 = x_of(chart, l, Min(f->ends, l->to));
		fy = y_cap(l, f->min_capacity);
		appendStringInfo(buf, "<rect class=\"%s\" fill=\"%s\" fill-opacity=\"%s\" x=\"",
						 f->forecast ? "prewarm" : "floor",
						 f->forecast ? COLOR_PREWARM : COLOR_FLOOR,
						 f->forecast ? "0.35" : "0.3");
		svg_num(buf, fx0);
		appendStringInfoString(buf, "\" y=\"");
		svg_num(buf, fy);
		appendStringInfoString(buf, "\" width=\"");
		svg_num(buf, Max(fx1 - fx0, 0.5));
		appendStringInfoString(buf, "\" height=\"");
		svg_num(buf, l->cap_base - fy);
		appendStringInfo(buf, "\"><title>%s floor of %d</title></rect>\n",
						 f->forecast ? "forecast (pre-warm)" : "capacity", f->min_capacity);
	}
	appendStringInfoString(buf, "</g>\n");
	if (chart->replay)
	{
		appendStringInfo(buf, "<path class=\"demand\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" stroke-dasharray=\"3 2\" d=\"",
						 COLOR_DEMAND);
		draw_steps(buf, chart, l, &chart->demand, l->from, l->to);
		appendStringInfoString(buf, "\"/>\n");
	}
	appendStringInfo(buf, "<path class=\"capacity\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" d=\"",
					 COLOR_CAPACITY);
	draw_steps(buf, chart, l, &chart->capacity, l->from, l->to);
	appendStringInfoString(buf, "\"/>\n");
}

/* The axis lines, local-hour labels and day labels. */
static void
draw_time_labels(StringInfo buf, const SvgChart *chart, const SvgLayout *l)
{
	bool		policy = chart->policy != NULL;
	bool	   *draw_label;
	double		last_day_x;
	int			i;

	/* axes */
	appendStringInfo(buf, "<g class=\"axes\" stroke=\"%s\" stroke-width=\"1\">\n", COLOR_AXIS);
	appendStringInfo(buf, "<path d=\"M%.1f %.1fV%.1fH%.1fV%.1f\" fill=\"none\"/>\n",
					 l->x0, l->top, l->base, l->x1, l->top);
	if (policy)
		appendStringInfo(buf, "<path d=\"M%.1f %.1fV%.1fH%.1f\" fill=\"none\"/>\n",
						 l->x0, l->cap_top, l->cap_base, l->x1);
	appendStringInfoString(buf, "</g>\n");

	/* local-hour labels */
	draw_label = place_hour_labels(chart, l);
	appendStringInfo(buf, "<g class=\"hours\" text-anchor=\"middle\">\n");
	for (i = 0; i < chart->nhours; i++)
	{
		const SvgHour *h = &chart->hours[i];
		double		x = l->x0 + l->slot * i;

		CHECK_FOR_INTERRUPTS();
		if (!draw_label[i])
			continue;
		appendStringInfo(buf, "<path d=\"M%.1f %.1fv4\" stroke=\"%s\"/>",
						 x, l->axis_y, COLOR_AXIS);
		appendStringInfo(buf, "<text class=\"hour-label\" x=\"%.1f\" y=\"%.1f\">", x, l->axis_y + 15.0);
		svg_text(buf, h->hh, 8);
		if (offset_changes(chart, i))
		{
			appendStringInfoChar(buf, ' ');
			svg_text(buf, h->zone, 8);
		}
		appendStringInfoString(buf, "</text>\n");
	}
	appendStringInfoString(buf, "</g>\n");

	/* day labels at each local midnight (and the first hour) */
	appendStringInfo(buf, "<g class=\"days-labels\" text-anchor=\"start\" fill=\"#666666\">\n");
	last_day_x = -1e9;
	for (i = 0; i < chart->nhours; i++)
	{
		const SvgHour *h = &chart->hours[i];
		double		x = l->x0 + l->slot * i;

		CHECK_FOR_INTERRUPTS();
		if (i > 0 && strcmp(h->day, chart->hours[i - 1].day) == 0)
			continue;
		if (x - last_day_x < 72.0 || x + 60.0 > chart->width)
			continue;
		appendStringInfo(buf, "<text class=\"day-label\" x=\"%.1f\" y=\"%.1f\">", x, l->axis_y + 30.0);
		svg_text(buf, h->day, 16);
		appendStringInfoString(buf, "</text>\n");
		last_day_x = x;
	}
	appendStringInfoString(buf, "</g>\n");
}

static void
draw_chart(StringInfo buf, const SvgChart *chart)
{
	SvgLayout	l;
	LegendItem	legend[8] = {{0}};
	int			nlegend;

	nlegend = legend_items(chart, legend);
	compute_layout(chart, legend_rows(chart, legend, nlegend), &l);
	draw_header(buf, chart, legend, nlegend);
	draw_axes(buf, chart, &l);
	draw_traffic(buf, chart, &l);
	if (chart->policy != NULL && chart->nhours > 0)
		draw_capacity(buf, chart, &l);
	draw_time_labels(buf, chart, &l);
	/* no final newline: psql -At adds one */
	appendStringInfoString(buf, "</svg>");
}

/* ----------------------------------------------------------- entry points */

static void
check_size(int width, int height)
{
	if (width < SVG_MIN_WIDTH || width > SVG_MAX_WIDTH)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("width must be between %d and %d pixels",
						SVG_MIN_WIDTH, SVG_MAX_WIDTH),
				 errdetail("width is %d.", width)));
	if (height < SVG_MIN_HEIGHT || height > SVG_MAX_HEIGHT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("height must be between %d and %d pixels",
						SVG_MIN_HEIGHT, SVG_MAX_HEIGHT),
				 errdetail("height is %d.", height)));
}

/* The policy overlay over [since, until), then the document, as text. */
static text *
finish_chart(SvgChart *chart, const char *policy, TimestampTz since,
			 TimestampTz until, MemoryContext caller)
{
	StringInfoData buf;
	text	   *result;

	if (policy != NULL && chart->nhours > 0)
	{
		read_policy(chart, policy, since, until);
		if (chart->replay)
			read_replay(chart, policy, since, until);
	}
	initStringInfo(&buf);
	draw_chart(&buf, chart);

	/* the result outlives SPI's memory */
	MemoryContextSwitchTo(caller);
	result = cstring_to_text_with_len(buf.data, buf.len);
	return result;
}

#define HOURS_QUERY_COLUMNS \
	"SELECT h.hour, h.requests, h.errors, h.p95_ms, h.peak_rpm, " \
	"pg_catalog.to_char(h.hour, 'HH24'), pg_catalog.to_char(h.hour, 'Dy DD Mon'), " \
	"pg_catalog.to_char(h.hour, 'TZ'), pg_catalog.to_char(h.hour, 'OF'), " \
	"pg_catalog.to_char(h.hour, 'YYYY-MM-DD HH24:MI TZ') "

/*
 * scaler.traffic_svg(since, until, function_name, source, policy, width,
 * height, replay)
 */
Datum
scaler_traffic_svg(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	SvgChart	chart;
	Oid			argtypes[4] = {TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, REGCLASSOID};
	Datum		values[4];
	char		nulls[4];
	char	   *policy = NULL;
	char	   *too_many;
	text	   *result;
	int			i;

	if (PG_ARGISNULL(5) || PG_ARGISNULL(6) || PG_ARGISNULL(7))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("width, height and replay must not be null")));
	memset(&chart, 0, sizeof(chart));
	chart.width = PG_GETARG_INT32(5);
	chart.height = PG_GETARG_INT32(6);
	chart.replay = PG_GETARG_BOOL(7);
	check_size(chart.width, chart.height);
	if (!PG_ARGISNULL(4))
		policy = text_to_cstring(PG_GETARG_TEXT_PP(4));

	/* refuse a long range before reading it */
	if (!PG_ARGISNULL(0) && !PG_ARGISNULL(1))
	{
		TimestampTz since = PG_GETARG_TIMESTAMPTZ(0);
		TimestampTz until = PG_GETARG_TIMESTAMPTZ(1);

		if (!TIMESTAMP_NOT_FINITE(since) && !TIMESTAMP_NOT_FINITE(until) &&
			until > since &&
			(double) (until - since) > (double) SVG_MAX_HOURS * USECS_PER_HOUR)
			refuse_hours(psprintf("The range from since to until covers %.0f hours.",
								  ceil((double) (until - since) / USECS_PER_HOUR)));
	}

	for (i = 0; i < 4; i++)
	{
		values[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
	}
	too_many = psprintf("The range from since to until covers more than %d local hours.",
						SVG_MAX_HOURS);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* hourly_requests checks the arguments and the caller's privileges */
	read_hours(&chart,
			   HOURS_QUERY_COLUMNS
			   "FROM scaler.hourly_requests($1, $2, $3, $4) h ORDER BY h.hour",
			   4, argtypes, values, nulls, too_many);

	chart.function_name = PG_ARGISNULL(2) ? NULL :
		text_to_cstring(PG_GETARG_TEXT_PP(2));
	{
		Oid			source = PG_GETARG_OID(3);
		char	   *relname = get_rel_name(source);

		chart.source = relname == NULL ? psprintf("%u", source) :
			quote_qualified_identifier(get_namespace_name(get_rel_namespace(source)),
									   relname);
	}
	read_range_labels(&chart, PG_GETARG_TIMESTAMPTZ(0), PG_GETARG_TIMESTAMPTZ(1));

	result = finish_chart(&chart, policy, PG_GETARG_TIMESTAMPTZ(0),
						  PG_GETARG_TIMESTAMPTZ(1), caller);
	SPI_finish();
	PG_RETURN_TEXT_P(result);
}

/* scaler.traffic_svg(t scaler.traffic, policy, width, height, replay) */
Datum
scaler_traffic_svg_value(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	SvgChart	chart;
	Oid			argtypes[1];
	Datum		values[1];
	char	   *policy = NULL;
	char	   *too_many;
	TimestampTz from = 0;
	TimestampTz to = 0;
	text	   *result;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	if (PG_ARGISNULL(2) || PG_ARGISNULL(3) || PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("width, height and replay must not be null")));
	memset(&chart, 0, sizeof(chart));
	chart.width = PG_GETARG_INT32(2);
	chart.height = PG_GETARG_INT32(3);
	chart.replay = PG_GETARG_BOOL(4);
	check_size(chart.width, chart.height);
	if (!PG_ARGISNULL(1))
		policy = text_to_cstring(PG_GETARG_TEXT_PP(1));

	argtypes[0] = get_fn_expr_argtype(fcinfo->flinfo, 0);
	if (!OidIsValid(argtypes[0]))
		elog(ERROR, "could not determine the type of the traffic value");
	values[0] = PG_GETARG_DATUM(0);
	too_many = psprintf("The traffic value spans more than %d local hours.",
						SVG_MAX_HOURS);

	/*
	 * Refuse a long value before reading it: hourly_requests would gap-fill
	 * every hour of two rows centuries apart, and the sort below would sort
	 * them, before the count of rows read refuses them.  Local hours are
	 * 60 minutes each, so more than SVG_MAX_HOURS hours of quarters always
	 * make more than SVG_MAX_HOURS rows.
	 */
	{
		int64		first;
		int64		last;

		if (traffic_datum_range(values[0], &first, &last) &&
			last - first >= (int64) SVG_MAX_HOURS * QUARTERS_PER_HOUR)
			refuse_hours(too_many);
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	read_hours(&chart,
			   HOURS_QUERY_COLUMNS
			   "FROM scaler.hourly_requests($1) h ORDER BY h.hour",
			   1, argtypes, values, NULL, too_many);
	if (chart.nhours > 0)
	{
		from = chart.hours[0].start;
		to = chart.hours[chart.nhours - 1].end;
		read_range_labels(&chart, from, to);
	}
	else
	{
		chart.range_from = "";
		chart.range_to = "";
		chart.timezone = GetConfigOptionByName("TimeZone", NULL, false);
	}

	result = finish_chart(&chart, policy, from, to, caller);
	SPI_finish();
	PG_RETURN_TEXT_P(result);
}
