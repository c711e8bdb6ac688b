/*-------------------------------------------------------------------------
 *
 * policy.c
 *	  SQL-facing pieces of the policy API written in C:
 *
 *	  - scaler.desired_capacity(): the pure decision rules of decide.c
 *	    exposed to SQL, so each rule can be tested (and explored) alone;
 *	  - the calling-role trampoline behind create_policy, alter_policy,
 *	    drop_policy and set_capacity;
 *	  - scaler._check_settings(), the rules of a policy's settings;
 *	  - the one loader of a policy's settings (scaler_policy_from_datums),
 *	    used by evaluation, replay and forecast, and reading a policy's
 *	    source as its owner;
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
#include <limits.h>

#include "access/htup_details.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
#include "utils/fmgrprotos.h"

#include "decide.h"
#include "policy.h"
#include "source.h"

PG_FUNCTION_INFO_V1(scaler_desired_capacity);
PG_FUNCTION_INFO_V1(scaler_as_caller);
PG_FUNCTION_INFO_V1(scaler_check_settings);
PG_FUNCTION_INFO_V1(scaler_column_type_ok);

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

/* ------------------------------------------------------------ the policy */

/*
 * The function scaler.<name>(argtypes), for internal functions that C
 * calls directly through fmgr (no EXECUTE check: nobody else may call
 * them).
 */
Oid
scaler_function(const char *name, int nargs, Oid *argtypes)
{
	List	   *qualname = list_make2(makeString("scaler"),
									  makeString(pstrdup(name)));

	return LookupFuncName(qualname, nargs, argtypes, false);
}

/* Deform a composite value's tuple header hdr, of row type desc. */
void
scaler_deform_record(HeapTupleHeader hdr, TupleDesc desc, Datum *values,
					 bool *nulls)
{
	HeapTupleData tuple;

	tuple.t_len = HeapTupleHeaderGetDatumLength(hdr);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = hdr;
	heap_deform_tuple(&tuple, desc, values, nulls);
}

/*
 * The natts columns of the row an internal function (named fname in
 * errors) returned, into values and nulls.
 */
void
scaler_deform_result(Datum result, const char *fname, int natts,
					 Datum *values, bool *nulls)
{
	HeapTupleHeader hdr = DatumGetHeapTupleHeader(result);
	TupleDesc	desc;

	desc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(hdr),
								  HeapTupleHeaderGetTypMod(hdr));
	if (desc->natts != natts)
		elog(ERROR, "%s returned %d columns, expected %d",
			 fname, desc->natts, natts);
	scaler_deform_record(hdr, desc, values, nulls);
	ReleaseTupleDesc(desc);
}

/* The 0-based position of the column called name in desc. */
int
scaler_column_of(TupleDesc desc, const char *name)
{
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return i;
	}
	elog(ERROR, "policy row has no column \"%s\"", name);
	return -1;					/* keep compiler quiet */
}

/*
 * The one loader: a policy's settings from a row with the columns of
 * scaler.policy, found by name (so a query may add columns of its own, in
 * any order).  The row was checked by scaler._check_policy when it was
 * written, so NULLs in NOT NULL columns are can't-happen; what can still
 * fail (an interval out of range, a metric of another version) fails here,
 * naming the policy.  Strings are copied into the current context.
 */
void
scaler_policy_from_datums(TupleDesc desc, const Datum *values,
						  const bool *nulls, ScalerPolicySettings *s)
{
	char	   *metric;
	int			c;

	memset(s, 0, sizeof(ScalerPolicySettings));
	c = scaler_column_of(desc, "name");
	s->name = TextDatumGetCString(values[c]);
	c = scaler_column_of(desc, "owner");
	s->owner = DatumGetObjectId(values[c]);
	c = scaler_column_of(desc, "metric");
	metric = TextDatumGetCString(values[c]);
	if (!scaler_metric_from_name(metric, &s->metric))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("policy \"%s\" has unknown metric \"%s\"",
						s->name, metric)));
	c = scaler_column_of(desc, "target");
	s->target = DatumGetFloat8(values[c]);
	c = scaler_column_of(desc, "function_name");
	s->function_name = nulls[c] ? NULL : TextDatumGetCString(values[c]);
	c = scaler_column_of(desc, "source");
	s->source = DatumGetObjectId(values[c]);
	c = scaler_column_of(desc, "stable_window");
	s->stable_window = scaler_interval_usecs(DatumGetIntervalP(values[c]),
											 "stable_window");
	c = scaler_column_of(desc, "scale_in_stabilization");
	s->scale_in_stabilization =
		scaler_interval_usecs(DatumGetIntervalP(values[c]),
							  "scale_in_stabilization");
	c = scaler_column_of(desc, "min_capacity");
	s->min_capacity = DatumGetInt32(values[c]);
	c = scaler_column_of(desc, "max_capacity");
	s->max_capacity = DatumGetInt32(values[c]);
	c = scaler_column_of(desc, "tolerance");
	s->tolerance = DatumGetFloat8(values[c]);
	c = scaler_column_of(desc, "panic_threshold");
	s->panic_threshold = DatumGetFloat8(values[c]);
	c = scaler_column_of(desc, "channel");
	s->channel = TextDatumGetCString(values[c]);
	c = scaler_column_of(desc, "keep_alive_auto");
	if (!nulls[c] && DatumGetBool(values[c]))
		s->keep_alive.mode = SCALER_KEEPALIVE_AUTO;
	else
	{
		c = scaler_column_of(desc, "keep_alive");
		if (!nulls[c])
		{
			s->keep_alive.mode = SCALER_KEEPALIVE_FIXED;
			s->keep_alive.keep_alive =
				scaler_interval_usecs(DatumGetIntervalP(values[c]), "keep_alive");
		}
	}
}

/*
 * The settings of a policy with overrides applied, as the calling user may
 * see them.  scaler._policy_settings(invoker, policy, overrides) is
 * SECURITY DEFINER and not executable by anyone: it is called here
 * directly through fmgr, which skips the EXECUTE check, with the real
 * caller, so it can check that the caller may manage the policy.  Errors
 * (unknown policy, bad override) come from there.
 */
void
scaler_policy_settings(const char *policy, Jsonb *overrides,
					   ScalerPolicySettings *s)
{
	Oid			argtypes[3] = {OIDOID, TEXTOID, JSONBOID};
	Oid			fn = scaler_function("_policy_settings", 3, argtypes);
	Datum		ov;
	Datum		result;
	HeapTupleHeader hdr;
	TupleDesc	desc;
	Datum	   *values;
	bool	   *nulls;

	if (overrides != NULL)
		ov = JsonbPGetDatum(overrides);
	else
		ov = DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"));
	result = OidFunctionCall3(fn, ObjectIdGetDatum(GetUserId()),
							  CStringGetTextDatum(policy), ov);

	hdr = DatumGetHeapTupleHeader(result);
	desc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(hdr),
								  HeapTupleHeaderGetTypMod(hdr));
	values = palloc(sizeof(Datum) * desc->natts);
	nulls = palloc(sizeof(bool) * desc->natts);
	scaler_deform_record(hdr, desc, values, nulls);

	scaler_policy_from_datums(desc, values, nulls, s);

	ReleaseTupleDesc(desc);
}

/*
 * The settings part of a decision input, for a policy running current
 * instances under an active floor, evaluated at now.  The measured part
 * comes from scaler_metric_input.
 */
void
scaler_policy_decide_input(const ScalerPolicySettings *s, int current,
						   int floor, TimestampTz now, ScalerDecideInput *in)
{
	memset(in, 0, sizeof(ScalerDecideInput));
	in->metric = s->metric;
	in->target = s->target;
	in->tolerance = s->tolerance;
	in->panic_threshold = s->panic_threshold;
	in->stable_window = s->stable_window;
	in->scale_in_stabilization = s->scale_in_stabilization;
	in->min_capacity = s->min_capacity;
	in->max_capacity = s->max_capacity;
	in->floor = Max(floor, 0);
	in->current = current;
	in->now = now;
}

/*
 * The source, schema-qualified and quoted for a query.  It is locked by OID
 * first: that takes in any pending invalidation (a committed rename), and
 * no rename can happen while we hold the lock, so the name stays the
 * relation's until the end of the transaction.  Waiting here for a lock (an
 * ALTER TABLE in progress) is bounded by scaler.policy_timeout in
 * evaluation.
 */
char *
scaler_source_name(const ScalerPolicySettings *s)
{
	char	   *relname;

	LockRelationOid(s->source, AccessShareLock);
	relname = get_rel_name(s->source);
	if (relname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("source of policy \"%s\" no longer exists", s->name),
				 errhint("Point the policy at a new source with scaler.alter_policy(%s, source => ...).",
						 quote_literal_cstr(s->name))));
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(s->source)),
									  relname);
}

/*
 * Act as the policy owner, as every read of a policy's source does, so that
 * the source's privileges and row-level security apply to the owner,
 * whoever calls, until scaler_end_role (scaler_become_role says how).
 */
void
scaler_become_owner(const ScalerPolicySettings *s, ScalerOwnerScope *scope)
{
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(s->owner)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("owner of policy \"%s\" no longer exists", s->name),
				 errhint("Drop the policy and create it again as an existing role.")));
	scaler_become_role(s->owner, scope);
}

/* ------------------------------------------------------------ the rules */

static void
settings_problem(bool raise, const char *message, const char *detail,
				 const char *hint)
{
	if (raise)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg_internal("%s", message),
				 detail ? errdetail_internal("%s", detail) : 0,
				 hint ? errhint("%s", hint) : 0));
}

/* A name or channel: 1 to 63 bytes (NAMEDATALEN - 1, as LISTEN takes). */
static bool
short_name_ok(FunctionCallInfo fcinfo, int argno)
{
	text	   *t;

	if (PG_ARGISNULL(argno))
		return false;
	t = PG_GETARG_TEXT_PP(argno);
	return VARSIZE_ANY_EXHDR(t) > 0 && VARSIZE_ANY_EXHDR(t) < NAMEDATALEN;
}

/*
 * scaler._check_settings(name, metric, target, stable_window, min_capacity,
 *     max_capacity, tolerance, scale_in_stabilization, panic_threshold,
 *     channel, raise) -> boolean
 *
 * The rules of a policy's settings, stated once: scaler._check_policy
 * calls it with raise (create_policy, alter_policy, backtest and forecast
 * overrides: 22023, naming the field), the CHECK constraint of
 * scaler.policy without (a row written by hand), and
 * scaler.desired_capacity() applies the same scaler_settings_check.  NULL
 * is never valid.  What needs the catalogs (the source's columns and the
 * owner's privileges) stays in scaler._check_policy.
 */
Datum
scaler_check_settings(PG_FUNCTION_ARGS)
{
	bool		raise = !PG_ARGISNULL(10) && PG_GETARG_BOOL(10);
	ScalerDecideInput in;
	ScalerMetric metric;
	const char *field;
	const char *problem = NULL;

	if (!short_name_ok(fcinfo, 0))
	{
		settings_problem(raise, "policy name must be 1 to 63 bytes long",
						 NULL, NULL);
		PG_RETURN_BOOL(false);
	}
	if (PG_ARGISNULL(1) ||
		!scaler_metric_from_name(text_to_cstring(PG_GETARG_TEXT_PP(1)), &metric))
	{
		settings_problem(raise,
						 psprintf("unknown metric \"%s\"",
								  PG_ARGISNULL(1) ? "" :
								  text_to_cstring(PG_GETARG_TEXT_PP(1))),
						 NULL,
						 psprintf("Valid metrics are %s.", scaler_metric_names()));
		PG_RETURN_BOOL(false);
	}

	/* NULLs become values the rules refuse, naming the field */
	memset(&in, 0, sizeof(in));
	in.metric = metric;
	in.target = PG_ARGISNULL(2) ? get_float8_nan() : PG_GETARG_FLOAT8(2);
	in.stable_window = PG_ARGISNULL(3) ? 0 :
		scaler_interval_usecs(PG_GETARG_INTERVAL_P(3), "stable_window");
	in.min_capacity = PG_ARGISNULL(4) ? -1 : PG_GETARG_INT32(4);
	in.max_capacity = PG_ARGISNULL(5) ? INT_MIN : PG_GETARG_INT32(5);
	in.tolerance = PG_ARGISNULL(6) ? get_float8_nan() : PG_GETARG_FLOAT8(6);
	in.scale_in_stabilization = PG_ARGISNULL(7) ? -1 :
		scaler_interval_usecs(PG_GETARG_INTERVAL_P(7), "scale_in_stabilization");
	in.panic_threshold = PG_ARGISNULL(8) ? get_float8_nan() : PG_GETARG_FLOAT8(8);

	field = scaler_settings_check(&in, &problem);
	if (field != NULL)
	{
		settings_problem(raise, psprintf("%s %s", field, problem),
						 (strcmp(field, "max_capacity") == 0 && !PG_ARGISNULL(4) &&
						  !PG_ARGISNULL(5)) ?
						 psprintf("min_capacity is %d, max_capacity is %d.",
								  in.min_capacity, in.max_capacity) : NULL,
						 NULL);
		PG_RETURN_BOOL(false);
	}
	if (!short_name_ok(fcinfo, 9))
	{
		settings_problem(raise, "channel must be 1 to 63 bytes long", NULL, NULL);
		PG_RETURN_BOOL(false);
	}
	PG_RETURN_BOOL(true);
}

/*
 * scaler._column_type_ok(column text, type regtype) -> boolean: whether a
 * source may have that type for that column (source.c's list, the one
 * every reader of a source applies).
 */
Datum
scaler_column_type_ok(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(source_column_accepts(text_to_cstring(PG_GETARG_TEXT_PP(0)),
										 PG_GETARG_OID(1)));
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
 * The decision input from scaler.desired_capacity()'s arguments (all but
 * state), checked as every decision's input is (scaler_decide_check).
 */
static void
desired_capacity_input(FunctionCallInfo fcinfo, ScalerDecideInput *in)
{
	const char *field;
	const char *problem = NULL;
	char	   *metric;
	int			i;
	static const char *const argnames[] = {
		"min_capacity", "max_capacity", "tolerance", "panic_threshold",
		"stable_window", "scale_in_stabilization", "floor"
	};

	require_arg(fcinfo, 0, "metric");
	require_arg(fcinfo, 1, "target");
	require_arg(fcinfo, 2, "current_capacity");
	for (i = 5; i <= 11; i++)
		require_arg(fcinfo, i, argnames[i - 5]);
	require_arg(fcinfo, 13, "at");

	memset(in, 0, sizeof(ScalerDecideInput));
	metric = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (!scaler_metric_from_name(metric, &in->metric))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown metric \"%s\"", metric),
				 errhint("Valid metrics are %s.", scaler_metric_names())));
	in->target = PG_GETARG_FLOAT8(1);
	in->current = PG_GETARG_INT32(2);
	in->has_value = !PG_ARGISNULL(3);
	in->value = in->has_value ? PG_GETARG_FLOAT8(3) : 0.0;
	in->rows = in->has_value ? 1 : 0;
	in->has_panic_value = !PG_ARGISNULL(4);
	in->panic_value = in->has_panic_value ? PG_GETARG_FLOAT8(4) : 0.0;
	in->min_capacity = PG_GETARG_INT32(5);
	in->max_capacity = PG_GETARG_INT32(6);
	in->tolerance = PG_GETARG_FLOAT8(7);
	in->panic_threshold = PG_GETARG_FLOAT8(8);
	in->stable_window = scaler_interval_usecs(PG_GETARG_INTERVAL_P(9),
											  "stable_window");
	in->scale_in_stabilization = scaler_interval_usecs(PG_GETARG_INTERVAL_P(10),
													   "scale_in_stabilization");
	in->floor = PG_GETARG_INT32(11);
	in->now = PG_GETARG_TIMESTAMPTZ(13);

	field = scaler_decide_check(in, &problem);
	if (field != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s %s", field, problem)));
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
	TupleDesc	tupdesc;
	TupleDesc	statedesc;
	Datum		values[4];
	bool		nulls[4];
	Datum		svalues[SCALER_STATE_NCOLS];
	bool		snulls[SCALER_STATE_NCOLS];
	Oid			statetype;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	desired_capacity_input(fcinfo, &in);

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
		scaler_deform_record(PG_GETARG_HEAPTUPLEHEADER(12), statedesc,
							 svalues, snulls);
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
