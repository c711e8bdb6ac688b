/*-------------------------------------------------------------------------
 *
 * policy.h
 *	  Helpers shared by the SQL-facing policy functions and evaluation:
 *	  converting the decision state to and from its SQL columns.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCALER_POLICY_H
#define SCALER_POLICY_H

#include "decide.h"

/* panic_at, panic_capacity, history_at, history_desired */
#define SCALER_STATE_NCOLS 4

extern bool scaler_state_from_datums_checked(const Datum *values,
											 const bool *nulls,
											 ScalerDecideState *state,
											 const char **problem);
extern void scaler_state_from_datums(const Datum *values, const bool *nulls,
									 ScalerDecideState *state);
extern void scaler_state_to_datums(const ScalerDecideState *state,
								   Datum *values, bool *nulls);
extern int64 scaler_interval_usecs(const Interval *span, const char *field);

#endif							/* SCALER_POLICY_H */
