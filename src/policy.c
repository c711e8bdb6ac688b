/*-------------------------------------------------------------------------
 *
 * policy.c
 *	  SQL-facing pieces of the policy API written in C:
 *
 *	  - scaler.desired_capacity(): the pure decision rules of decide.c
 *	    exposed to SQL, so each rule can be tested (and explored) alone;
 *	  - the calling-role trampoline behind create_policy, alter_policy,
 *	    drop_policy and set_capacity;
 *	  - conversion of the decision state to and from SQL values.
 *
 * Why a trampoline: those functions must write the extension's tables (so
 * the work is done by SECURITY DEFINER functions) but must also know who
 * called them, to record the policy owner and check the caller's privileges.
 * Inside a SECURITY DEFINER function current_user is the definer, and an
 * argument carrying the caller could be forged.  So the public function is
 * this small C function, which runs as the caller, and calls the internal
 * scaler._<name>(invoker oid, ...) directly through fmgr with GetUserId()
 * prepended.  Calls through fmgr skip the EXECUTE check, so nobody else
 * needs (or gets) EXECUTE on the internal functions, while EXECUTE on the
 * public function is the grantable right to manage policies.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "decide.h"
#include "policy.h"

PG_FUNCTION_INFO_V1(scaler_desired_capacity);
PG_FUNCTION_INFO_V1(scaler_as_caller);

/*
 * An interval as microseconds, with months as 30 days (as interval
 * comparison does).  Rejects lengths that do not fit.
 */
int64
scaler_interval_usecs(const Interval *span, const char *field)
{
	double		approx;

	approx = (double) span->time +
		((double) span->day + (double) span->month * DAYS_PER_MONTH) *
		(double) USECS_PER_DAY;
	if (approx > 1e17 || approx < -1e17)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("%s is out of range", field)));
	return span->time +
		((int64) span->day + (int64) span->month * DAYS_PER_MONTH) *
		USECS_PER_DAY;
}

static void
invalid_state(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid decision state"),
			 errdetail("%s", detail)));
}

/*
 * Fill a ScalerDecideState from (panic_at, panic_capacity, history_at,
 * history_desired).  NULLs mean "empty".  The arrays are checked, because a
 * caller of desired_capacity() may pass any values, and a stored state may
 * have been damaged (by hand, or by 0.1's out-of-order updates).  Returns
 * false, with *problem saying what is wrong and *state empty, when the
 * values do not form a valid state; never throws for that.
 */
bool
scaler_state_from_datums_checked(const Datum *values, const bool *nulls,
								 ScalerDecideState *state,
								 const char **problem)
{
	Datum	   *at = NULL;
	Datum	   *desired = NULL;
	bool	   *atnulls = NULL;
	bool	   *desirednulls = NULL;
	int			nat = 0;
	int			ndesired = 0;
	int			i;

	scaler_state_init(state);

	if (!nulls[0])
	{
		state->panicking = true;
		state->panic_at = DatumGetTimestampTz(values[0]);
		state->panic_capacity = nulls[1] ? 0 : DatumGetInt32(values[1]);
	}

	if (!nulls[2])
	{
		ArrayType  *arr = DatumGetArrayTypeP(values[2]);

		if (ARR_NDIM(arr) > 1)
		{
			*problem = "history_at must be one-dimensional.";
			goto invalid;
		}
		deconstruct_array(arr, TIMESTAMPTZOID, sizeof(TimestampTz), true,
						  TYPALIGN_DOUBLE, &at, &atnulls, &nat);
	}
	if (!nulls[3])
	{
		ArrayType  *arr = DatumGetArrayTypeP(values[3]);

		if (ARR_NDIM(arr) > 1)
		{
			*problem = "history_desired must be one-dimensional.";
			goto invalid;
		}
		deconstruct_array(arr, INT4OID, sizeof(int32), true,
						  TYPALIGN_INT, &desired, &desirednulls, &ndesired);
	}
	if (nat != ndesired)
	{
		*problem = "history_at and history_desired must have the same length.";
		goto invalid;
	}
	if (nat > SCALER_HISTORY_MAX)
	{
		*problem = "The history has too many entries.";
		goto invalid;
	}

	for (i = 0; i < nat; i++)
	{
		if (atnulls[i] || desirednulls[i])
		{
			*problem = "The history must not contain NULLs.";
			goto invalid;
		}
		state->history_at[i] = DatumGetTimestampTz(at[i]);
		state->history_desired[i] = DatumGetInt32(desired[i]);
		if (i > 0 && (state->history_at[i] < state->history_at[i - 1] ||
					  state->history_desired[i] >= state->history_desired[i - 1]))
		{
			*problem = "The history must be in time order with decreasing values.";
			goto invalid;
		}
	}
	state->nhistory = nat;
	return true;

invalid:
	scaler_state_init(state);
	return false;
}

/* The same, throwing "invalid decision state" for an invalid one. */
void
scaler_state_from_datums(const Datum *values, const bool *nulls,
						 ScalerDecideState *state)
{
	const char *problem = NULL;

	if (!scaler_state_from_datums_checked(values, nulls, state, &problem))
		invalid_state(problem);
}

void
scaler_state_to_datums(const ScalerDecideState *state, Datum *values,
					   bool *nulls)
{
	Datum		at[SCALER_HISTORY_MAX];
	Datum		desired[SCALER_HISTORY_MAX];
	int			i;

	for (i = 0; i < state->nhistory; i++)
	{
		at[i] = TimestampTzGetDatum(state->history_at[i]);
		desired[i] = Int32GetDatum(state->history_desired[i]);
	}

	nulls[0] = !state->panicking;
	values[0] = TimestampTzGetDatum(state->panic_at);
	nulls[1] = !state->panicking;
	values[1] = Int32GetDatum(state->panic_capacity);
	nulls[2] = false;
	values[2] = PointerGetDatum(construct_array(at, state->nhistory,
												TIMESTAMPTZOID,
												sizeof(TimestampTz), true,
												TYPALIGN_DOUBLE));
	nulls[3] = false;
	values[3] = PointerGetDatum(construct_array(desired, state->nhistory,
												INT4OID, sizeof(int32), true,
												TYPALIGN_INT));
}

static void
require_arg(FunctionCallInfo fcinfo, int argno, const char *field)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be null", field)));
}

/*
 * scaler.desired_capacity(metric, target, current_capacity, value,
 *     panic_value, min_capacity, max_capacity, tolerance, panic_threshold,
 *     stable_window, scale_in_stabilization, floor, state, at)
 *   -> (desired, reason, panicking, new_state)
 *
 * value NULL means "no rows in the window".  Pass new_state back as state
 * to chain evaluations, as evaluate() does with the stored state.
 */
Datum
scaler_desired_capacity(PG_FUNCTION_ARGS)
{
	ScalerDecideInput in;
	ScalerDecideState state;
	ScalerDecision out;
	const char *field;
	const char *problem = NULL;
	char	   *metric;
	TupleDesc	tupdesc;
	TupleDesc	statedesc;
	Datum		values[4];
	bool		nulls[4];
	Datum		svalues[SCALER_STATE_NCOLS];
	bool		snulls[SCALER_STATE_NCOLS];
	Oid			statetype;
	int			i;
	static const char *const argnames[] = {
		"min_capacity", "max_capacity", "tolerance", "panic_threshold",
		"stable_window", "scale_in_stabilization", "floor"
	};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	require_arg(fcinfo, 0, "metric");
	require_arg(fcinfo, 1, "target");
	require_arg(fcinfo, 2, "current_capacity");
	for (i = 5; i <= 11; i++)
		require_arg(fcinfo, i, argnames[i - 5]);
	require_arg(fcinfo, 13, "at");

	memset(&in, 0, sizeof(in));
	metric = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (!scaler_metric_from_name(metric, &in.metric))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown metric \"%s\"", metric),
				 errhint("Valid metrics are concurrency, rps, p95_ms and error_rate.")));
	in.target = PG_GETARG_FLOAT8(1);
	in.current = PG_GETARG_INT32(2);
	in.has_value = !PG_ARGISNULL(3);
	in.value = in.has_value ? PG_GETARG_FLOAT8(3) : 0.0;
	in.rows = in.has_value ? 1 : 0;
	in.has_panic_value = !PG_ARGISNULL(4);
	in.panic_value = in.has_panic_value ? PG_GETARG_FLOAT8(4) : 0.0;
	in.min_capacity = PG_GETARG_INT32(5);
	in.max_capacity = PG_GETARG_INT32(6);
	in.tolerance = PG_GETARG_FLOAT8(7);
	in.panic_threshold = PG_GETARG_FLOAT8(8);
	in.stable_window = scaler_interval_usecs(PG_GETARG_INTERVAL_P(9),
											 "stable_window");
	in.scale_in_stabilization = scaler_interval_usecs(PG_GETARG_INTERVAL_P(10),
													  "scale_in_stabilization");
	in.floor = PG_GETARG_INT32(11);
	in.now = PG_GETARG_TIMESTAMPTZ(13);

	field = scaler_decide_check(&in, &problem);
	if (field != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s %s", field, problem)));

	/* the state: NULL starts afresh */
	statetype = TupleDescAttr(tupdesc, 3)->atttypid;
	statedesc = lookup_rowtype_tupdesc(statetype, -1);
	if (statedesc->natts != SCALER_STATE_NCOLS)
		elog(ERROR, "scaler.decide_state has %d columns, expected %d",
			 statedesc->natts, SCALER_STATE_NCOLS);
	if (PG_ARGISNULL(12))
		scaler_state_init(&state);
	else
	{
		HeapTupleHeader hdr = PG_GETARG_HEAPTUPLEHEADER(12);
		HeapTupleData tuple;

		tuple.t_len = HeapTupleHeaderGetDatumLength(hdr);
		ItemPointerSetInvalid(&tuple.t_self);
		tuple.t_tableOid = InvalidOid;
		tuple.t_data = hdr;
		heap_deform_tuple(&tuple, statedesc, svalues, snulls);
		scaler_state_from_datums(svalues, snulls, &state);
	}

	scaler_decide(&in, &state, &out);

	scaler_state_to_datums(&state, svalues, snulls);
	values[3] = HeapTupleGetDatum(heap_form_tuple(statedesc, svalues, snulls));
	ReleaseTupleDesc(statedesc);

	values[0] = Int32GetDatum(out.desired);
	values[1] = CStringGetTextDatum(scaler_reason_name(out.reason));
	values[2] = BoolGetDatum(out.panicking);
	memset(nulls, 0, sizeof(nulls));

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* Cached target of the trampoline, kept in fn_extra. */
typedef struct CallerTarget
{
	FmgrInfo	flinfo;
	int			nargs;
} CallerTarget;

/*
 * Look up scaler._<name>(oid, <the public function's argument types>).
 */
static CallerTarget *
caller_target(FunctionCallInfo fcinfo)
{
	CallerTarget *target = (CallerTarget *) fcinfo->flinfo->fn_extra;
	HeapTuple	proctup;
	Form_pg_proc procform;
	Oid			argtypes[FUNC_MAX_ARGS];
	List	   *qualname;
	Oid			internal;
	int			nargs;

	if (target != NULL)
		return target;

	proctup = SearchSysCache1(PROCOID,
							  ObjectIdGetDatum(fcinfo->flinfo->fn_oid));
	if (!HeapTupleIsValid(proctup))
		elog(ERROR, "cache lookup failed for function %u",
			 fcinfo->flinfo->fn_oid);
	procform = (Form_pg_proc) GETSTRUCT(proctup);
	nargs = procform->pronargs;
	if (nargs + 1 > FUNC_MAX_ARGS)
		elog(ERROR, "too many arguments for scaler_as_caller");
	argtypes[0] = OIDOID;
	memcpy(argtypes + 1, procform->proargtypes.values, nargs * sizeof(Oid));
	qualname = list_make2(makeString(get_namespace_name(procform->pronamespace)),
						  makeString(psprintf("_%s",
											  NameStr(procform->proname))));
	ReleaseSysCache(proctup);

	internal = LookupFuncName(qualname, nargs + 1, argtypes, false);

	target = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt,
									sizeof(CallerTarget));
	fmgr_info_cxt(internal, &target->flinfo, fcinfo->flinfo->fn_mcxt);
	target->nargs = nargs + 1;
	fcinfo->flinfo->fn_extra = target;
	return target;
}

/*
 * The trampoline: call scaler._<name>(GetUserId(), args...).  The call's
 * ReturnSetInfo is passed on, so a set-returning internal can fill it.
 */
Datum
scaler_as_caller(PG_FUNCTION_ARGS)
{
	CallerTarget *target = caller_target(fcinfo);
	LOCAL_FCINFO(callinfo, FUNC_MAX_ARGS);
	Datum		result;
	int			i;

	InitFunctionCallInfoData(*callinfo, &target->flinfo, target->nargs,
							 fcinfo->fncollation, NULL, fcinfo->resultinfo);
	callinfo->args[0].value = ObjectIdGetDatum(GetUserId());
	callinfo->args[0].isnull = false;
	for (i = 1; i < target->nargs; i++)
		callinfo->args[i] = fcinfo->args[i - 1];

	result = FunctionCallInvoke(callinfo);
	fcinfo->isnull = callinfo->isnull;
	return result;
}
