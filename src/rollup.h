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
} RollupCover;

extern bool rollup_cover(Oid relid, TimestampTz since, TimestampTz until,
						 const char *function_name, Oid userid,
						 RollupCover *cover);
extern void scaler_refresh_rollups(void);
extern void scaler_maintain_request_log(void);

#endif							/* SCALER_ROLLUP_H */
