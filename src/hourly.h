/*-------------------------------------------------------------------------
 *
 * hourly.h
 *	  Gap-filled hourly rows of a traffic value.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCALER_HOURLY_H
#define SCALER_HOURLY_H

#include "traffic.h"

/* One local hour, gap-filled: the figures every hourly output is made of. */
typedef struct HourRow
{
	TimestampTz start;
	int32		minutes;		/* the bucket's length (or the part in range) */
	int64		requests;
	int64		peak_rpm;
	double		sum_ms;
	double		peak_minute_ms;
	TrafficHour *hour;			/* errors, durations; NULL if none */
} HourRow;

extern HourRow *traffic_hour_rows(Traffic *traffic, TimestampTz since,
								  TimestampTz until, int *nrows);
extern HourRow *traffic_all_hour_rows(Traffic *traffic, int *nrows);

#endif							/* SCALER_HOURLY_H */
