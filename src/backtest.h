/*-------------------------------------------------------------------------
 *
 * backtest.h
 *	  What the replay (backtest.c) and the forecast (forecast.c) share: a
 *	  policy's settings (policy.h, with scaler_policy_settings, which applies
 *	  overrides and checks the caller), reading its source as the policy
 *	  owner, and the metrics (metric.h).
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCALER_BACKTEST_H
#define SCALER_BACKTEST_H

#include "metric.h"
#include "policy.h"

#endif							/* SCALER_BACKTEST_H */
