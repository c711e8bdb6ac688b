/*-------------------------------------------------------------------------
 *
 * keepalive.c
 *	  Keep-alive and pre-warm, pure: no SPI, no catalog access, no
 *	  allocation.
 *
 * Runs after the rules of decide.c, on their outcome, and only ever raises
 * a decision of zero instances to one: it never takes capacity the load
 * asked for.  Time is counted in the policy's steps: a step "has requests"
 * when its window (now - stable_window, now] held rows, and the idle time
 * before a step with requests is the time since the end of the previous
 * step with requests, less one window (so back-to-back steps with requests
 * have an idle time of zero).  At a decision at now, if the next step has
 * requests its idle time will be now - last_active_at; one instance is
 * kept warm for that step when that idle time lies in the warm window:
 *
 *	fixed keep_alive K: [0, K): after the last request, an instance stays
 *	   at least K before the policy scales to zero (reason keep_alive);
 *	auto: from the histogram of the function's idle times (one-minute bins
 *	   over 4 hours), the hybrid-histogram rule: the head (5th percentile)
 *	   and tail (99th percentile) of the idle times, with margins (the head
 *	   less 5%, at least a minute; the tail plus 10%, at least a minute).
 *	   A head above zero unloads after a request and pre-warms one instance
 *	   shortly before the next one is due (reason prewarm); a head of zero
 *	   keeps the instance until the tail (reason keep_alive).  While the
 *	   histogram is not representative (fewer than SCALER_IDLE_MIN_SAMPLES
 *	   idle times, more than SCALER_IDLE_MAX_OOB of them beyond 4 hours, a
 *	   tail beyond the range, or a warm window wider than
 *	   SCALER_IDLE_MAX_SPREAD, which would keep an instance warm through
 *	   most of a spread-out gap), a fixed keep-alive of
 *	   SCALER_KEEPALIVE_FALLBACK is used instead.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"

#include "keepalive.h"

void
scaler_keepalive_init(ScalerKeepAliveState *state)
{
	memset(state, 0, sizeof(ScalerKeepAliveState));
}

/*
 * How many steps of stable_window the warm-up before since holds: those of
 * SCALER_KEEPALIVE_WARMUP, whole steps so that the step boundaries stay
 * where they are, at most SCALER_KEEPALIVE_WARMUP_STEPS, none when they
 * would reach before the timestamp range.
 * The replay warms up before its since; live evaluation at now before the
 * window it reads, since = now - stable_window, so that both learn from the
 * same steps.
 */
int64
scaler_keepalive_warmup_steps(TimestampTz since, int64 stable_window)
{
	int64		nsteps;

	if (stable_window <= 0)
		return 0;
	nsteps = Min(SCALER_KEEPALIVE_WARMUP / stable_window,
				 SCALER_KEEPALIVE_WARMUP_STEPS);
	/* (nsteps * stable_window is at most a day: no overflow there) */
	if (since <= MIN_TIMESTAMP + nsteps * stable_window)
		return 0;
	return nsteps;
}

/*
 * Learn from the warm-up: nsteps steps of stable_window, step k (0-based)
 * ending at start + (k + 1) * stable_window and having had requests when
 * active[k].  The replay (backtest.c) and live evaluation's first use of
 * 'auto' (evaluate.c) both learn through here.
 */
void
scaler_keepalive_warm_up(ScalerKeepAliveState *state, TimestampTz start,
						 int64 stable_window, const bool *active,
						 int64 nsteps)
{
	int64		k;

	for (k = 0; k < nsteps; k++)
	{
		scaler_keepalive_observe(state, start + (k + 1) * stable_window,
								 stable_window, active[k] ? 1 : 0);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * Account for one window ending at now: when it had requests, it is the
 * latest window with requests (the keep-alive counts from its end), and a
 * step that records the idle time since the previous step with requests,
 * unless it overlaps that step: its rows may be that step's.  The replay's
 * windows are its steps and never overlap; live evaluation's overlap
 * whenever the worker evaluates more often than once a stable_window
 * (every 5 s, say, with a one-minute window), and counting each of them as
 * a step would record a request once per tick that saw it, with made-up
 * idle times of zero.  So live evaluation's steps are counted a
 * stable_window apart, as the replay's (the ticks decide where each one
 * ends), while the keep-alive still counts from the latest request seen:
 * a tick a little early (pg_cron's, or the worker's drifting ones) skips a
 * step, not the request in it.  A stale evaluation changes nothing.
 */
void
scaler_keepalive_observe(ScalerKeepAliveState *state, TimestampTz now,
						 int64 stable_window, int64 rows)
{
	int64		total = 0;
	int			i;

	if (rows <= 0)
		return;
	if (!state->has_last || now > state->last_active_at)
	{
		state->has_last = true;
		state->last_active_at = now;
	}
	if (state->has_step && now - stable_window < state->last_step_at)
		return;
	if (state->has_step)
	{
		int64		idle;

		idle = now - stable_window - state->last_step_at;
		if (idle >= (int64) SCALER_IDLE_BINS * SCALER_IDLE_BIN_USECS)
			state->oob++;
		else
			state->counts[idle / SCALER_IDLE_BIN_USECS]++;

		/* let old idle times fade: halve everything at the bound */
		total = state->oob;
		for (i = 0; i < SCALER_IDLE_BINS; i++)
			total += state->counts[i];
		if (total >= SCALER_IDLE_MAX_TOTAL)
		{
			state->oob /= 2;
			for (i = 0; i < SCALER_IDLE_BINS; i++)
				state->counts[i] /= 2;
		}
	}
	state->has_step = true;
	state->last_step_at = now;
}

/* The fixed window [0, usecs). */
static void
fixed_window(int64 usecs, ScalerWarmWindow *w)
{
	w->learned = false;
	w->from = 0;
	w->until = Max(usecs, 0);
}

/*
 * The warm window: when, counted from the end of the last step with
 * requests, one instance should be warm.
 */
void
scaler_keepalive_window(const ScalerKeepAlive *ka,
						const ScalerKeepAliveState *state,
						ScalerWarmWindow *w)
{
	int64		total;
	int64		cum;
	int			head = -1;
	int			tail = -1;
	int64		from;
	int64		until;
	int			i;

	switch (ka->mode)
	{
		case SCALER_KEEPALIVE_NONE:
			fixed_window(0, w);
			return;
		case SCALER_KEEPALIVE_FIXED:
			fixed_window(ka->keep_alive, w);
			return;
		case SCALER_KEEPALIVE_AUTO:
			break;
	}

	total = state->oob;
	for (i = 0; i < SCALER_IDLE_BINS; i++)
		total += state->counts[i];
	if (total < SCALER_IDLE_MIN_SAMPLES ||
		(double) state->oob > SCALER_IDLE_MAX_OOB * (double) total)
	{
		fixed_window(SCALER_KEEPALIVE_FALLBACK, w);
		return;
	}

	/* the first bins reaching 5% and 99% of all idle times */
	cum = 0;
	for (i = 0; i < SCALER_IDLE_BINS && tail < 0; i++)
	{
		cum += state->counts[i];
		if (head < 0 && (double) cum >= 0.05 * (double) total)
			head = i;
		if ((double) cum >= 0.99 * (double) total)
			tail = i;
	}
	if (head < 0 || tail < 0)
	{
		fixed_window(SCALER_KEEPALIVE_FALLBACK, w);
		return;
	}

	from = (int64) head * SCALER_IDLE_BIN_USECS;
	from -= Max(SCALER_IDLE_BIN_USECS, from / 20);
	until = (int64) (tail + 1) * SCALER_IDLE_BIN_USECS;
	until += Max(SCALER_IDLE_BIN_USECS, until / 10);
	from = Max(from, 0);
	if (until - from > SCALER_IDLE_MAX_SPREAD)
	{
		fixed_window(SCALER_KEEPALIVE_FALLBACK, w);
		return;
	}
	w->learned = true;
	w->from = from;
	w->until = until;
}

/*
 * Raise a decision of zero instances to one when the next step falls in
 * the warm window.  Floors, min_capacity and demand above zero are left to
 * decide.c; max_capacity 0 is respected.
 */
void
scaler_keepalive_apply(const ScalerKeepAlive *ka,
					   const ScalerKeepAliveState *state,
					   const ScalerDecideInput *in, ScalerDecision *out)
{
	ScalerWarmWindow w;
	int64		idle;

	if (ka->mode == SCALER_KEEPALIVE_NONE || out->desired >= 1 ||
		in->max_capacity < 1 || !state->has_last)
		return;
	idle = in->now - state->last_active_at;
	if (idle < 0)
		return;
	scaler_keepalive_window(ka, state, &w);
	if (idle >= w.from && idle < w.until)
	{
		out->desired = 1;
		out->reason = (w.learned && w.from > 0) ?
			SCALER_REASON_PREWARM : SCALER_REASON_KEEP_ALIVE;
	}
}
