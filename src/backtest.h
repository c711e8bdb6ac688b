/*-------------------------------------------------------------------------
 *
 * backtest.h
 *	  What the replay (backtest.c) and the forecast (forecast.c) share: a
 *	  policy's settings as the caller may see them, and reading its source
 *	  as the policy owner.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCALER_BACKTEST_H
#define SCALER_BACKTEST_H

#include "utils/jsonb.h"

#include "decide.h"
#include "keepalive.h"

/* One policy's settings, after overrides. */
typedef struct ScalerPolicySettings
{
	char	   *name;
	Oid			owner;
	ScalerMetric metric;
	double		target;
	char	   *function_name;	/* NULL: all functions */
	Oid			source;
	int64		stable_window;	/* microseconds */
	int64		scale_in_stabilization;
	int			min_capacity;
	int			max_capacity;
	double		tolerance;
	double		panic_threshold;
	ScalerKeepAlive keep_alive;
} ScalerPolicySettings;

extern void scaler_policy_settings(const char *policy, Jsonb *overrides,
								   ScalerPolicySettings *settings);
extern char *scaler_source_name(const ScalerPolicySettings *settings);
extern void scaler_become_owner(const ScalerPolicySettings *settings,
								Oid *save_userid, int *save_sec_context);
extern double scaler_percentile_cont(double *values, int n, double fraction);

#endif							/* SCALER_BACKTEST_H */
