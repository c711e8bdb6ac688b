/*-------------------------------------------------------------------------
 *
 * evaluate.h
 *	  Evaluating policies: read each policy's metric window, decide, record
 *	  the decision and wake listeners.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCALER_EVALUATE_H
#define SCALER_EVALUATE_H

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

/* One recorded decision and the NOTIFY that announces it. */
typedef struct ScalerWakeup
{
	int64		id;
	char	   *channel;
	char	   *payload;
} ScalerWakeup;

extern List *scaler_evaluate_policies(const char *only, bool notify_now,
									  MemoryContext result_cxt);
extern List *scaler_evaluate_policies_at(const char *only, bool notify_now,
										 MemoryContext result_cxt,
										 TimestampTz now);
extern void scaler_send_wakeups(List *wakeups);
extern long scaler_window_plan_count(void);

#endif							/* SCALER_EVALUATE_H */
