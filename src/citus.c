/*-------------------------------------------------------------------------
 *
 * citus.c
 *	  What scaler must know of Citus, which it does not depend on: whether
 *	  Citus is installed, whether a table is one of its tables, and whether
 *	  a report runs in a worker's session rather than the user's.
 *
 * Citus pushes a query that groups by or filters on a distributed table's
 * distribution column down whole to its workers, the readers of a traffic
 * value (hourly_requests, hour_of_day, ...) with it.  There they run in a
 * session Citus opened (application_name "citus_internal gpid=..."), in the
 * worker's TimeZone: Citus sends the user's only as SET LOCAL, and only
 * with citus.propagate_set_commands = 'local'.  A traffic value carries no
 * time zone, so the aggregate itself is right anywhere; a report of local
 * hours is not, and is refused there unless the transaction set TimeZone.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/pg_namespace.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "pgtime.h"
#include "utils/guc.h"
#include "utils/guc_tables.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"

#include "citus.h"

PG_FUNCTION_INFO_V1(scaler_citus_table);

/* Whether the citus extension is installed in this database. */
bool
citus_installed(void)
{
	return OidIsValid(get_extension_oid("citus", true));
}

/*
 * Whether relid is a table Citus manages (distributed, reference or
 * Citus-local): its rows change in shards, where a trigger of the table
 * Citus shows on the coordinator does not fire.  Read straight from Citus's
 * catalog pg_dist_partition, whose first column has been logicalrelid in
 * every version, so that no privilege of the caller's is needed.
 */
bool
citus_table(Oid relid)
{
	Oid			catalog = get_relname_relid("pg_dist_partition", PG_CATALOG_NAMESPACE);
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	bool		found;

	if (!OidIsValid(catalog))
		return false;
	rel = table_open(catalog, AccessShareLock);
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 1, &key);
	found = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/* scaler._citus_table(rel): citus_table, for the rollups' SQL checks. */
Datum
scaler_citus_table(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(citus_table(PG_GETARG_OID(0)));
}

/* Whether this transaction (or session) set TimeZone with SET. */
static bool
timezone_set_here(void)
{
	struct config_generic **vars = get_guc_variables();
	int			n = GetNumConfigOptions();
	int			i;

	for (i = 0; i < n; i++)
		if (pg_strcasecmp(vars[i]->name, "TimeZone") == 0)
			return vars[i]->source >= PGC_S_SESSION;
	return false;
}

/*
 * The zone a report of local hours uses: the session's, unless this is a
 * session Citus opened on a worker whose TimeZone the user's transaction did
 * not set, where the hours would silently be the worker's (the file header
 * says when).  reader names the function, for the error.
 */
pg_tz *
citus_checked_timezone(const char *reader)
{
	if (application_name != NULL &&
		strncmp(application_name, "citus_internal", strlen("citus_internal")) == 0 &&
		!timezone_set_here())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s cannot report local hours on a Citus worker", reader),
				 errdetail("Citus ran the report on a worker, whose TimeZone \"%s\" need not be the session's.",
						   pg_get_timezone_name(session_timezone)),
				 errhint("Run SET LOCAL citus.propagate_set_commands = 'local' and SET LOCAL TimeZone in the transaction, "
						 "so that the workers report in the session's zone.")));
	return session_timezone;
}
