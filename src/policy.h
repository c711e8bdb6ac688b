/*-------------------------------------------------------------------------
 *
 * policy.h
 *	  A policy as every C path sees it (evaluation, replay, forecast), its
 *	  one loader from a scaler.policy row, and converting the decision
 *	  state to and from its SQL columns.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCALER_POLICY_H
#define SCALER_POLICY_H

#include "access/htup.h"
#include "access/tupdesc.h"
#include "utils/jsonb.h"

#include "decide.h"
#include "keepalive.h"
#include "source.h"

/*
 * A policy's settings.  Loaded by scaler_policy_from_datums from any row
 * with the columns of scaler.policy (found by name): the table itself for
 * evaluation, scaler._policy_settings() (with overrides) for a replay or a
 * forecast.
 */
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
	char	   *channel;
	ScalerKeepAlive keep_alive;
} ScalerPolicySettings;

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
extern Oid	scaler_function(const char *name, int nargs, Oid *argtypes);
extern void scaler_deform_record(HeapTupleHeader hdr, TupleDesc desc,
								 Datum *values, bool *nulls);
extern void scaler_deform_result(Datum result, const char *fname, int natts,
								 Datum *values, bool *nulls);
extern int	scaler_column_of(TupleDesc desc, const char *name);
extern void scaler_policy_from_datums(TupleDesc desc, const Datum *values,
									  const bool *nulls,
									  ScalerPolicySettings *settings);
extern void scaler_policy_settings(const char *policy, Jsonb *overrides,
								   ScalerPolicySettings *settings);
extern void scaler_policy_decide_input(const ScalerPolicySettings *settings,
									   int current, int floor, TimestampTz now,
									   ScalerDecideInput *in);
extern char *scaler_source_name(const ScalerPolicySettings *settings);
extern void scaler_become_owner(const ScalerPolicySettings *settings,
								ScalerOwnerScope *scope);

#endif							/* SCALER_POLICY_H */
