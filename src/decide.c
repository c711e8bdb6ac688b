/*-------------------------------------------------------------------------
 *
 * decide.c
 *	  The scaling rules, pure: no SPI, no catalog access, no allocation.
 *
 * One call takes the metric over the stable window (and over its last
 * tenth), the policy's settings and the capacity running now, and returns
 * the capacity to run.  The rules, in the order they apply:
 *
 *	1. demand: load metrics (concurrency, rps) ask for value / target
 *	   instances; quality metrics (p95_ms, error_rate) scale the current
 *	   capacity by value / target.  No rows: load reads 0 (traffic stopped),
 *	   quality holds.
 *	2. tolerance: within tolerance of the target, hold (as Kubernetes HPA).
 *	3. panic (as Knative): when the last tenth of the window demands at
 *	   least panic_threshold x current, scale out at once; while panicking
 *	   never scale in; panic ends when a full stable window passes without
 *	   the condition.
 *	4. stabilization (as HPA): scale in only to the highest desired value
 *	   seen within scale_in_stabilization.
 *	5. clamp to [max(min_capacity, floor), max_capacity]; max_capacity is
 *	   the hard ceiling, so a floor above it is cut to it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <limits.h>

#include "decide.h"

/*
 * The slack given float noise in a demand: 3 * 1.1 / 1.1 is
 * 3.0000000000000004, and 11 / 10 - 1 is 0.10000000000000009.
 */
#define DEMAND_SLACK	1e-9

/* Round a demand up to whole instances (3.0000000000000004 is 3). */
int
scaler_capacity_for(double demand)
{
	if (isnan(demand) || demand <= 0.0)
		return 0;
	if (demand >= (double) INT_MAX)
		return INT_MAX;
	return (int) ceil(demand - DEMAND_SLACK);
}

static double
demand_for(const ScalerDecideInput *in, double value)
{
	if (scaler_metric_is_load(in->metric))
		return value / in->target;
	/* a quality metric with rows but nothing running still has one server */
	return (double) Max(in->current, 1) * value / in->target;
}

/*
 * Record one desired value in the stabilization history and return the
 * highest value still inside the window.
 *
 * The history is a monotonic queue: entries are in time order with strictly
 * decreasing values, because an older entry no larger than a newer one can
 * never again be the maximum (the newer one stays in the window longer).
 * So the front entry is the maximum once expired entries are dropped.
 */
static int
history_push(ScalerDecideState *state, TimestampTz now, int64 window,
			 int desired)
{
	TimestampTz cutoff = now - window;
	int			expired = 0;
	int			n;

	while (expired < state->nhistory &&
		   state->history_at[expired] <= cutoff)
		expired++;
	if (expired > 0)
	{
		n = state->nhistory - expired;
		memmove(state->history_at, state->history_at + expired,
				n * sizeof(TimestampTz));
		memmove(state->history_desired, state->history_desired + expired,
				n * sizeof(int));
		state->nhistory = n;
	}

	n = state->nhistory;
	while (n > 0 && state->history_desired[n - 1] <= desired)
		n--;
	if (n == SCALER_HISTORY_MAX)
	{
		/*
		 * Full: stretch the newest entry (larger than desired) to now.  That
		 * may hold capacity a little longer than exact bookkeeping would,
		 * never shorter.
		 */
		state->history_at[n - 1] = now;
	}
	else
	{
		state->history_at[n] = now;
		state->history_desired[n] = desired;
		n++;
	}
	state->nhistory = n;

	return state->history_desired[0];
}

/*
 * Rule 5, the one place capacity is bounded: at least max(min_capacity,
 * floor), at most max_capacity, the hard ceiling (a floor above it is cut
 * to it).  *reason is set when a bound applies.
 */
int
scaler_clamp_capacity(int desired, int min_capacity, int max_capacity,
					  int floor, ScalerReason *reason)
{
	int			low = Max(min_capacity, floor);

	if (desired < low)
	{
		desired = low;
		*reason = floor > min_capacity ?
			SCALER_REASON_FLOOR : SCALER_REASON_MIN_CAPACITY;
	}
	if (desired > max_capacity)
	{
		desired = max_capacity;
		*reason = SCALER_REASON_MAX_CAPACITY;
	}
	return desired;
}

void
scaler_state_init(ScalerDecideState *state)
{
	memset(state, 0, sizeof(ScalerDecideState));
}

/*
 * Check a policy's settings: the one statement of these rules.  SQL reaches
 * it through scaler._settings_problem(), which scaler._check_policy (create,
 * alter, backtest overrides) and the policy table's CHECK constraint call.
 * Returns NULL when they are usable, else the name of the offending field
 * with *problem describing what is wrong ("<field> <problem>" is the error
 * message, SQLSTATE 22023).
 */
const char *
scaler_settings_check(const ScalerDecideInput *in, const char **problem)
{
	if (isnan(in->target) || isinf(in->target) || in->target <= 0.0)
	{
		*problem = "must be a finite number greater than zero";
		return "target";
	}
	if (in->stable_window <= 0)
	{
		*problem = "must be greater than zero";
		return "stable_window";
	}
	if (in->min_capacity < 0)
	{
		*problem = "must not be negative";
		return "min_capacity";
	}
	if (in->max_capacity < in->min_capacity)
	{
		*problem = "must not be less than min_capacity";
		return "max_capacity";
	}
	if (isnan(in->tolerance) || in->tolerance < 0.0 || in->tolerance >= 1.0)
	{
		*problem = "must be at least 0 and less than 1";
		return "tolerance";
	}
	if (in->scale_in_stabilization < 0)
	{
		*problem = "must not be negative";
		return "scale_in_stabilization";
	}
	if (isnan(in->panic_threshold) || isinf(in->panic_threshold) ||
		in->panic_threshold < 1.0)
	{
		*problem = "must be a finite number of at least 1";
		return "panic_threshold";
	}
	return NULL;
}

/*
 * Check the inputs of one decision: the settings, then what
 * scaler.desired_capacity() takes besides them.
 */
const char *
scaler_decide_check(const ScalerDecideInput *in, const char **problem)
{
	const char *field = scaler_settings_check(in, problem);

	if (field != NULL)
		return field;
	if (in->floor < 0)
	{
		*problem = "must not be negative";
		return "floor";
	}
	if (in->current < 0)
	{
		*problem = "must not be negative";
		return "current_capacity";
	}
	if (in->has_value && (isnan(in->value) || in->value < 0.0))
	{
		*problem = "must not be negative or NaN";
		return "value";
	}
	if (in->has_panic_value && (isnan(in->panic_value) || in->panic_value < 0.0))
	{
		*problem = "must not be negative or NaN";
		return "panic_value";
	}
	return NULL;
}

/*
 * Rules 1 and 2: the demand and the capacity it asks for, held at current
 * within tolerance.
 */
static int
decide_demand(const ScalerDecideInput *in, double *demand,
			  ScalerReason *reason)
{
	int			current = in->current;
	int			desired;

	if (scaler_metric_is_load(in->metric) && in->rows == 0)
	{
		*demand = 0.0;
		*reason = SCALER_REASON_NO_TRAFFIC;
		return 0;
	}
	if (!in->has_value || isnan(in->value))
	{
		*demand = current;
		*reason = SCALER_REASON_NO_DATA;
		return current;
	}
	*demand = demand_for(in, in->value);
	desired = scaler_capacity_for(*demand);
	*reason = SCALER_REASON_TARGET;

	/*
	 * From zero any demand counts.  The bound is within tolerance on either
	 * side: 11 against 10 holds at 0.1 as 9 does.
	 */
	if (current > 0 && desired != current &&
		fabs(*demand / current - 1.0) <= in->tolerance + DEMAND_SLACK)
	{
		desired = current;
		*reason = SCALER_REASON_TOLERANCE;
	}
	return desired;
}

/*
 * Rule 3: enter, stay in or leave panic, and while panicking raise desired
 * to the panic demand, the capacity panic reached so far and current.
 */
static int
decide_panic(const ScalerDecideInput *in, ScalerDecideState *state,
			 int desired, ScalerReason *reason)
{
	int			current = in->current;
	double		panic_demand = 0.0;
	bool		over = false;

	if (in->has_panic_value && !isnan(in->panic_value) && in->rows > 0)
	{
		panic_demand = demand_for(in, in->panic_value);
		over = panic_demand > 0.0 &&
			panic_demand >= in->panic_threshold * Max(current, 1);
	}
	if (over)
	{
		if (!state->panicking)
		{
			state->panicking = true;
			state->panic_capacity = 0;
		}
		state->panic_at = in->now;
	}
	else if (state->panicking && in->now - state->panic_at >= in->stable_window)
	{
		state->panicking = false;
		state->panic_capacity = 0;
	}
	if (state->panicking)
	{
		int			raised = desired;

		if (over)
			raised = Max(raised, scaler_capacity_for(panic_demand));
		raised = Max(raised, state->panic_capacity);
		raised = Max(raised, current);
		if (raised != desired)
		{
			desired = raised;
			*reason = SCALER_REASON_PANIC;
		}
	}
	return desired;
}

/*
 * Rule 4: record desired in the history (always, so that a scale-out is
 * remembered) and scale in no lower than the highest value in the window.
 */
static int
decide_stabilize(const ScalerDecideInput *in, ScalerDecideState *state,
				 int desired, ScalerReason *reason)
{
	int			current = in->current;
	int			highest = history_push(state, in->now,
									   in->scale_in_stabilization, desired);

	if (desired < current)
	{
		int			limited = Min(current, highest);

		if (limited > desired)
		{
			desired = limited;
			*reason = SCALER_REASON_STABILIZATION;
		}
	}
	return desired;
}

/* The five rules of the file's header, in their order. */
void
scaler_decide(const ScalerDecideInput *in, ScalerDecideState *state,
			  ScalerDecision *out)
{
	int			desired;
	ScalerReason reason;
	double		demand;

	desired = decide_demand(in, &demand, &reason);
	desired = decide_panic(in, state, desired, &reason);
	desired = decide_stabilize(in, state, desired, &reason);
	desired = scaler_clamp_capacity(desired, in->min_capacity,
									in->max_capacity, in->floor, &reason);

	if (state->panicking)
		state->panic_capacity = desired;

	out->desired = desired;
	out->reason = reason;
	out->panicking = state->panicking;
	out->demand = demand;
}

const char *
scaler_reason_name(ScalerReason reason)
{
	switch (reason)
	{
		case SCALER_REASON_TARGET:
			return "target";
		case SCALER_REASON_TOLERANCE:
			return "tolerance";
		case SCALER_REASON_NO_DATA:
			return "no_data";
		case SCALER_REASON_NO_TRAFFIC:
			return "no_traffic";
		case SCALER_REASON_PANIC:
			return "panic";
		case SCALER_REASON_STABILIZATION:
			return "stabilization";
		case SCALER_REASON_MIN_CAPACITY:
			return "min_capacity";
		case SCALER_REASON_MAX_CAPACITY:
			return "max_capacity";
		case SCALER_REASON_FLOOR:
			return "floor";
		case SCALER_REASON_KEEP_ALIVE:
			return "keep_alive";
		case SCALER_REASON_PREWARM:
			return "prewarm";
	}
	return "unknown";
}
