/*-------------------------------------------------------------------------
 *
 * traffic_agg.c
 *	  The aggregate scaler.traffic_agg(ts [, duration_ms [, status]]): its
 *	  transition, combine and final functions.
 *
 * The state type is scaler.traffic itself (not internal), so partial states
 * can be shipped as text (Citus) or through parallel workers' tuple queues.
 * Inside an aggregate the state is a read-write expanded object living in a
 * child of the aggregate context, which nodeAgg keeps as is from row to row:
 * the transition function updates it in place and never copies it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "traffic.h"

PG_FUNCTION_INFO_V1(traffic_agg_trans);
PG_FUNCTION_INFO_V1(traffic_agg_combine);
PG_FUNCTION_INFO_V1(traffic_agg_final);

#define STATES_CONTEXT_NAME "scaler traffic states"

/*
 * The context that holds every traffic state of an aggregate context: one
 * child of it, found again by name, so that a GROUP BY over thousands of
 * groups adds one memory context, not thousands.  nodeAgg keeps a state
 * whose context is a child of the aggregate context and only ever deletes a
 * state when a transition returns a different one, which ours never do
 * once a state is theirs; resetting the aggregate context frees them all.
 */
static MemoryContext
states_context(MemoryContext aggcxt)
{
	MemoryContext child;

	for (child = aggcxt->firstchild; child != NULL; child = child->nextchild)
		if (strcmp(child->name, STATES_CONTEXT_NAME) == 0)
			return child;
	return AllocSetContextCreate(aggcxt, STATES_CONTEXT_NAME,
								 ALLOCSET_DEFAULT_SIZES);
}

/*
 * The aggregate's own expanded copy of the state argument (NULL or flat:
 * the first row, or a state read back), in its context.  Out of line, so
 * that the transition function's hot path stays small.
 */
static pg_noinline Traffic *
state_create(FunctionCallInfo fcinfo)
{
	MemoryContext aggcxt;
	Traffic    *traffic;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s called in non-aggregate context",
						get_func_name(fcinfo->flinfo->fn_oid))));
	traffic = traffic_create_in(states_context(aggcxt));
	if (!PG_ARGISNULL(0))
		traffic_add_datum(traffic, PG_GETARG_DATUM(0));
	return traffic;
}

/*
 * The state argument as a read-write object we may update in place.  By the
 * expanded-object convention a read-write pointer hands us the right to
 * modify; nodeAgg passes one from the second row on, so the common case is
 * a single test.  Nothing is cached in fn_extra: Citus calls the transition
 * function through a new FmgrInfo for every row.
 */
static inline Traffic *
state_for_update(FunctionCallInfo fcinfo)
{
	if (!PG_ARGISNULL(0) &&
		likely(VARATT_IS_EXTERNAL_EXPANDED_RW(DatumGetPointer(PG_GETARG_DATUM(0)))))
	{
		/* what DatumGetEOHP does, without a call into the server per row */
		varatt_expanded ptr;

		memcpy(&ptr, VARDATA_EXTERNAL(DatumGetPointer(PG_GETARG_DATUM(0))),
			   sizeof(ptr));
		return (Traffic *) ptr.eohptr;
	}
	return state_create(fcinfo);
}

/*
 * traffic_agg_trans(state, ts [, duration_ms [, status]])
 *
 * One C function serves all three arities.  Rows with a NULL ts are skipped;
 * infinite timestamps and bad durations are errors rather than silently
 * bucketed or dropped.
 */
Datum
traffic_agg_trans(PG_FUNCTION_ARGS)
{
	Traffic    *traffic;
	TimestampTz ts;
	bool		has_duration = false;
	double		duration_ms = 0.0;
	bool		is_error = false;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}

	ts = PG_GETARG_TIMESTAMPTZ(1);
	if (TIMESTAMP_NOT_FINITE(ts))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("cannot bucket infinite timestamp \"%s\"",
						TIMESTAMP_IS_NOBEGIN(ts) ? "-infinity" : "infinity"),
				 errhint("Filter out rows with infinite ts before aggregating.")));

	if (PG_NARGS() > 2 && !PG_ARGISNULL(2))
	{
		duration_ms = PG_GETARG_FLOAT8(2);
		if (unlikely(!(duration_ms >= 0.0 && duration_ms <= TRAFFIC_MAX_DURATION_MS)))
			traffic_check_duration(duration_ms);
		/* -0.0 and 0.0 are one duration */
		if (duration_ms == 0.0)
			duration_ms = 0.0;
		has_duration = true;
	}
	if (PG_NARGS() > 3 && !PG_ARGISNULL(3))
		is_error = PG_GETARG_INT32(3) >= 500;

	traffic = state_for_update(fcinfo);
	traffic_add_row(traffic, ts, is_error, has_duration, duration_ms);

	PG_RETURN_DATUM(EOHPGetRWDatum(&traffic->hdr));
}

/*
 * traffic_agg_combine(a, b): a + b.  Not strict, so it sees every NULL case;
 * it updates a in place when the aggregate owns it.
 */
Datum
traffic_agg_combine(PG_FUNCTION_ARGS)
{
	Traffic    *traffic;
	Traffic    *other;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}

	traffic = state_for_update(fcinfo);
	if (VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(PG_GETARG_DATUM(1))))
	{
		other = (Traffic *) DatumGetEOHP(PG_GETARG_DATUM(1));
		if (other == traffic)
			other = traffic_copy_into(PG_GETARG_DATUM(1), CurrentMemoryContext);
		traffic_merge(traffic, other);
	}
	else
	{
		/* a flat partial state (a worker's, or Citus's) is read into ours */
		traffic_add_datum(traffic, PG_GETARG_DATUM(1));
	}

	PG_RETURN_DATUM(EOHPGetRWDatum(&traffic->hdr));
}

/*
 * The aggregate's result: a flat copy of the state, so the read-write object
 * never escapes the aggregate.
 */
Datum
traffic_agg_final(PG_FUNCTION_ARGS)
{
	Traffic    *traffic = traffic_from_datum(PG_GETARG_DATUM(0));

	PG_RETURN_DATUM(traffic_flat_datum(traffic));
}
