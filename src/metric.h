/*-------------------------------------------------------------------------
 *
 * metric.h
 *	  The one path from raw window counters to a metric value and the
 *	  input of the decision rules.
 *
 * Live evaluation (evaluate.c) counts a window in SQL, the replay
 * (backtest.c) counts its steps in C, the forecast (forecast.c) counts
 * minutes and hours of a traffic value; all three hand their counters to
 * scaler_metric_value() or scaler_metric_input(), so a metric is defined in
 * metric.c alone (plus the list of metric names scaler._check_policy knows).
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCALER_METRIC_H
#define SCALER_METRIC_H

#include "c.h"

typedef enum ScalerMetric
{
	SCALER_METRIC_CONCURRENCY,	/* load: arrivals x mean duration / window */
	SCALER_METRIC_RPS,			/* load: arrivals per second */
	SCALER_METRIC_P95_MS,		/* quality: 95th percentile duration */
	SCALER_METRIC_ERROR_RATE	/* quality: share of status >= 500 */
} ScalerMetric;

struct ScalerDecideInput;

/* What a window (or its panic tail) held, as far as a metric needs it. */
typedef struct ScalerCounts
{
	int64		requests;		/* rows */
	int64		with_duration;	/* rows with a duration */
	double		busy_ms;		/* sum of those durations */
	int64		with_status;	/* rows with a status */
	int64		errors;			/* rows with status >= 500 */
	bool		has_p95;		/* p95_ms: some row had a duration */
	double		p95_ms;			/* their 95th percentile (percentile_cont) */
} ScalerCounts;

/* Which source column a metric reads besides ts (and function_name). */
typedef enum ScalerMetricColumn
{
	SCALER_COLUMN_NONE,
	SCALER_COLUMN_DURATION,		/* duration_ms */
	SCALER_COLUMN_STATUS		/* status */
} ScalerMetricColumn;

extern bool scaler_metric_from_name(const char *name, ScalerMetric *metric);
extern const char *scaler_metric_name(ScalerMetric metric);
extern const char *scaler_metric_names(void);
extern bool scaler_metric_is_load(ScalerMetric metric);
extern ScalerMetricColumn scaler_metric_column(ScalerMetric metric);
extern const char *scaler_metric_column_name(ScalerMetric metric);
extern bool scaler_metric_needs_durations(ScalerMetric metric);
extern const char *scaler_metric_counters_sql(ScalerMetric metric,
											  const char *filter);
extern bool scaler_metric_value(ScalerMetric metric, const ScalerCounts *counts,
								double seconds, double *value);
extern void scaler_metric_input(ScalerMetric metric,
								const ScalerCounts *window,
								const ScalerCounts *tail,
								int64 stable_window,
								struct ScalerDecideInput *in);
extern double scaler_percentile_cont(double *values, int n, double fraction);

#endif							/* SCALER_METRIC_H */
