/*-------------------------------------------------------------------------
 *
 * rollup.h
 *	  Rollups of a source: the slots a reader may use, and the worker's
 *	  refresh.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCALER_ROLLUP_H
#define SCALER_ROLLUP_H

#include "traffic.h"

/* The most raw ranges a cover asks for (the rest of a range is in slots). */
#define ROLLUP_MAX_RANGES	64

/*
 * What a reader of [since, until) does with a rollup: merge slots (NULL
 * when none), and read the ranges[] from the raw rows.
 */
typedef struct RollupCover
{
	Traffic    *slots;
	int			nranges;
	TimestampTz from[ROLLUP_MAX_RANGES];
	TimestampTz until[ROLLUP_MAX_RANGES];

	/*
	 * Of rollup_cover_days: the valid slots one by one instead of slots,
	 * in time order.  Slot i holds the rows from day_from[i] in its values
	 * (as stored, maybe a toast pointer), of which only the quarters
	 * [first_quarter, end_quarter) belong to the range.
	 */
	int			ndays;
	TimestampTz *day_from;
	Datum	   *day_values;
	int64		first_quarter;
	int64		end_quarter;
} RollupCover;

extern bool rollup_cover(Oid relid, TimestampTz since, TimestampTz until,
						 const char *function_name, Oid userid,
						 RollupCover *cover);
extern bool rollup_cover_days(Oid relid, TimestampTz since, TimestampTz until,
							  const char *function_name, Oid userid,
							  RollupCover *cover);
extern void scaler_refresh_rollups(void);
extern void scaler_maintain_request_log(void);

/* rollup_read.c: a source row r's duration and status, as a value takes them */
extern void rollup_append_row_values(StringInfo sql, bool named);

#endif							/* SCALER_ROLLUP_H */
