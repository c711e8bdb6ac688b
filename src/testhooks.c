/*-------------------------------------------------------------------------
 *
 * testhooks.c
 *	  Functions that exist for scaler's own tests, and do nothing a user
 *	  needs.
 *
 * scaler._traffic_trans_fresh(state, ts, duration_ms, status) calls the
 * transition function of scaler.traffic_agg the way Citus's
 * worker_partial_agg does: through a new FmgrInfo for every row, so that
 * nothing kept in fn_extra survives from one row to the next.  As the
 * transition function of a test aggregate it shows that the aggregate
 * neither depends on such a cache nor slows down without one.
 *
 * scaler._window_plans() counts the window plans the backend keeps
 * (evaluate.c), so that a test can see that a run over every policy frees
 * those of sources no policy reads any more.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

#include "evaluate.h"

PG_FUNCTION_INFO_V1(traffic_trans_fresh);
PG_FUNCTION_INFO_V1(scaler_window_plans);

/* traffic_agg.c */
extern Datum traffic_agg_trans(PG_FUNCTION_ARGS);

Datum
traffic_trans_fresh(PG_FUNCTION_ARGS)
{
	FmgrInfo	flinfo;
	LOCAL_FCINFO(inner, 4);
	Datum		result;
	int			i;

	/* a new FmgrInfo: fn_extra starts NULL, as it does for every Citus row */
	MemSet(&flinfo, 0, sizeof(flinfo));
	flinfo.fn_addr = traffic_agg_trans;
	flinfo.fn_oid = fcinfo->flinfo->fn_oid;
	flinfo.fn_nargs = 4;
	flinfo.fn_strict = false;
	flinfo.fn_mcxt = CurrentMemoryContext;
	/* the aggregate's context, so the callee sees an aggregate call */
	InitFunctionCallInfoData(*inner, &flinfo, 4, fcinfo->fncollation,
							 fcinfo->context, NULL);
	for (i = 0; i < 4; i++)
	{
		inner->args[i].value = PG_GETARG_DATUM(i);
		inner->args[i].isnull = PG_ARGISNULL(i);
	}
	result = FunctionCallInvoke(inner);
	if (inner->isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

Datum
scaler_window_plans(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64((int64) scaler_window_plan_count());
}
