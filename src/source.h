/*-------------------------------------------------------------------------
 *
 * source.h
 *	  Reading request-log rows from a source the caller names.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCALER_SOURCE_H
#define SCALER_SOURCE_H

#include "traffic.h"

/* What scaler_become_role changed, for scaler_end_role to put back. */
typedef struct ScalerOwnerScope
{
	Oid			userid;
	int			sec_context;
	int			guc_nestlevel;
} ScalerOwnerScope;

extern void scaler_become_role(Oid role, ScalerOwnerScope *scope);
extern void scaler_end_role(ScalerOwnerScope *scope);

/*
 * A source's status column (of any integer type) as traffic_agg takes it:
 * a value keeps only whether a row is an error (500 or more), so a status
 * beyond int4 counts as one or not, as evaluation counts it, instead of
 * failing the cast.  Its operators are qualified: capture triggers run it
 * under the writer's search_path.
 */
#define SOURCE_STATUS_AS_INT4(column) \
	"CASE WHEN " column " OPERATOR(pg_catalog.>=) 500 THEN 500" \
	" WHEN " column " OPERATOR(pg_catalog.<) 500 THEN 0 END"

extern void source_check(Oid relid, bool need_function_name, Oid userid);
extern bool source_readable(Oid relid, bool need_function_name, Oid userid);
extern bool source_column_accepts(const char *column, Oid type);
extern void source_check_window(TimestampTz since, TimestampTz until);
/* The longest range hourly_requests reports from a source. */
#define SOURCE_MAX_REPORT_YEARS	100

extern void source_check_report_range(TimestampTz since, TimestampTz until);
struct HourPart;
extern struct HourPart *source_hour_parts(Oid relid, TimestampTz since,
										  TimestampTz until,
										  text *function_name, int *nparts);

#endif							/* SCALER_SOURCE_H */
