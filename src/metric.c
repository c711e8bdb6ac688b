/*-------------------------------------------------------------------------
 *
 * metric.c
 *	  The metrics: their names, what they read from a source, the counters
 *	  they need and how those counters become a value and the input of the
 *	  decision rules.
 *
 * Every path that measures a metric comes through here:
 *
 *	- live evaluation (evaluate.c) counts the window and its panic tail in
 *	  one SQL query whose select list is scaler_metric_counters_sql();
 *	- the replay (backtest.c) counts each step in C from the rows it
 *	  streams, into the same ScalerCounts;
 *	- the forecast (forecast.c) counts minutes (load metrics) or hours
 *	  (quality metrics) of a traffic value.
 *
 * and turns the counters into a value with scaler_metric_value() (a window
 * of seconds long).  SQL asks this file too: scaler._metric_column() (the
 * column scaler._check_policy requires) and scaler._metric_is_load() (the
 * metrics a forecast floor can serve); the policy table's CHECK accepts the
 * names of metric_table.  So a new metric is an enum value (metric.h), a
 * row of metric_table and a case in scaler_metric_value().
 *
 *	concurrency	Little's law: requests x mean duration / window (the mean
 *				over the rows with a duration); 0 without requests
 *	rps			requests / window
 *	p95_ms		percentile_cont(0.95) of the durations
 *	error_rate	rows with status >= 500 / rows with a status
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "decide.h"
#include "metric.h"

PG_FUNCTION_INFO_V1(scaler_metric_column_sql);
PG_FUNCTION_INFO_V1(scaler_metric_is_load_sql);

typedef struct MetricDef
{
	ScalerMetric metric;
	const char *name;
	bool		load;			/* demand = value / target instances */
	ScalerMetricColumn column;	/* the column it reads besides ts */
	bool		durations;		/* needs every duration (a percentile) */
} MetricDef;

static const MetricDef metric_table[] = {
	{SCALER_METRIC_CONCURRENCY, "concurrency", true, SCALER_COLUMN_DURATION, false},
	{SCALER_METRIC_RPS, "rps", true, SCALER_COLUMN_NONE, false},
	{SCALER_METRIC_P95_MS, "p95_ms", false, SCALER_COLUMN_DURATION, true},
	{SCALER_METRIC_ERROR_RATE, "error_rate", false, SCALER_COLUMN_STATUS, false},
};

#define NMETRICS lengthof(metric_table)

static const MetricDef *
metric_def(ScalerMetric metric)
{
	int			i;

	for (i = 0; i < NMETRICS; i++)
		if (metric_table[i].metric == metric)
			return &metric_table[i];
	elog(ERROR, "unknown metric %d", (int) metric);
	return NULL;				/* keep compiler quiet */
}

bool
scaler_metric_from_name(const char *name, ScalerMetric *metric)
{
	int			i;

	for (i = 0; i < NMETRICS; i++)
		if (strcmp(name, metric_table[i].name) == 0)
		{
			*metric = metric_table[i].metric;
			return true;
		}
	return false;
}

const char *
scaler_metric_name(ScalerMetric metric)
{
	return metric_def(metric)->name;
}

/* "concurrency, rps, p95_ms and error_rate", for hints. */
const char *
scaler_metric_names(void)
{
	static char *names = NULL;

	if (names == NULL)
	{
		StringInfoData buf;
		int			i;

		initStringInfo(&buf);
		for (i = 0; i < NMETRICS; i++)
			appendStringInfo(&buf, "%s%s",
							 i == 0 ? "" : (i == NMETRICS - 1 ? " and " : ", "),
							 metric_table[i].name);
		names = MemoryContextStrdup(TopMemoryContext, buf.data);
		pfree(buf.data);
	}
	return names;
}

bool
scaler_metric_is_load(ScalerMetric metric)
{
	return metric_def(metric)->load;
}

ScalerMetricColumn
scaler_metric_column(ScalerMetric metric)
{
	return metric_def(metric)->column;
}

/* The name of that column, or NULL. */
const char *
scaler_metric_column_name(ScalerMetric metric)
{
	switch (metric_def(metric)->column)
	{
		case SCALER_COLUMN_DURATION:
			return "duration_ms";
		case SCALER_COLUMN_STATUS:
			return "status";
		case SCALER_COLUMN_NONE:
			break;
	}
	return NULL;
}

bool
scaler_metric_needs_durations(ScalerMetric metric)
{
	return metric_def(metric)->durations;
}

/*
 * The SQL select list of the counters of a window, in ScalerCounts order:
 * requests, with_duration, busy_ms, with_status, errors, p95_ms.  With a
 * filter (a condition such as "ts > $2") every counter counts only the rows
 * it admits.  Only the metric's column is read, so a source without the
 * others will do.  Fully qualified, for a query run as another role.
 */
const char *
scaler_metric_counters_sql(ScalerMetric metric, const char *filter)
{
	const MetricDef *def = metric_def(metric);
	char	   *where = filter ? psprintf(" FILTER (WHERE %s)", filter) : "";
	char	   *errors_where = filter ? psprintf(" AND %s", filter) : "";

	if (def->column == SCALER_COLUMN_DURATION && def->durations)
		return psprintf("pg_catalog.count(*)%s, pg_catalog.count(duration_ms)%s, "
						"NULL::pg_catalog.float8, 0::pg_catalog.int8, 0::pg_catalog.int8, "
						"pg_catalog.percentile_cont(0.95) WITHIN GROUP "
						"(ORDER BY duration_ms::pg_catalog.float8)%s",
						where, where, where);
	if (def->column == SCALER_COLUMN_DURATION)
		return psprintf("pg_catalog.count(*)%s, pg_catalog.count(duration_ms)%s, "
						"pg_catalog.sum(duration_ms::pg_catalog.float8)%s, "
						"0::pg_catalog.int8, 0::pg_catalog.int8, NULL::pg_catalog.float8",
						where, where, where);
	if (def->column == SCALER_COLUMN_STATUS)
		return psprintf("pg_catalog.count(*)%s, 0::pg_catalog.int8, NULL::pg_catalog.float8, "
						"pg_catalog.count(status)%s, "
						"pg_catalog.count(*) FILTER (WHERE status OPERATOR(pg_catalog.>=) 500%s), "
						"NULL::pg_catalog.float8",
						where, where, errors_where);
	return psprintf("pg_catalog.count(*)%s, 0::pg_catalog.int8, NULL::pg_catalog.float8, "
					"0::pg_catalog.int8, 0::pg_catalog.int8, NULL::pg_catalog.float8",
					where);
}

/*
 * The metric over a window of seconds that held counts.  False when it is
 * undefined (no durations, no statuses).
 */
bool
scaler_metric_value(ScalerMetric metric, const ScalerCounts *counts,
					double seconds, double *value)
{
	*value = 0.0;
	switch (metric)
	{
		case SCALER_METRIC_CONCURRENCY:
			if (counts->requests == 0)
				return true;
			if (counts->with_duration == 0)
				return false;
			*value = counts->requests * (counts->busy_ms / counts->with_duration) /
				1000.0 / seconds;
			return true;
		case SCALER_METRIC_RPS:
			*value = counts->requests / seconds;
			return true;
		case SCALER_METRIC_P95_MS:
			if (!counts->has_p95)
				return false;
			*value = counts->p95_ms;
			return true;
		case SCALER_METRIC_ERROR_RATE:
			if (counts->with_status == 0)
				return false;
			*value = (double) counts->errors / (double) counts->with_status;
			return true;
	}
	elog(ERROR, "unknown metric %d", (int) metric);
	return false;				/* keep compiler quiet */
}

/*
 * The measured part of the decision input: the window (at - stable_window,
 * at] and its panic tail, the last tenth of it.
 */
void
scaler_metric_input(ScalerMetric metric, const ScalerCounts *window,
					const ScalerCounts *tail, int64 stable_window,
					ScalerDecideInput *in)
{
	double		seconds = (double) stable_window / USECS_PER_SEC;

	in->rows = window->requests;
	in->has_value = scaler_metric_value(metric, window, seconds, &in->value);
	in->has_panic_value = scaler_metric_value(metric, tail, seconds / 10.0,
											  &in->panic_value);
}

static int
float8_order(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	if (isnan(x))
		return isnan(y) ? 0 : 1;
	if (isnan(y))
		return -1;
	return (x > y) - (x < y);
}

/*
 * percentile_cont(fraction) of n values (sorted in place), exactly as
 * PostgreSQL computes it (percentile_cont_final_common with float8_lerp).
 */
double
scaler_percentile_cont(double *values, int n, double fraction)
{
	int64		first_row;
	int64		second_row;
	double		proportion;

	qsort(values, n, sizeof(double), float8_order);
	first_row = (int64) floor(fraction * (n - 1));
	second_row = (int64) ceil(fraction * (n - 1));
	if (second_row > first_row)
	{
		proportion = (fraction * (n - 1)) - first_row;
		return values[first_row] +
			(values[second_row] - values[first_row]) * proportion;
	}
	return values[first_row];
}

/* A metric named in SQL; an unknown one is an error (22023). */
static ScalerMetric
metric_arg(FunctionCallInfo fcinfo)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ScalerMetric metric;

	if (!scaler_metric_from_name(name, &metric))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown metric \"%s\"", name),
				 errhint("Valid metrics are %s.", scaler_metric_names())));
	return metric;
}

/* scaler._metric_column(metric) -> the source column it reads, or NULL */
Datum
scaler_metric_column_sql(PG_FUNCTION_ARGS)
{
	const char *column = scaler_metric_column_name(metric_arg(fcinfo));

	if (column == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(column));
}

/* scaler._metric_is_load(metric) -> whether demand is value / target */
Datum
scaler_metric_is_load_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(scaler_metric_is_load(metric_arg(fcinfo)));
}
