/*-------------------------------------------------------------------------
 *
 * source.c
 *	  Reading request-log rows from a source the caller names.
 *
 * A source is any table or view with the columns of the source contract
 * (ts timestamptz, function_name text, duration_ms, status).  It is read
 * through SPI as the calling user, so table and column privileges and
 * row-level security all apply exactly as for the caller's own SELECT.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "hourly.h"
#include "rollup.h"
#include "source.h"

typedef struct SourceColumn
{
	const char *name;
	const Oid  *types;			/* accepted types, InvalidOid-terminated */
	const char *expected;		/* for the error message */
} SourceColumn;

static const Oid ts_types[] = {TIMESTAMPTZOID, InvalidOid};
static const Oid duration_types[] = {FLOAT8OID, FLOAT4OID, NUMERICOID, INT8OID,
INT4OID, INT2OID, InvalidOid};
static const Oid status_types[] = {INT4OID, INT2OID, INT8OID, InvalidOid};
static const Oid name_types[] = {TEXTOID, VARCHAROID, BPCHAROID, NAMEOID, InvalidOid};

static const SourceColumn source_columns[] = {
	{"ts", ts_types, "timestamp with time zone"},
	{"duration_ms", duration_types, "a numeric type"},
	{"status", status_types, "an integer type"},
	{"function_name", name_types, "text"},
};

/*
 * Whether a source may have type for column: the one list, also behind
 * scaler._check_policy (through scaler._column_type_ok).
 */
bool
source_column_accepts(const char *column, Oid type)
{
	int			i;
	const Oid  *accepted;

	for (i = 0; i < lengthof(source_columns); i++)
		if (strcmp(source_columns[i].name, column) == 0)
		{
			for (accepted = source_columns[i].types; *accepted != InvalidOid; accepted++)
				if (*accepted == type)
					return true;
			return false;
		}
	return false;
}

/*
 * Read as role (a policy's owner, a table's owner) from here to
 * scaler_end_role: as ANALYZE does, in a security-restricted operation
 * with search_path = pg_catalog, pg_temp and in a GUC nest level of its
 * own, so that whatever settings role's code changes (a function of a view
 * that runs set_config(..., false)) are undone when the read ends and
 * cannot follow the caller (a search_path for a superuser's next query,
 * default_transaction_read_only for the worker's next tick).  An error
 * restores the user and the settings at (sub)transaction abort.
 */
void
scaler_become_role(Oid role, ScalerOwnerScope *scope)
{
	GetUserIdAndSecContext(&scope->userid, &scope->sec_context);
	SetUserIdAndSecContext(role,
						   scope->sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	scope->guc_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
}

/* Back to the caller and its settings. */
void
scaler_end_role(ScalerOwnerScope *scope)
{
	AtEOXact_GUC(false, scope->guc_nestlevel);
	SetUserIdAndSecContext(scope->userid, scope->sec_context);
}

/*
 * Check that relid has the columns we read, of usable types, and that the
 * user may read them.  Errors name the column and the relation.
 *
 * The relation is locked first, until the end of the transaction: the OID
 * came from a regclass looked up without a lock, and a concurrent DROP or
 * RENAME must not change what the checks were made on before the rows are
 * read.  (Locking takes in the invalidation of a DROP committed while we
 * waited, so the test for a vanished relation comes after it.)
 */
void
source_check(Oid relid, bool need_function_name, Oid userid)
{
	char	   *relname;
	bool		table_select;
	int			ncolumns = need_function_name ? 4 : 3;
	int			i;

	LockRelationOid(relid, AccessShareLock);
	relname = get_rel_name(relid);
	if (relname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("source relation with OID %u does not exist", relid)));

	table_select = pg_class_aclcheck(relid, userid, ACL_SELECT) == ACLCHECK_OK;
	for (i = 0; i < ncolumns; i++)
	{
		const SourceColumn *column = &source_columns[i];
		AttrNumber	attnum = get_attnum(relid, column->name);
		Oid			type;
		const Oid  *accepted;

		if (attnum == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("source \"%s\" has no column \"%s\"",
							relname, column->name),
					 errhint("A source needs columns ts timestamptz, function_name text, duration_ms float8 and status int; a view can rename yours.")));
		type = get_atttype(relid, attnum);
		for (accepted = column->types; *accepted != InvalidOid; accepted++)
			if (*accepted == type)
				break;
		if (*accepted == InvalidOid)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of source \"%s\" has type %s, expected %s",
							column->name, relname, format_type_be(type),
							column->expected)));
		if (!table_select &&
			pg_attribute_aclcheck(relid, attnum, userid, ACL_SELECT) != ACLCHECK_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for source \"%s\"", relname),
					 errdetail("Reading it needs SELECT on column \"%s\".",
							   column->name)));
	}
}

/* "since is ..., until is ...": each copied, as timestamptz_to_str reuses one buffer. */
static int
window_detail(TimestampTz since, TimestampTz until)
{
	char	   *since_str = pstrdup(timestamptz_to_str(since));
	char	   *until_str = pstrdup(timestamptz_to_str(until));

	return errdetail("since is %s, until is %s.", since_str, until_str);
}

/* A window of rows to read: finite, and since before until. */
void
source_check_window(TimestampTz since, TimestampTz until)
{
	if (TIMESTAMP_NOT_FINITE(since) || TIMESTAMP_NOT_FINITE(until))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("since and until must be finite")));
	if (since >= until)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("since must be earlier than until"),
				 window_detail(since, until)));
}

/*
 * A window to report hour by hour: as source_check_window, and no longer
 * than SOURCE_MAX_REPORT_YEARS (rows are streamed, but a report of
 * centuries of empty hours is a mistake better caught early).
 */
void
source_check_report_range(TimestampTz since, TimestampTz until)
{
	source_check_window(since, until);
	if ((double) until - (double) since >
		SOURCE_MAX_REPORT_YEARS * DAYS_PER_YEAR * (double) USECS_PER_DAY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("report range is longer than %d years", SOURCE_MAX_REPORT_YEARS),
				 window_detail(since, until)));
}

/*
 * Whether the user may read the columns source_check checks, in a schema it
 * may use (the same test, without an error, and the schema check a query
 * naming the table would make: a read through a rollup runs no query as
 * the user).
 */
bool
source_readable(Oid relid, bool need_function_name, Oid userid)
{
	int			ncolumns = need_function_name ? 4 : 3;
	int			i;

	if (pg_namespace_aclcheck(get_rel_namespace(relid), userid, ACL_USAGE) != ACLCHECK_OK)
		return false;
	if (pg_class_aclcheck(relid, userid, ACL_SELECT) == ACLCHECK_OK)
		return true;
	for (i = 0; i < ncolumns; i++)
	{
		AttrNumber	attnum = get_attnum(relid, source_columns[i].name);

		if (attnum == InvalidAttrNumber ||
			pg_attribute_aclcheck(relid, attnum, userid, ACL_SELECT) != ACLCHECK_OK)
			return false;
	}
	return true;
}

/*
 * traffic_agg of the raw rows of [since, until), as the current user.  The
 * relation is locked (source_check), so its name is still its own.
 */
static Traffic *
source_traffic_raw(Oid relid, TimestampTz since, TimestampTz until,
				   text *function_name)
{
	MemoryContext caller = CurrentMemoryContext;
	StringInfoData query;
	Oid			argtypes[3] = {TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	int			nargs = function_name != NULL ? 3 : 2;
	Traffic    *traffic = NULL;
	bool		isnull;
	Datum		result;
	int			ret;

	initStringInfo(&query);
	appendStringInfo(&query,
					 "SELECT scaler.traffic_agg(ts, duration_ms::pg_catalog.float8, "
					 SOURCE_STATUS_AS_INT4("status") ") FROM %s"
					 " WHERE ts OPERATOR(pg_catalog.>=) $1"
					 " AND ts OPERATOR(pg_catalog.<) $2",
					 quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
												get_rel_name(relid)));
	if (function_name != NULL)
		appendStringInfoString(&query,
							   " AND function_name::pg_catalog.text OPERATOR(pg_catalog.=) $3");
	values[0] = TimestampTzGetDatum(since);
	values[1] = TimestampTzGetDatum(until);
	values[2] = PointerGetDatum(function_name);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* No row limit: a limit would keep the executor from going parallel. */
	ret = SPI_execute_with_args(query.data, nargs, argtypes, values, nulls,
								true, 0);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "reading source failed: %s", SPI_result_code_string(ret));
	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
		traffic = traffic_copy_into(result, caller);
	SPI_finish();
	return traffic;
}

/* Add a part of a value (NULL: no rows, nothing to add). */
static void
add_value_part(HourPart *parts, int *nparts, Traffic *traffic)
{
	if (traffic == NULL)
		return;
	parts[*nparts].traffic = traffic;
	parts[*nparts].flat = (Datum) 0;
	parts[*nparts].first_quarter = PG_INT64_MIN;
	parts[*nparts].end_quarter = PG_INT64_MAX;
	(*nparts)++;
}

/*
 * The rows of [since, until) (of one function, when given) as parts of a
 * report, in time order (hourly.h), owned by the current memory context.
 * Where the source has a rollup the caller may use (rollup.c), its slots
 * stand in for the rows they cover, each slot a part read straight from its
 * bytes; the raw rows of the rest (the partial quarters at since, the days
 * invalidated, the tail past the watermark) are values between them.  The
 * report is the same, bit for bit: every figure of an hour is a sum, a
 * maximum or a sketch, whatever the order its rows come in.
 */
HourPart *
source_hour_parts(Oid relid, TimestampTz since, TimestampTz until,
				  text *function_name, int *nparts)
{
	RollupCover cover;
	HourPart   *parts;
	int			r = 0;
	int			d = 0;

	*nparts = 0;
	source_check(relid, function_name != NULL, GetUserId());
	if (!rollup_cover_days(relid, since, until,
						   function_name ? text_to_cstring(function_name) : NULL,
						   GetUserId(), &cover))
	{
		parts = palloc(sizeof(HourPart));
		add_value_part(parts, nparts,
					   source_traffic_raw(relid, since, until, function_name));
		return parts;
	}

	/* The raw ranges and the slots do not overlap: order them by start. */
	parts = palloc(sizeof(HourPart) * (cover.nranges + cover.ndays + 1));
	while (r < cover.nranges || d < cover.ndays)
	{
		CHECK_FOR_INTERRUPTS();
		if (d < cover.ndays &&
			(r == cover.nranges || cover.day_from[d] < cover.from[r]))
		{
			parts[*nparts].traffic = NULL;
			parts[*nparts].flat = cover.day_values[d++];
			parts[*nparts].first_quarter = cover.first_quarter;
			parts[*nparts].end_quarter = cover.end_quarter;
			(*nparts)++;
		}
		else
		{
			add_value_part(parts, nparts,
						   source_traffic_raw(relid, cover.from[r], cover.until[r],
											  function_name));
			r++;
		}
	}
	return parts;
}
