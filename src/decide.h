/*-------------------------------------------------------------------------
 *
 * decide.h
 *	  The scaling rules: target tracking, ratio, tolerance, panic mode,
 *	  scale-in stabilization and clamping, as pure functions over plain
 *	  structs.
 *
 * Nothing here touches SPI or the catalogs, so the background worker,
 * scaler.evaluate(), scaler.desired_capacity() and a replay over history
 * (scaler.backtest) all run exactly the same rules.  Everything a rule must
 * remember between evaluations (panic mode, the stabilization history)
 * lives in ScalerDecideState, which the caller keeps and passes back in.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCALER_DECIDE_H
#define SCALER_DECIDE_H

#include "datatype/timestamp.h"

#include "metric.h"

/* Which rule settled the outcome (see scaler_reason_name for the text). */
typedef enum ScalerReason
{
	SCALER_REASON_TARGET,		/* target tracking / ratio */
	SCALER_REASON_TOLERANCE,	/* within tolerance of the target: hold */
	SCALER_REASON_NO_DATA,		/* no usable value: hold */
	SCALER_REASON_NO_TRAFFIC,	/* load metric, no rows: demand is zero */
	SCALER_REASON_PANIC,		/* panic mode raised or held capacity */
	SCALER_REASON_STABILIZATION,	/* scale-in limited by recent demand */
	SCALER_REASON_MIN_CAPACITY,
	SCALER_REASON_MAX_CAPACITY,
	SCALER_REASON_FLOOR,		/* an active capacity floor */
	SCALER_REASON_KEEP_ALIVE,	/* keepalive.c: one instance kept warm */
	SCALER_REASON_PREWARM		/* keepalive.c: one instance warmed early */
} ScalerReason;

/*
 * Bound on the stabilization history.  The history is a monotonic queue
 * (strictly decreasing desired values), so it only needs one entry per
 * distinct falling step inside the window; when it is full, the newest entry
 * is stretched instead of appending, which can only hold capacity longer
 * (the safe direction).
 */
#define SCALER_HISTORY_MAX 32

typedef struct ScalerDecideState
{
	bool		panicking;
	TimestampTz panic_at;		/* last time the panic condition held */
	int			panic_capacity; /* highest capacity chosen while panicking */
	int			nhistory;
	TimestampTz history_at[SCALER_HISTORY_MAX];
	int			history_desired[SCALER_HISTORY_MAX];
} ScalerDecideState;

typedef struct ScalerDecideInput
{
	ScalerMetric metric;
	double		target;			/* per instance (load) or goal (quality) */
	double		tolerance;		/* hold within this fraction of target */
	double		panic_threshold;	/* panic at >= this x current demand */
	int64		stable_window;	/* microseconds */
	int64		scale_in_stabilization; /* microseconds */
	int			min_capacity;
	int			max_capacity;
	int			floor;			/* active capacity floor; 0 when none */
	int			current;		/* capacity running now */
	TimestampTz now;
	int64		rows;			/* rows in the stable window */
	bool		has_value;		/* false: the metric is undefined */
	double		value;			/* metric over the stable window */
	bool		has_panic_value;
	double		panic_value;	/* metric over the last tenth of the window */
} ScalerDecideInput;

typedef struct ScalerDecision
{
	int			desired;
	ScalerReason reason;
	bool		panicking;
	double		demand;			/* unrounded capacity the metric asks for */
} ScalerDecision;

extern void scaler_state_init(ScalerDecideState *state);
extern int	scaler_capacity_for(double demand);
extern int	scaler_clamp_capacity(int desired, int min_capacity,
								  int max_capacity, int floor,
								  ScalerReason *reason);
extern const char *scaler_settings_check(const ScalerDecideInput *in,
										 const char **problem);
extern const char *scaler_decide_check(const ScalerDecideInput *in,
									   const char **problem);
extern void scaler_decide(const ScalerDecideInput *in,
						  ScalerDecideState *state,
						  ScalerDecision *out);
extern const char *scaler_reason_name(ScalerReason reason);

#endif							/* SCALER_DECIDE_H */
