/*-------------------------------------------------------------------------
 *
 * backtest.c
 *	  scaler.backtest() and scaler.backtest_summary(): replay a policy over
 *	  stored history with the decision rules of decide.c, unchanged.
 *
 * The replay evaluates the policy every stable_window from since to until,
 * as live evaluation would have at those instants: the same window
 * (at - stable_window, at], the same panic tail (at - stable_window / 10,
 * at], the same metric formulas (metric.c) as evaluation, starting from
 * min_capacity with an empty decision state, honouring the capacity floors
 * that were active at each step, and applying every decision.
 *
 * Because the steps are exactly stable_window long, the windows tile
 * (since, until] and every row belongs to exactly one step.  So the source
 * is read in one pass, its rows streamed from the executor straight into
 * per-step counters through a DestReceiver (no per-step query, no copy of
 * the rows), and the decisions run afterwards over the counters.  Only
 * p95_ms needs the durations themselves: for it the rows come in ts order
 * and each step's percentile is computed as soon as the step is complete,
 * so memory stays at one step's rows.
 *
 * Each step also counts its requests and cold starts, and the instances
 * kept warm beyond what the load kept busy (step_accounting), the numbers
 * serverless users judge a policy by.
 *
 * Only the columns the policy needs are read (unless the owner may read
 * the whole source), so column-level SELECT suffices, as for evaluation.
 * A replay is bounded to BACKTEST_MAX_STEPS steps, and every loop over
 * steps or floors checks for interrupts.
 *
 * The source is read as the policy owner, as live evaluation reads it, so
 * privileges and row-level security give the replay the rows the policy
 * would have seen.  The caller must be able to manage the policy (the
 * policy settings are looked up by scaler._policy_settings with the
 * caller's identity, which also applies and checks the overrides).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <limits.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/params.h"
#include "parser/parse_func.h"
#include "tcop/dest.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "backtest.h"
#include "hourbucket.h"
#include "policy.h"
#include "source.h"

PG_FUNCTION_INFO_V1(scaler_backtest);
PG_FUNCTION_INFO_V1(scaler_backtest_summary);

/*
 * Bound on the steps of one replay (memory: about 100 bytes a step, plus a
 * row of the result per step for scaler.backtest).  A million one-minute
 * steps are about two years.
 */
#define BACKTEST_MAX_STEPS	1000000

/* What one step's window and its panic tail held (see metric.c). */
typedef struct StepCounts
{
	ScalerCounts window;
	ScalerCounts tail;
} StepCounts;

/* A DestReceiver that counts rows into their steps. */
typedef struct Replay
{
	DestReceiver pub;
	ScalerMetric metric;
	TimestampTz since;
	int64		window;
	int64		tail;			/* length of the panic tail */
	int64		nsteps;
	StepCounts *steps;
	/* warm-up before since (keep_alive 'auto'): which steps had requests */
	TimestampTz warm_start;
	int64		warm_nsteps;
	bool	   *warm_active;
	/* where the columns are in the source's rows (found at startup) */
	AttrNumber	ts_att;
	ScalerMetricColumn column;	/* what value_att holds */
	bool		durations;		/* p95_ms: keep every duration of a step */
	AttrNumber	value_att;		/* duration_ms or status; 0 if not read */
	Oid			value_type;
	/* p95_ms: durations of the step being read (rows arrive in ts order) */
	int64		current;
	double	   *all;
	int			nall;
	int			maxall;
	double	   *tailms;
	int			ntail;
	int			maxtail;
} Replay;

/* The summary of a replay. */
typedef struct ReplaySummary
{
	int64		steps;
	int64		scale_outs;
	int64		scale_ins;
	int64		capacity_steps; /* sum of running capacity over steps */
	int64		steps_under;	/* steps with a shortfall */
	int			worst_shortfall;
	double		demand_sum;
	double		capacity_sum;
	int			peak_capacity;
	int64		requests;
	int64		cold_starts;
	double		idle_steps;		/* warm idle instances summed over steps */
} ReplaySummary;

/* -------------------------------------------------------------- floors */

static int64
ceil_div(int64 a, int64 b)
{
	return -floor_div(-a, b);
}

/* One floor as a range of steps. */
typedef struct StepFloor
{
	int64		first;			/* 1-based steps first..last */
	int64		last;
	int			min;
} StepFloor;

/* highest floor first */
static int
step_floor_order(const void *a, const void *b)
{
	const StepFloor *x = (const StepFloor *) a;
	const StepFloor *y = (const StepFloor *) b;

	return (x->min < y->min) - (x->min > y->min);
}

/*
 * The next step at or after k not yet given a floor, with path halving
 * (next[k] == k: not yet given one; next[nsteps + 1] is a sentinel).
 */
static int64
next_open_step(int64 *next, int64 k)
{
	while (next[k] != k)
	{
		next[k] = next[next[k]];
		k = next[k];
	}
	return k;
}

/*
 * The highest floor active at each step's instant (steps 1..nsteps at
 * since + k * window; index k - 1), as scaler.active_floor() answers it:
 * a floor is active at t when starts <= t < ends.
 *
 * Thousands of floors over a million steps must not cost their product:
 * the floors are taken highest first and each fills only the steps of its
 * range that no higher floor took, skipping the taken ones through a
 * "next open step" forest, so the whole costs about floors x log + steps.
 */
static int *
step_floors(const char *policy, TimestampTz since, int64 window, int64 nsteps)
{
	Oid			argtypes[3] = {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Oid			fn = scaler_function("_policy_floors", 3, argtypes);
	TimestampTz until = since + nsteps * window;
	int		   *floors = palloc0(sizeof(int) * Max(nsteps, 1));
	Datum		result;
	Datum		values[3];
	bool		nulls[3];
	Datum	   *starts;
	Datum	   *ends;
	Datum	   *mins;
	StepFloor  *ranges;
	int64	   *next;
	int64		k;
	int			nranges = 0;
	int			n;
	int			n2;
	int			n3;
	int			i;

	result = OidFunctionCall3(fn, CStringGetTextDatum(policy),
							  TimestampTzGetDatum(since),
							  TimestampTzGetDatum(until));
	scaler_deform_result(result, "scaler._policy_floors", 3, values, nulls);
	if (nulls[0] || nulls[1] || nulls[2])
		return floors;			/* no floors */

	deconstruct_array(DatumGetArrayTypeP(values[0]), TIMESTAMPTZOID,
					  sizeof(TimestampTz), true, TYPALIGN_DOUBLE,
					  &starts, NULL, &n);
	deconstruct_array(DatumGetArrayTypeP(values[1]), TIMESTAMPTZOID,
					  sizeof(TimestampTz), true, TYPALIGN_DOUBLE,
					  &ends, NULL, &n2);
	deconstruct_array(DatumGetArrayTypeP(values[2]), INT4OID,
					  sizeof(int32), true, TYPALIGN_INT,
					  &mins, NULL, &n3);
	if (n2 != n || n3 != n)
		elog(ERROR, "scaler._policy_floors returned arrays of different lengths");

	ranges = palloc(sizeof(StepFloor) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		/*
		 * Clamp first: floors may be infinite.  The last step is at until,
		 * so any end after it covers them all, and until + 1 cannot
		 * overflow where until + window could (at the end of the range).
		 */
		TimestampTz s = Max(DatumGetTimestampTz(starts[i]), since);
		TimestampTz e = Min(DatumGetTimestampTz(ends[i]), until + 1);
		int			min = DatumGetInt32(mins[i]);
		int64		first;
		int64		last;

		if (e <= s || min <= 0)
			continue;
		/* steps k with s <= since + k * window < e */
		first = Max(ceil_div(s - since, window), 1);
		last = Min(ceil_div(e - since, window) - 1, nsteps);
		if (first > last)
			continue;
		ranges[nranges].first = first;
		ranges[nranges].last = last;
		ranges[nranges].min = min;
		nranges++;
	}
	if (nranges == 0)
		return floors;
	qsort(ranges, nranges, sizeof(StepFloor), step_floor_order);

	next = palloc(sizeof(int64) * (nsteps + 2));
	for (k = 0; k <= nsteps + 1; k++)
		next[k] = k;
	for (i = 0; i < nranges; i++)
	{
		k = next_open_step(next, ranges[i].first);
		while (k <= ranges[i].last)
		{
			floors[k - 1] = ranges[i].min;
			next[k] = k + 1;
			k = next_open_step(next, k + 1);
		}
		CHECK_FOR_INTERRUPTS();
	}
	pfree(next);
	pfree(ranges);
	return floors;
}

/* ------------------------------------------------------------ the read */

static void
replay_close_step(Replay *r)
{
	if (r->current >= 0)
	{
		StepCounts *acc = &r->steps[r->current];

		if (r->nall > 0)
		{
			acc->window.has_p95 = true;
			acc->window.p95_ms = scaler_percentile_cont(r->all, r->nall, 0.95);
		}
		if (r->ntail > 0)
		{
			acc->tail.has_p95 = true;
			acc->tail.p95_ms = scaler_percentile_cont(r->tailms, r->ntail, 0.95);
		}
	}
	r->nall = 0;
	r->ntail = 0;
}

/*
 * Keep one duration of the step.  The buffer doubles; its length is an int,
 * so a step may hold up to INT_MAX / 2 rows (8 GB of durations; the read
 * is interruptible, and a huge allocation fails cleanly before that).
 */
static void
append_value(double **values, int *n, int *max, double value)
{
	if (*n >= *max)
	{
		if (*max > INT_MAX / 2)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many rows in one step of the replay")));
		*max *= 2;
		*values = repalloc_huge(*values, sizeof(double) * *max);
	}
	(*values)[(*n)++] = value;
}

/*
 * A duration as float8, from any of the types a source may use for it
 * (scaler._check_policy allows exactly these).
 */
static inline double
duration_value(Datum d, Oid type)
{
	switch (type)
	{
		case FLOAT8OID:
			return DatumGetFloat8(d);
		case FLOAT4OID:
			return (double) DatumGetFloat4(d);
		case INT2OID:
			return (double) DatumGetInt16(d);
		case INT4OID:
			return (double) DatumGetInt32(d);
		case INT8OID:
			return (double) DatumGetInt64(d);
		case NUMERICOID:
			return DatumGetFloat8(DirectFunctionCall1(numeric_float8, d));
	}
	elog(ERROR, "unexpected type %u of duration_ms", type);
	return 0.0;					/* keep compiler quiet */
}

static inline int64
status_value(Datum d, Oid type)
{
	switch (type)
	{
		case INT2OID:
			return DatumGetInt16(d);
		case INT4OID:
			return DatumGetInt32(d);
		case INT8OID:
			return DatumGetInt64(d);
	}
	elog(ERROR, "unexpected type %u of status", type);
	return 0;					/* keep compiler quiet */
}

static bool
replay_receive(TupleTableSlot *slot, DestReceiver *self)
{
	Replay	   *r = (Replay *) self;
	StepCounts *acc;
	TimestampTz ts;
	Datum		d;
	bool		isnull;
	bool		tail;
	int64		k;

	d = slot_getattr(slot, r->ts_att, &isnull);
	if (isnull)
		return true;
	ts = DatumGetTimestampTz(d);

	/*
	 * Step k (0-based) reads (since + k * window, since + (k + 1) * window].
	 * The query asked for rows of the steps only, but a source can be a view
	 * whose ts is not what its WHERE saw (a function that lies about being
	 * immutable), so every row is placed by its own ts, and one outside the
	 * steps ignored.  The differences are taken unsigned: a ts centuries
	 * after since would overflow int64, the difference of two int64 cannot
	 * overflow uint64.
	 */
	if (ts <= r->since)
	{
		if (ts > r->warm_start && r->warm_nsteps > 0)
		{
			uint64		offset = ((uint64) ts - (uint64) r->warm_start - 1) / r->window;

			if (offset < (uint64) r->warm_nsteps)
				r->warm_active[offset] = true;
		}
		return true;
	}
	{
		uint64		offset = ((uint64) ts - (uint64) r->since - 1) / r->window;

		if (offset >= (uint64) r->nsteps)
			return true;
		k = (int64) offset;
	}
	acc = &r->steps[k];
	tail = ts > r->since + (k + 1) * r->window - r->tail;

	acc->window.requests++;
	if (tail)
		acc->tail.requests++;

	switch (r->column)
	{
		case SCALER_COLUMN_NONE:
			break;
		case SCALER_COLUMN_DURATION:
			if (r->durations && k != r->current)
			{
				replay_close_step(r);
				r->current = k;
			}
			d = slot_getattr(slot, r->value_att, &isnull);
			if (!isnull)
			{
				double		ms = duration_value(d, r->value_type);

				acc->window.with_duration++;
				acc->window.busy_ms += ms;
				if (tail)
				{
					acc->tail.with_duration++;
					acc->tail.busy_ms += ms;
				}
				if (r->durations)
				{
					append_value(&r->all, &r->nall, &r->maxall, ms);
					if (tail)
						append_value(&r->tailms, &r->ntail, &r->maxtail, ms);
				}
			}
			break;
		case SCALER_COLUMN_STATUS:
			d = slot_getattr(slot, r->value_att, &isnull);
			if (!isnull)
			{
				bool		error = status_value(d, r->value_type) >= 500;

				acc->window.with_status++;
				acc->window.errors += error;
				if (tail)
				{
					acc->tail.with_status++;
					acc->tail.errors += error;
				}
			}
			break;
	}
	return true;
}

static AttrNumber
attnum_of(TupleDesc desc, const char *name, Oid *type)
{
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
		{
			*type = att->atttypid;
			return (AttrNumber) (i + 1);
		}
	}
	/* scaler._check_policy made sure the columns exist */
	elog(ERROR, "source has no column \"%s\"", name);
	return InvalidAttrNumber;	/* keep compiler quiet */
}

/* Find the columns in the rows the query returns. */
static void
replay_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	Replay	   *r = (Replay *) self;
	Oid			type;

	r->ts_att = attnum_of(typeinfo, "ts", &type);
	if (type != TIMESTAMPTZOID)
		elog(ERROR, "unexpected type %u of ts", type);
	r->column = scaler_metric_column(r->metric);
	r->durations = scaler_metric_needs_durations(r->metric);
	r->value_att = InvalidAttrNumber;
	if (r->column != SCALER_COLUMN_NONE)
		r->value_att = attnum_of(typeinfo, scaler_metric_column_name(r->metric),
								 &r->value_type);
}

static void
replay_shutdown(DestReceiver *self)
{
}

static void
replay_destroy(DestReceiver *self)
{
}

/*
 * Read the source rows of (since, since + nsteps * window] into r->steps,
 * as the policy owner, in one query.
 */
static void
replay_read(const ScalerPolicySettings *s, Replay *r)
{
	StringInfoData sql;
	SPIExecuteOptions options;
	ParamListInfo params;
	int			nparams = s->function_name ? 3 : 2;
	ScalerOwnerScope owner_scope;
	int			ret;

	/*
	 * Read only the columns the replay needs, so that a policy owner with
	 * column-level SELECT on them can replay (as it can evaluate).  When
	 * the owner may read the whole table, SELECT * instead: a scan whose
	 * output is its table's whole row needs no projection, which is a good
	 * part of the cost per row.  replay_startup finds the columns by name.
	 */
	initStringInfo(&sql);
	if (pg_class_aclcheck(s->source, s->owner, ACL_SELECT) == ACLCHECK_OK)
		appendStringInfoString(&sql, "SELECT *");
	else
	{
		appendStringInfoString(&sql, "SELECT ts");
		if (scaler_metric_column_name(s->metric) != NULL)
			appendStringInfo(&sql, ", %s", scaler_metric_column_name(s->metric));
	}
	appendStringInfo(&sql, " FROM %s WHERE ", scaler_source_name(s));
	if (s->function_name)
		appendStringInfoString(&sql, "function_name OPERATOR(pg_catalog.=) $3 AND ");
	appendStringInfoString(&sql, "ts OPERATOR(pg_catalog.>) $1 "
						   "AND ts OPERATOR(pg_catalog.<=) $2");
	/* a percentile takes the rows step by step, the others any order */
	if (scaler_metric_needs_durations(s->metric))
		appendStringInfoString(&sql, " ORDER BY ts");

	params = makeParamList(nparams);
	params->params[0].value = TimestampTzGetDatum(r->warm_start);
	params->params[0].isnull = false;
	params->params[0].pflags = PARAM_FLAG_CONST;
	params->params[0].ptype = TIMESTAMPTZOID;
	params->params[1].value = TimestampTzGetDatum(r->since + r->nsteps * r->window);
	params->params[1].isnull = false;
	params->params[1].pflags = PARAM_FLAG_CONST;
	params->params[1].ptype = TIMESTAMPTZOID;
	if (s->function_name)
	{
		params->params[2].value = CStringGetTextDatum(s->function_name);
		params->params[2].isnull = false;
		params->params[2].pflags = PARAM_FLAG_CONST;
		params->params[2].ptype = TEXTOID;
	}

	r->pub.receiveSlot = replay_receive;
	r->pub.rStartup = replay_startup;
	r->pub.rShutdown = replay_shutdown;
	r->pub.rDestroy = replay_destroy;
	r->pub.mydest = DestNone;
	r->current = -1;
	if (scaler_metric_needs_durations(s->metric))
	{
		r->maxall = r->maxtail = 1024;
		r->all = palloc(sizeof(double) * r->maxall);
		r->tailms = palloc(sizeof(double) * r->maxtail);
	}

	memset(&options, 0, sizeof(options));
	options.params = params;
	options.read_only = true;
	options.dest = (DestReceiver *) r;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	scaler_become_owner(s, &owner_scope);
	ret = SPI_execute_extended(sql.data, &options);
	scaler_end_role(&owner_scope);
	if (ret != SPI_OK_SELECT && ret != SPI_OK_UTILITY)
		elog(ERROR, "reading the source of policy \"%s\" failed: %s",
			 s->name, SPI_result_code_string(ret));
	SPI_finish();

	if (scaler_metric_needs_durations(s->metric))
		replay_close_step(r);
}

/* ------------------------------------------------------------ the replay */

/*
 * Cold starts and warm idle instances of one step (see the file header of
 * the SQL reference, "Cold starts", for the definition users read):
 *
 *	need	the instances the step's load needs: for a load metric the
 *			demand (ceil(value / target)), for a quality metric one; and at
 *			least one whenever a request arrived, since a request never
 *			finds zero warm instances without a cold start;
 *	cold	max(0, need - capacity running), at most the arrivals;
 *	busy	the instances the load kept busy: value / target for a load
 *			metric (concurrency / target is Little's law), the whole
 *			capacity for a quality metric in a step with requests (it
 *			measures no load), and nothing in a step without requests;
 *	idle	capacity - busy, when positive.
 */
static void
step_accounting(const ScalerDecideInput *in, int capacity, int *cold,
				double *idle)
{
	int64		need = 0;
	double		busy = 0.0;

	if (in->rows > 0)
	{
		need = 1;
		if (scaler_metric_is_load(in->metric) && in->has_value)
		{
			busy = in->value / in->target;
			need = Max(need, scaler_capacity_for(busy));
		}
		else
			busy = capacity;
	}
	need = Min(need - capacity, in->rows);
	*cold = (int) Max(need, 0);
	*idle = Max((double) capacity - busy, 0.0);
}

/*
 * A Replay of the policy's steps from since to until (checked), with the
 * warm-up a keep-alive starts from: the requests before since, as live
 * evaluation would have seen them by then (the last one for a fixed
 * keep-alive, the idle times for 'auto').
 */
static Replay *
replay_setup(const ScalerPolicySettings *s, TimestampTz since,
			 TimestampTz until)
{
	Replay	   *r;
	int64		span;

	/* the whole timestamp range does not fit in an int64 of microseconds */
	if (pg_sub_s64_overflow(until, since, &span))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("the range from since to until is too long")));

	r = palloc0(sizeof(Replay));
	r->metric = s->metric;
	r->since = since;
	r->window = s->stable_window;
	r->tail = s->stable_window / 10;
	r->nsteps = span / s->stable_window;
	if (r->nsteps > BACKTEST_MAX_STEPS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("backtest of policy \"%s\" would take more than %d steps",
						s->name, BACKTEST_MAX_STEPS),
				 errdetail("The range from since to until holds " INT64_FORMAT " steps of stable_window; the limit is %d steps.",
						   r->nsteps, BACKTEST_MAX_STEPS),
				 errhint("Replay a shorter time range, or override stable_window with a longer one.")));
	r->steps = palloc0(sizeof(StepCounts) * Max(r->nsteps, 1));

	r->warm_start = since;
	if (s->keep_alive.mode != SCALER_KEEPALIVE_NONE)
	{
		r->warm_nsteps = scaler_keepalive_warmup_steps(since, s->stable_window);
		r->warm_start = since - r->warm_nsteps * s->stable_window;
		r->warm_active = palloc0(sizeof(bool) * Max(r->warm_nsteps, 1));
	}
	return r;
}

/* Add one step to the summary. */
static void
summary_add(ReplaySummary *summary, const ScalerDecideInput *in,
			const ScalerDecision *out, int capacity, int shortfall, int cold,
			double idle)
{
	summary->steps++;
	if (out->desired > capacity)
		summary->scale_outs++;
	else if (out->desired < capacity)
		summary->scale_ins++;
	summary->capacity_steps += capacity;
	if (shortfall > 0)
		summary->steps_under++;
	summary->worst_shortfall = Max(summary->worst_shortfall, shortfall);
	if (capacity > 0)
	{
		summary->demand_sum += out->demand;
		summary->capacity_sum += capacity;
	}
	summary->peak_capacity = Max(summary->peak_capacity, out->desired);
	summary->requests += in->rows;
	summary->cold_starts += cold;
	summary->idle_steps += idle;
}

/* One step as a row of scaler.backtest. */
static void
put_step_row(ReturnSetInfo *rsinfo, const ScalerDecideInput *in,
			 const ScalerDecision *out, int demand, int capacity,
			 int shortfall, int cold)
{
	Datum		values[9];
	bool		nulls[9];

	memset(nulls, 0, sizeof(nulls));
	values[0] = TimestampTzGetDatum(in->now);
	values[1] = Float8GetDatum(in->value);
	nulls[1] = !in->has_value;
	values[2] = Int32GetDatum(demand);
	values[3] = Int32GetDatum(capacity);
	values[4] = Int32GetDatum(out->desired);
	values[5] = CStringGetTextDatum(scaler_reason_name(out->reason));
	values[6] = Int32GetDatum(shortfall);
	values[7] = Int64GetDatum(in->rows);
	values[8] = Int32GetDatum(cold);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * Decide every step of the replay read into r, as live evaluation would
 * have, applying each decision; with rsinfo each step becomes a row.
 */
static void
replay_decide(const ScalerPolicySettings *s, const Replay *r,
			  const int *floors, ReturnSetInfo *rsinfo,
			  ReplaySummary *summary)
{
	ScalerDecideState state;
	ScalerKeepAliveState kstate;
	int			capacity;
	int64		k;

	capacity = s->min_capacity;
	scaler_state_init(&state);
	scaler_keepalive_init(&kstate);
	scaler_keepalive_warm_up(&kstate, r->warm_start, s->stable_window,
							 r->warm_active, r->warm_nsteps);

	for (k = 0; k < r->nsteps; k++)
	{
		ScalerDecideInput in;
		ScalerDecision out;
		int			demand;
		int			shortfall;
		int			cold;
		double		idle;

		scaler_policy_decide_input(s, capacity, floors[k],
								   r->since + (k + 1) * s->stable_window, &in);
		scaler_metric_input(s->metric, &r->steps[k].window,
							&r->steps[k].tail, s->stable_window, &in);

		scaler_decide(&in, &state, &out);
		scaler_keepalive_observe(&kstate, in.now, s->stable_window, in.rows);
		scaler_keepalive_apply(&s->keep_alive, &kstate, &in, &out);

		/* shortfall: what this step's load needed beyond what was running */
		demand = scaler_capacity_for(out.demand);
		shortfall = Max(demand - capacity, 0);
		step_accounting(&in, capacity, &cold, &idle);

		summary_add(summary, &in, &out, capacity, shortfall, cold, idle);
		if (rsinfo != NULL)
			put_step_row(rsinfo, &in, &out, demand, capacity, shortfall, cold);
		capacity = out.desired;
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * Run the replay.  With rsinfo, each step becomes a row of the tuplestore;
 * the summary is always filled in.  Returns the length of a step in seconds.
 */
static double
run_backtest(FunctionCallInfo fcinfo, ReturnSetInfo *rsinfo,
			 ReplaySummary *summary)
{
	char	   *policy;
	Jsonb	   *overrides;
	TimestampTz since;
	TimestampTz until;
	ScalerPolicySettings s;
	Replay	   *r;
	int		   *floors;
	double		seconds;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("policy must not be null")));
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("since and until must not be null")));
	policy = text_to_cstring(PG_GETARG_TEXT_PP(0));
	since = PG_GETARG_TIMESTAMPTZ(1);
	until = PG_GETARG_TIMESTAMPTZ(2);
	overrides = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);

	source_check_window(since, until);
	scaler_policy_settings(policy, overrides, &s);
	r = replay_setup(&s, since, until);

	memset(summary, 0, sizeof(ReplaySummary));
	seconds = (double) s.stable_window / USECS_PER_SEC;
	if (r->nsteps == 0)
		return seconds;

	floors = step_floors(s.name, since, s.stable_window, r->nsteps);
	replay_read(&s, r);
	replay_decide(&s, r, floors, rsinfo, summary);
	return seconds;
}

/*
 * scaler.backtest(policy, since, until, overrides) -> one row per step:
 * (at, value, demand, from_capacity, capacity, reason, shortfall, requests,
 *  cold_starts)
 */
Datum
scaler_backtest(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ReplaySummary summary;

	InitMaterializedSRF(fcinfo, 0);
	run_backtest(fcinfo, rsinfo, &summary);
	return (Datum) 0;
}

/*
 * scaler.backtest_summary(policy, since, until, overrides) -> one row:
 * (steps, scale_out_events, scale_in_events, instance_hours,
 *  minutes_under_capacity, worst_shortfall, mean_utilisation, peak_capacity,
 *  requests, cold_starts, cold_start_pct, warm_idle_instance_hours)
 */
Datum
scaler_backtest_summary(PG_FUNCTION_ARGS)
{
	ReplaySummary summary;
	TupleDesc	tupdesc;
	double		step_seconds;
	Datum		values[12];
	bool		nulls[12];

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	step_seconds = run_backtest(fcinfo, NULL, &summary);

	memset(nulls, 0, sizeof(nulls));
	values[0] = Int64GetDatum(summary.steps);
	values[1] = Int64GetDatum(summary.scale_outs);
	values[2] = Int64GetDatum(summary.scale_ins);
	values[3] = Float8GetDatum(summary.capacity_steps * step_seconds / 3600.0);
	values[4] = Float8GetDatum(summary.steps_under * step_seconds / 60.0);
	values[5] = Int32GetDatum(summary.worst_shortfall);
	values[6] = Float8GetDatum(summary.capacity_sum > 0 ?
							   summary.demand_sum / summary.capacity_sum : 0.0);
	nulls[6] = !(summary.capacity_sum > 0);
	values[7] = Int32GetDatum(summary.peak_capacity);
	values[8] = Int64GetDatum(summary.requests);
	values[9] = Int64GetDatum(summary.cold_starts);
	values[10] = Float8GetDatum(summary.requests > 0 ?
								100.0 * summary.cold_starts / summary.requests : 0.0);
	nulls[10] = !(summary.requests > 0);
	values[11] = Float8GetDatum(summary.idle_steps * step_seconds / 3600.0);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
