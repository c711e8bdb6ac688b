/*-------------------------------------------------------------------------
 *
 * rollup_read.c
 *	  What a rollup's refresh and the adoption of a new partition read of a
 *	  source table: read as the table's owner, never as the extension's.
 *
 * The refresh runs as the extension's owner (a superuser), which it needs
 * to write the rollup tables.  Planning a query on a table evaluates code
 * its owner wrote: the constant parts of index expressions, the CHECK
 * constraints of partitions (constraint exclusion), partial-index
 * predicates.  An IMMUTABLE function of the owner's in one of those would
 * run with the superuser's rights.  So, as PostgreSQL's ANALYZE and
 * REINDEX do, the rows are read as the table's owner in a
 * security-restricted operation, and only what they sum to comes back to
 * the caller, who writes it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "rollup.h"
#include "source.h"
#include "traffic.h"

PG_FUNCTION_INFO_V1(scaler_rollup_first_ts);
PG_FUNCTION_INFO_V1(scaler_rollup_read);

/*
 * The table's name for a query, after checking that it is a table
 * (partitioned or not) and that its owner exists.
 */
static char *
source_name(Oid relid, Oid *owner)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Form_pg_class form;
	char	   *name;

	if (!HeapTupleIsValid(tuple))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	form = (Form_pg_class) GETSTRUCT(tuple);
	if (form->relkind != RELKIND_RELATION &&
		form->relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", NameStr(form->relname)),
				 errdetail("A rollup reads only tables and partitioned tables.")));
	*owner = form->relowner;
	name = quote_qualified_identifier(get_namespace_name(form->relnamespace),
									  NameStr(form->relname));
	ReleaseSysCache(tuple);
	return name;
}

/*
 * Run a read-only query as a table's owner (scaler_become_role).  The
 * result is in SPI_tuptable until the caller's SPI_finish.
 */
static void
execute_as_owner(Oid owner, const char *sql, int nargs, Oid *argtypes,
				 Datum *args, const char *nulls)
{
	ScalerOwnerScope scope;
	int			ret;

	scaler_become_role(owner, &scope);
	ret = SPI_execute_with_args(sql, nargs, argtypes, args, nulls, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading a rollup source failed: %s",
			 SPI_result_code_string(ret));
	scaler_end_role(&scope);
}

/*
 * A source row r's duration and status as a traffic value takes them, two
 * expressions (named ms and st if asked): a duration the value cannot hold
 * is NULL (the row still counts; reading it raw reports it), a status is
 * whether it is an error (SOURCE_STATUS_AS_INT4, as a raw read takes it).
 * Every operator is qualified: the capture
 * trigger runs this under the writer's search_path (no literal is negated,
 * which is an operator too).
 */
void
rollup_append_row_values(StringInfo sql, bool named)
{
	appendStringInfo(sql,
					 "CASE WHEN r.duration_ms OPERATOR(pg_catalog.>=) 0"
					 " AND r.duration_ms OPERATOR(pg_catalog.<=) %.0f"
					 " THEN r.duration_ms::pg_catalog.float8 END%s, "
					 SOURCE_STATUS_AS_INT4("r.status") "%s",
					 TRAFFIC_MAX_DURATION_MS, named ? " AS ms" : "",
					 named ? " AS st" : "");
}

/* The conditions on ts of the bounds given ($1 and $2, each may be NULL). */
static void
append_range(StringInfo sql, bool has_since, bool has_until)
{
	appendStringInfoString(sql, " WHERE pg_catalog.isfinite(r.ts)");
	if (has_since)
		appendStringInfoString(sql, " AND r.ts OPERATOR(pg_catalog.>=) $1");
	if (has_until)
		appendStringInfoString(sql, " AND r.ts OPERATOR(pg_catalog.<) $2");
}

/*
 * scaler._rollup_first_ts(rel, since, until): the earliest finite ts of
 * rel's rows in [since, until) (a NULL bound is none), NULL if there is
 * none.  Infinite timestamps belong to no day: a refresh that started from
 * -infinity would never reach a day.
 */
Datum
scaler_rollup_first_ts(PG_FUNCTION_ARGS)
{
	Oid			relid;
	Oid			argtypes[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		args[2];
	char		nulls[2];
	Oid			owner;
	StringInfoData sql;
	bool		isnull = true;
	Datum		first = (Datum) 0;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	relid = PG_GETARG_OID(0);
	args[0] = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);
	args[1] = PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2);
	nulls[0] = PG_ARGISNULL(1) ? 'n' : ' ';
	nulls[1] = PG_ARGISNULL(2) ? 'n' : ' ';

	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT pg_catalog.min(r.ts) FROM %s r",
					 source_name(relid, &owner));
	append_range(&sql, !PG_ARGISNULL(1), !PG_ARGISNULL(2));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	execute_as_owner(owner, sql.data, 2, argtypes, args, nulls);
	if (SPI_processed == 1)
		first = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
							  &isnull);
	SPI_finish();
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(first);
}

/*
 * scaler._rollup_read(rel, since, until, one_function, function_name,
 * only_rel): the rows of rel with a finite ts in [since, until) (a NULL
 * bound is none), of one function_name (NULL: the rows without one) if
 * one_function, of rel alone (not its partitions) if only_rel, as one
 * traffic value and row count per (function_name, UTC day).  A duration or
 * status the value cannot hold is left out of it, the row still counted:
 * one bad row must not stop the rollup for good (reading the rows raw
 * reports it).
 */
Datum
scaler_rollup_read(PG_FUNCTION_ARGS)
{
	Oid			relid;
	bool		has_since = !PG_ARGISNULL(1);
	bool		has_until = !PG_ARGISNULL(2);
	bool		one_function;
	bool		no_function = PG_ARGISNULL(4);
	bool		only_rel;
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			argtypes[3] = {TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID};
	Datum		args[3];
	char		nulls[3] = {' ', ' ', ' '};
	Oid			owner;
	StringInfoData sql;
	uint64		i;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(3) || PG_ARGISNULL(5))
		return (Datum) 0;
	relid = PG_GETARG_OID(0);
	one_function = PG_GETARG_BOOL(3);
	only_rel = PG_GETARG_BOOL(5);
	args[0] = has_since ? PG_GETARG_DATUM(1) : (Datum) 0;
	args[1] = has_until ? PG_GETARG_DATUM(2) : (Datum) 0;
	args[2] = no_function ? (Datum) 0 : PG_GETARG_DATUM(4);
	if (!has_since)
		nulls[0] = 'n';
	if (!has_until)
		nulls[1] = 'n';
	if (no_function)
		nulls[2] = 'n';

	initStringInfo(&sql);
	appendStringInfoString(&sql,
						   "SELECT r.function_name::pg_catalog.text,"
						   " pg_catalog.timezone('UTC', r.ts)::pg_catalog.date,"
						   " scaler.traffic_agg(r.ts, ");
	rollup_append_row_values(&sql, false);
	appendStringInfo(&sql, "), pg_catalog.count(*) FROM %s%s r",
					 only_rel ? "ONLY " : "", source_name(relid, &owner));
	append_range(&sql, has_since, has_until);
	if (one_function && no_function)
		appendStringInfoString(&sql, " AND r.function_name IS NULL");
	else if (one_function)
		appendStringInfoString(&sql,
							   " AND r.function_name::pg_catalog.text OPERATOR(pg_catalog.=) $3");
	appendStringInfoString(&sql, " GROUP BY 1, 2");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	execute_as_owner(owner, sql.data, 3, argtypes, args, nulls);
	for (i = 0; i < SPI_processed; i++)
	{
		Datum		values[4];
		bool		isnull[4];
		int			col;

		CHECK_FOR_INTERRUPTS();
		for (col = 0; col < 4; col++)
			values[col] = SPI_getbinval(SPI_tuptable->vals[i],
										SPI_tuptable->tupdesc, col + 1,
										&isnull[col]);
		/* the tuplestore copies the values out of SPI's memory */
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, isnull);
	}
	SPI_finish();
	pfree(sql.data);
	return (Datum) 0;
}
