/*-------------------------------------------------------------------------
 *
 * keepalive.h
 *	  Keep-alive and pre-warm: how long one instance stays warm after the
 *	  load stops, fixed or learned from a function's idle times (a hybrid
 *	  histogram, as in Shahrad et al., "Serverless in the Wild", ATC 2020).
 *
 * Pure, like decide.c: live evaluation and the replay (scaler.backtest)
 * feed the same state the same steps and get the same decisions.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCALER_KEEPALIVE_H
#define SCALER_KEEPALIVE_H

#include "datatype/timestamp.h"

#include "decide.h"

/* Idle times are kept in one-minute bins over 4 hours (about 1 KB). */
#define SCALER_IDLE_BINS		240
#define SCALER_IDLE_BIN_USECS	USECS_PER_MINUTE

/* Fewer idle times than this: the histogram is not representative yet. */
#define SCALER_IDLE_MIN_SAMPLES 10

/* More than this share of idle times beyond the range: not representative. */
#define SCALER_IDLE_MAX_OOB		0.1

/*
 * A warm window (from the head to the tail of the idle times) wider than
 * this is not worth holding an instance for: the fixed keep-alive is used.
 */
#define SCALER_IDLE_MAX_SPREAD	(30 * USECS_PER_MINUTE)

/* When the counts reach this total they are halved: old idle times fade. */
#define SCALER_IDLE_MAX_TOTAL	100000

/* What 'auto' falls back to while the histogram is not representative. */
#define SCALER_KEEPALIVE_FALLBACK	(10 * USECS_PER_MINUTE)

/*
 * How much history before since a replay with a keep-alive learns from: a
 * day, or its last SCALER_KEEPALIVE_WARMUP_STEPS steps of a stable_window
 * shorter than 86.4 ms, so that the warm-up costs no more than the longest
 * replay (a day of 1-microsecond steps would be 86 billion of them).
 */
#define SCALER_KEEPALIVE_WARMUP		USECS_PER_DAY
#define SCALER_KEEPALIVE_WARMUP_STEPS	1000000

typedef enum ScalerKeepAliveMode
{
	SCALER_KEEPALIVE_NONE,		/* today's rules alone */
	SCALER_KEEPALIVE_FIXED,		/* hold one instance for a fixed time */
	SCALER_KEEPALIVE_AUTO		/* learned from the idle-time histogram */
} ScalerKeepAliveMode;

typedef struct ScalerKeepAlive
{
	ScalerKeepAliveMode mode;
	int64		keep_alive;		/* microseconds, for SCALER_KEEPALIVE_FIXED */
} ScalerKeepAlive;

typedef struct ScalerKeepAliveState
{
	bool		has_last;		/* a window with requests was seen */
	TimestampTz last_active_at; /* end of the latest window with requests */
	bool		has_step;		/* a step with requests was counted */
	TimestampTz last_step_at;	/* end of the last step counted */
	int32		oob;			/* idle times beyond the histogram's range */
	int32		counts[SCALER_IDLE_BINS];
} ScalerKeepAliveState;

/* The warm window after a request, in microseconds from its step's end. */
typedef struct ScalerWarmWindow
{
	bool		learned;		/* from the histogram, else the fallback */
	int64		from;			/* warm when from <= idle time ... */
	int64		until;			/* ... < until */
} ScalerWarmWindow;

extern void scaler_keepalive_init(ScalerKeepAliveState *state);
extern int64 scaler_keepalive_warmup_steps(TimestampTz since,
										   int64 stable_window);
extern void scaler_keepalive_warm_up(ScalerKeepAliveState *state,
									 TimestampTz start, int64 stable_window,
									 const bool *active, int64 nsteps);
extern void scaler_keepalive_observe(ScalerKeepAliveState *state,
									 TimestampTz now, int64 stable_window,
									 int64 rows);
extern void scaler_keepalive_window(const ScalerKeepAlive *ka,
									const ScalerKeepAliveState *state,
									ScalerWarmWindow *window);
extern void scaler_keepalive_apply(const ScalerKeepAlive *ka,
								   const ScalerKeepAliveState *state,
								   const ScalerDecideInput *in,
								   ScalerDecision *out);

#endif							/* SCALER_KEEPALIVE_H */
