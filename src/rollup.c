/*-------------------------------------------------------------------------
 *
 * rollup.c
 *	  Rollups: the capture trigger on a source, the lock between its writers
 *	  and the refresh, the reader's cover of a range, and the worker's
 *	  refresh of every rollup.
 *
 * A rollup (scaler.rollup, src/sql/25_rollup_tables.sql) keeps one
 * scaler.traffic value per (function_name, UTC day) of a source, for the
 * rows below its watermark, and per UTC day their merge (scaler.rollup_day)
 * for readers of every function.
 * Why that is exact in every zone: a value keeps UTC quarter hours, sums are
 * integers, and merging the values of disjoint row sets gives the value of
 * all the rows, bit for bit.  A reader merges the quarter hours of the slots
 * that lie inside its range with traffic_agg of the rest (the partial
 * quarters at the edges, the tail past the watermark, the days that lost
 * rows since their refresh),
 * which is the value the raw rows give; local hours, DST days and :30/:45
 * zones are unions of quarters, read from that value exactly as from the
 * raw one.
 *
 * Writers and the refresh.  The statement triggers (scaler._rollup_capture)
 * record the (function_name, day) of every row changed below the watermark
 * in scaler.rollup_invalid, in the writer's own transaction, with the value
 * of the rows inserted and the number of rows inserted and deleted.  The
 * slot and those rows are what a reader reads of a day that only got rows,
 * and what the refresh writes when the source no longer holds the slot's
 * rows (a dropped partition, retention): a rollup is then the only history
 * of them, which a recomputation from what is left would destroy.  Each
 * partition of a partitioned source carries the triggers too (a statement
 * that names a partition fires only the partition's), and a table attached
 * to it has its rows recorded like a writer's (scaler_rollup_adopt).  A row
 * at or above the watermark needs nothing: the refresh reads it.  The race is a
 * writer whose trigger saw the old watermark W while a refresh moved it to
 * W' and read the rows before the writer committed: such a row would be in
 * neither.  So the trigger holds a share lock (an advisory lock of its own
 * kind, no WAL, released at commit) from before it reads the watermark
 * until its transaction ends, and the refresh takes that lock exclusively
 * before it reads anything: it waits for every writer that read W, whose
 * rows it then sees, and a writer that comes later waits for the refresh
 * to commit and then reads W' with a fresh snapshot, so records its rows
 * below W'.  The refresh holds its lock for a bounded step (one day of
 * rows, 64 slots), and the worker commits each step on its own, so writers
 * wait at most that long.  Two refreshes of one rollup exclude each other
 * through the rollup's catalog row (FOR UPDATE SKIP LOCKED).  A writer keeps
 * the watermark it read until the refresh's invalidation says it moved
 * (watermark_of), so a statement past the watermark costs no query.
 *
 * Readers take one snapshot for all their queries (SPI read-only), so they
 * see a refresh entirely or not at all.  A reader must be allowed to read
 * the source's columns (checked as the reader before any slot is used); a
 * source with row-level security never has its rollup used.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"


#include "access/htup_details.h"
#include "access/relation.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "pgstat.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "citus.h"
#include "rollup.h"
#include "scaler.h"
#include "source.h"

PG_FUNCTION_INFO_V1(scaler_rollup_capture);
PG_FUNCTION_INFO_V1(scaler_rollup_lock);
PG_FUNCTION_INFO_V1(scaler_rollup_share_source);
PG_FUNCTION_INFO_V1(scaler_rollup_adopt);
PG_FUNCTION_INFO_V1(scaler_rollup_name_key);

/*
 * The lock between a source's writers and its refresh: an advisory lock
 * tag whose last field (1 and 2 are pg_advisory_lock's) is ours alone.
 */
#define ROLLUP_LOCK_KEY		0x7363616c	/* "scal" */
#define ROLLUP_LOCK_KIND	0x5352

static void
rollup_lock(Oid source, LOCKMODE mode)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, ROLLUP_LOCK_KEY, source,
						 ROLLUP_LOCK_KIND);
	(void) LockAcquire(&tag, mode, false, false);
}

/*
 * scaler._rollup_lock(source): the refresh's side, until the transaction
 * ends.  The refresh moves the watermark under this lock, so it also tells
 * the writers' caches of the watermark (watermark_of) to read it again: a
 * relcache invalidation of the source, which the commit sends before it
 * releases the lock.
 */
Datum
scaler_rollup_lock(PG_FUNCTION_ARGS)
{
	Oid			source = PG_GETARG_OID(0);

	rollup_lock(source, ExclusiveLock);
	if (SearchSysCacheExists1(RELOID, ObjectIdGetDatum(source)))
		CacheInvalidateRelcacheByRelid(source);
	PG_RETURN_VOID();
}

/*
 * scaler._rollup_share_source(source): ACCESS SHARE on the source until the
 * transaction ends, which a refresh takes before it locks the rollup's
 * row.  TRUNCATE and DROP TABLE of the source lock the table first and then
 * change that row (through the truncate trigger and the sql_drop event
 * trigger): had the refresh locked the row first and then waited for the
 * table to read it, the two would deadlock.
 */
Datum
scaler_rollup_share_source(PG_FUNCTION_ARGS)
{
	LockRelationOid(PG_GETARG_OID(0), AccessShareLock);
	PG_RETURN_VOID();
}

/*
 * scaler._rollup_name_key(function_name): the SHA-256 of a function name's
 * bytes, which the unique indexes of rollup_slot and rollup_invalid key
 * slots by.  A B-tree entry cannot hold a name of more than about 2,700
 * bytes, and one such row written to a source would otherwise stop its
 * rollup's refresh (and, below the watermark, fail the writer's statement).
 * A collision of SHA-256 is not to be found, so the key is the name.
 */
Datum
scaler_rollup_name_key(PG_FUNCTION_ARGS)
{
	/* text and bytea share their varlena layout: hash the bytes as they are */
	return DirectFunctionCall1(sha256_bytea, PG_GETARG_DATUM(0));
}

/*
 * The owner of scaler's rollup tables, as whom the trigger and the readers
 * use them; InvalidOid when the extension's tables are not there.
 */
static Oid
rollup_tables_owner(void)
{
	Oid			nsp = get_namespace_oid("scaler", true);
	Oid			relid;
	HeapTuple	tuple;
	Oid			owner;

	if (!OidIsValid(nsp))
		return InvalidOid;
	relid = get_relname_relid("rollup", nsp);
	if (!OidIsValid(relid))
		return InvalidOid;
	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tuple))
		return InvalidOid;
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

static void
become(Oid userid, Oid *save_userid, int *save_sec_context)
{
	GetUserIdAndSecContext(save_userid, save_sec_context);
	SetUserIdAndSecContext(userid, *save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
}

static inline int64
floor_day(TimestampTz ts)
{
	return floor_div(ts, USECS_PER_DAY);
}

/* ------------------------------------------------------------- trigger */

/*
 * What the trigger (or the adoption of a partition) hands to the part of it
 * that runs as the tables' owner: the rows inserted and deleted, as
 * transition tables a query can name, NULL for none, and the trigger data
 * that makes them visible; or the table adopted.
 */
typedef struct Capture
{
	TriggerData *trigdata;
	const char *inserted_rows;
	const char *deleted_rows;
	Oid			adopted;		/* or a table new to the source, see adopt */
	bool		returned;		/* it was a partition of the source before */
	TimestampTz watermark;
} Capture;

/*
 * Reject a source whose columns are no longer of the types a rollup reads
 * (create_rollup checked them; ALTER COLUMN ... TYPE may have changed them
 * since).  The capture query runs as the tables' owner: a type of the
 * source owner's, with an implicit cast of theirs to float8, would run
 * their code with those rights.
 */
static void
check_source_columns(TupleDesc desc)
{
	static const char *const names[] = {"ts", "function_name", "duration_ms", "status"};
	int			i;

	for (i = 0; i < lengthof(names); i++)
	{
		int			attno = SPI_fnumber(desc, names[i]);
		Oid			type;
		bool		ok;

		if (attno <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("rollup source has no column \"%s\"", names[i])));
		type = TupleDescAttr(desc, attno - 1)->atttypid;
		switch (i)
		{
			case 0:
				ok = type == TIMESTAMPTZOID;
				break;
			case 1:
				ok = type == TEXTOID || type == VARCHAROID;
				break;
			case 2:
				ok = type == FLOAT8OID || type == FLOAT4OID || type == NUMERICOID ||
					type == INT8OID || type == INT4OID || type == INT2OID;
				break;
			default:
				ok = type == INT4OID || type == INT2OID || type == INT8OID;
				break;
		}
		if (!ok)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of a rollup source has type %s, which a rollup cannot use",
							names[i], format_type_be(type)),
					 errhint("Change the column back, or drop the rollup.")));
	}
}

/*
 * Whether a transition table has a row below the watermark: most
 * statements change only rows past it, which need nothing, and this is
 * all they cost.
 */
static bool
any_row_below(Tuplestorestate *rows, TupleDesc desc, TimestampTz watermark)
{
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	int			ts_att = SPI_fnumber(desc, "ts");
	int			ptr;
	int64		nrows = 0;
	bool		found = false;

	if (ts_att <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("rollup source has no column \"ts\"")));

	ptr = tuplestore_alloc_read_pointer(rows, 0);
	tuplestore_select_read_pointer(rows, ptr);
	tuplestore_rescan(rows);
	while (!found && tuplestore_gettupleslot(rows, true, false, slot))
	{
		bool		isnull;
		Datum		ts = slot_getattr(slot, ts_att, &isnull);

		if ((++nrows & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		found = !isnull && DatumGetTimestampTz(ts) < watermark;
	}
	tuplestore_select_read_pointer(rows, 0);
	ExecDropSingleTupleTableSlot(slot);
	return found;
}

static SPIPlanPtr plan_watermark = NULL;

/*
 * The watermark of each source this backend wrote to, as last read.  Most
 * statements change rows past the watermark and need nothing else, so
 * reading it with a query each time was most of what the trigger cost a
 * single-row INSERT.  An entry stays valid until a relcache invalidation of
 * its source: a refresh sends one when it takes the lock exclusively
 * (scaler_rollup_lock) and its commit delivers it before the lock is
 * released, so a writer that holds the share lock and has accepted the
 * invalidations since never uses a watermark older than the committed one.
 */
typedef struct WatermarkEntry
{
	Oid			source;			/* hash key */
	bool		valid;
	bool		known;			/* the rollup has a watermark */
	TimestampTz watermark;
} WatermarkEntry;

static HTAB *watermarks = NULL;

static void
watermarks_invalidate(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	WatermarkEntry *entry;

	if (watermarks == NULL)
		return;
	if (OidIsValid(relid))
	{
		entry = hash_search(watermarks, &relid, HASH_FIND, NULL);
		if (entry != NULL)
			entry->valid = false;
		return;
	}
	hash_seq_init(&status, watermarks);
	while ((entry = hash_seq_search(&status)) != NULL)
		entry->valid = false;
}

static WatermarkEntry *
watermark_entry(Oid source)
{
	WatermarkEntry *entry;
	bool		found;

	if (watermarks == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(WatermarkEntry);
		ctl.hcxt = TopMemoryContext;
		watermarks = hash_create("scaler rollup watermarks", 16, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		CacheRegisterRelcacheCallback(watermarks_invalidate, (Datum) 0);
	}
	entry = hash_search(watermarks, &source, HASH_ENTER, &found);
	if (!found)
		entry->valid = false;
	return entry;
}

static SPIPlanPtr
keep_plan(const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql,
			 SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	return plan;
}

/*
 * One part of the changes below the watermark: the rows of a transition
 * table, with their slot, and their duration and status where the value
 * can hold them (a bad one is not the writer's error here: the row is
 * counted without it), as scaler._rollup_read reads them.  The query runs
 * as the tables' owner under the writer's search_path: every operator is
 * qualified.  A transition table has no index or constraint whose code
 * planning could run.
 */
static void
append_changes_part(StringInfo sql, const char *table, bool inserted)
{
	appendStringInfoString(sql,
						   "SELECT r.function_name::pg_catalog.text AS f,"
						   " pg_catalog.timezone('UTC', r.ts)::pg_catalog.date AS d, r.ts, ");
	rollup_append_row_values(sql, true);
	appendStringInfo(sql,
					 ", %s AS ins"
					 " FROM %s r WHERE r.ts OPERATOR(pg_catalog.<) $2 AND pg_catalog.isfinite(r.ts)",
					 inserted ? "true" : "false", table);
}

/* How a recorded slot takes what an earlier statement recorded of it. */
#define INVALID_UPSERT \
	" ON CONFLICT (source, scaler._rollup_name_key(function_name), day) DO UPDATE SET" \
	" added = (SELECT scaler.traffic_merge(v.t)" \
	" FROM (VALUES (i.added), (excluded.added)) v(t))," \
	" inserted = i.inserted OPERATOR(pg_catalog.+) excluded.inserted," \
	" deleted = i.deleted OPERATOR(pg_catalog.+) excluded.deleted"

static void
execute_record(const char *sql, int nargs, Oid *argtypes, Datum *args)
{
	int			ret = SPI_execute_with_args(sql, nargs, argtypes, args, NULL,
											false, 0);

	if (ret != SPI_OK_INSERT)
		elog(ERROR, "recording changed rollup slots failed: %s",
			 SPI_result_code_string(ret));
}

/*
 * Record the slots of the rows changed below the watermark in
 * scaler.rollup_invalid: per (function_name, day), the value of the rows
 * inserted (merged into what earlier statements recorded) and how many
 * rows were inserted and deleted (an UPDATE does both).  The refresh adds
 * the inserted rows to the slot, which needs no raw row: the source may no
 * longer hold the slot's rows (a dropped partition, retention), and the slot
 * is then all that is left of them.  Transition tables are read through
 * SPI, so the rows are not copied.  Slots are written in (day, function)
 * order, so that two writers of the same slots wait for each other rather
 * than deadlock.
 */
static void
record_invalid(Oid source, Capture *capture)
{
	StringInfoData sql;
	Oid			argtypes[2] = {OIDOID, TIMESTAMPTZOID};
	Datum		args[2];

	if (SPI_register_trigger_data(capture->trigdata) != SPI_OK_TD_REGISTER)
		elog(ERROR, "SPI_register_trigger_data failed");
	initStringInfo(&sql);
	appendStringInfoString(&sql,
						   "INSERT INTO scaler.rollup_invalid AS i"
						   " (source, function_name, day, added, inserted, deleted)"
						   " SELECT $1, c.f, c.d,"
						   " scaler.traffic_agg(c.ts, c.ms, c.st) FILTER (WHERE c.ins),"
						   " pg_catalog.count(*) FILTER (WHERE c.ins),"
						   " pg_catalog.count(*) FILTER (WHERE NOT c.ins) FROM (");
	if (capture->inserted_rows != NULL)
		append_changes_part(&sql, capture->inserted_rows, true);
	if (capture->inserted_rows != NULL && capture->deleted_rows != NULL)
		appendStringInfoString(&sql, " UNION ALL ");
	if (capture->deleted_rows != NULL)
		append_changes_part(&sql, capture->deleted_rows, false);
	appendStringInfoString(&sql, ") c GROUP BY c.f, c.d ORDER BY c.d, c.f" INVALID_UPSERT);
	args[0] = ObjectIdGetDatum(source);
	args[1] = TimestampTzGetDatum(capture->watermark);
	execute_record(sql.data, 2, argtypes, args);
	pfree(sql.data);
}

/*
 * Record the rows below the watermark of a table new to a partitioned
 * source, as scaler._rollup_read reads them, as its owner: as inserted, or,
 * for a table that comes back (capture->returned), as inserted and deleted
 * alike, with nothing to add.
 */
static void
record_adopted(Oid source, Capture *capture)
{
	Oid			argtypes[4] = {OIDOID, TIMESTAMPTZOID, OIDOID, BOOLOID};
	Datum		args[4];

	args[0] = ObjectIdGetDatum(source);
	args[1] = TimestampTzGetDatum(capture->watermark);
	args[2] = ObjectIdGetDatum(capture->adopted);
	args[3] = BoolGetDatum(capture->returned);
	execute_record("INSERT INTO scaler.rollup_invalid AS i"
				   " (source, function_name, day, added, inserted, deleted)"
				   " SELECT $1, r.function_name, r.day,"
				   " CASE WHEN NOT $4 THEN r.traffic END, r.requests,"
				   " CASE WHEN $4 THEN r.requests ELSE 0 END"
				   " FROM scaler._rollup_read($3, NULL, $2, false, NULL, true) r"
				   " ORDER BY r.day, r.function_name" INVALID_UPSERT,
				   4, argtypes, args);
}

/*
 * TRUNCATE: every slot is gone with the rows; the rollup starts again from
 * the rows that come next.
 */
static void
reset_rollup(Oid source)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1];
	int			ret;

	args[0] = ObjectIdGetDatum(source);
	ret = SPI_execute_with_args("DELETE FROM scaler.rollup_slot WHERE source OPERATOR(pg_catalog.=) $1",
								1, argtypes, args, NULL, false, 0);
	if (ret == SPI_OK_DELETE)
		ret = SPI_execute_with_args("DELETE FROM scaler.rollup_day WHERE source OPERATOR(pg_catalog.=) $1",
									1, argtypes, args, NULL, false, 0);
	if (ret == SPI_OK_DELETE)
		ret = SPI_execute_with_args("DELETE FROM scaler.rollup_invalid WHERE source OPERATOR(pg_catalog.=) $1",
									1, argtypes, args, NULL, false, 0);
	/* a table detached before brings rows the slots no longer count */
	if (ret == SPI_OK_DELETE)
		ret = SPI_execute_with_args("DELETE FROM scaler.rollup_partition"
									" WHERE source OPERATOR(pg_catalog.=) $1 AND NOT attached",
									1, argtypes, args, NULL, false, 0);
	if (ret == SPI_OK_DELETE)
		ret = SPI_execute_with_args("UPDATE scaler.rollup SET watermark = NULL, covered_from = NULL"
									" WHERE source OPERATOR(pg_catalog.=) $1",
									1, argtypes, args, NULL, false, 0);
	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "resetting the rollup after TRUNCATE failed: %s",
			 SPI_result_code_string(ret));
}

/*
 * The watermark of a source (false when it has none yet), read with a
 * fresh snapshot: also in REPEATABLE READ, the watermark as it is now.  The
 * caller holds the share lock and has accepted the invalidations since.
 */
static bool
watermark_of(Oid source, Oid owner, TimestampTz *watermark)
{
	WatermarkEntry *entry = watermark_entry(source);
	Oid			save_userid;
	int			save_sec_context;
	Datum		args[1];
	bool		isnull = true;
	int			ret;

	if (entry->valid)
	{
		*watermark = entry->watermark;
		return entry->known;
	}
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	become(owner, &save_userid, &save_sec_context);
	if (plan_watermark == NULL)
	{
		Oid			argtypes[1] = {OIDOID};

		plan_watermark = keep_plan("SELECT watermark FROM scaler.rollup"
								   " WHERE source OPERATOR(pg_catalog.=) $1",
								   1, argtypes);
	}
	args[0] = ObjectIdGetDatum(source);
	ret = SPI_execute_snapshot(plan_watermark, args, NULL, GetLatestSnapshot(),
							   InvalidSnapshot, true, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading the rollup watermark failed: %s",
			 SPI_result_code_string(ret));
	if (SPI_processed == 1)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
									  1, &isnull);

		if (!isnull)
			entry->watermark = DatumGetTimestampTz(d);
	}
	SetUserIdAndSecContext(save_userid, save_sec_context);
	SPI_finish();
	entry->known = !isnull;
	entry->valid = true;
	*watermark = entry->watermark;
	return entry->known;
}

/* Run what needs SPI as the owner of scaler's tables. */
static void
as_rollup_owner(Oid owner, void (*action) (Oid source, Capture *capture),
				Oid source, Capture *capture)
{
	Oid			save_userid;
	int			save_sec_context;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	become(owner, &save_userid, &save_sec_context);
	action(source, capture);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	SPI_finish();
}

static void
reset_rollup_action(Oid source, Capture *capture)
{
	reset_rollup(source);
}

/*
 * scaler._rollup_capture(): AFTER INSERT / UPDATE / DELETE / TRUNCATE, FOR
 * EACH STATEMENT, with the transition tables create_rollup declares.
 */
Datum
scaler_rollup_capture(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Oid			source;
	Oid			owner;
	TimestampTz watermark;
	Capture		capture = {NULL, NULL, NULL, InvalidOid, false, 0};
	TupleDesc	desc;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event) ||
		!TRIGGER_FIRED_AFTER(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("scaler._rollup_capture() must be called as an AFTER statement trigger")));

	source = RelationGetRelid(trigdata->tg_relation);
	desc = RelationGetDescr(trigdata->tg_relation);
	owner = rollup_tables_owner();
	if (!OidIsValid(owner))
		return PointerGetDatum(NULL);

	/*
	 * A statement that names a partition fires the partition's triggers and
	 * not its parents': its rows are the partitioned source's.  (TRUNCATE of
	 * a partition, like DROP, keeps its days in the slots: retention.)
	 */
	if (trigdata->tg_relation->rd_rel->relispartition)
	{
		if (TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
			return PointerGetDatum(NULL);
		source = llast_oid(get_partition_ancestors(source));
	}

	if (TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
	{
		watermark_entry(source)->valid = false;
		as_rollup_owner(owner, reset_rollup_action, source, NULL);
		return PointerGetDatum(NULL);
	}

	/* Before reading the watermark, and until we commit. */
	rollup_lock(source, ShareLock);
	/* what a refresh that held the lock before us sent (see watermarks) */
	AcceptInvalidationMessages();
	if (!watermark_of(source, owner, &watermark))
		return PointerGetDatum(NULL);

	if ((trigdata->tg_oldtable != NULL &&
		 any_row_below(trigdata->tg_oldtable, desc, watermark)) ||
		(trigdata->tg_newtable != NULL &&
		 any_row_below(trigdata->tg_newtable, desc, watermark)))
	{
		check_source_columns(desc);
		capture.trigdata = trigdata;
		capture.inserted_rows = trigdata->tg_newtable != NULL ? "new_rows" : NULL;
		capture.deleted_rows = trigdata->tg_oldtable != NULL ? "old_rows" : NULL;
		capture.watermark = watermark;
		as_rollup_owner(owner, record_invalid, source, &capture);
	}
	return PointerGetDatum(NULL);
}

/*
 * scaler._rollup_adopt(source, part, returned): a table that just became a
 * partition of source (ATTACH PARTITION) brought rows the triggers never
 * saw; those below the watermark are recorded as inserted, as a writer's
 * would be, under the writers' lock.  A table detached from source before
 * (returned) brings back rows its slots still count, changed or not while
 * it was away: they are recorded as deleted and inserted alike, with no
 * value to add, so that readers read those slots raw and the refresh
 * recounts them.  Only the table's own rows count (ONLY): the event trigger
 * calls this for each new partition, at every level, before it puts the
 * capture triggers on it.  The rows are read as the table's owner
 * (scaler._rollup_read).
 */
Datum
scaler_rollup_adopt(PG_FUNCTION_ARGS)
{
	Oid			source = PG_GETARG_OID(0);
	Oid			part = PG_GETARG_OID(1);
	bool		returned = PG_GETARG_BOOL(2);
	Oid			owner = rollup_tables_owner();
	TimestampTz watermark;
	Capture		capture = {NULL, NULL, NULL, InvalidOid, false, 0};
	Relation	rel;

	if (!OidIsValid(owner))
		PG_RETURN_VOID();
	rel = relation_open(part, AccessShareLock);
	/* read as the extension's owner, it would connect with their mapping */
	if (rel->rd_rel->relkind == RELKIND_FOREIGN_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("a rollup source cannot have a foreign table partition (\"%s\")",
						RelationGetRelationName(rel)),
				 errdetail("A rollup reads its source's rows as the extension's owner, whose user mappings a foreign table would connect with."),
				 errhint("Drop the rollup of the source first.")));
	check_source_columns(RelationGetDescr(rel));
	relation_close(rel, NoLock);

	rollup_lock(source, ShareLock);
	AcceptInvalidationMessages();
	if (!watermark_of(source, owner, &watermark))
		PG_RETURN_VOID();
	capture.adopted = part;
	capture.returned = returned;
	capture.watermark = watermark;
	as_rollup_owner(owner, record_adopted, source, &capture);
	PG_RETURN_VOID();
}

/* -------------------------------------------------------------- readers */

/*
 * The capture triggers of rel that are there and fire, as a set of
 * CAPTURE_* bits: AFTER statement triggers calling scaler._rollup_capture
 * on INSERT (with its new rows), UPDATE (old and new), DELETE (old) and
 * TRUNCATE.
 */
#define CAPTURE_INSERT		1
#define CAPTURE_UPDATE		2
#define CAPTURE_DELETE		4
#define CAPTURE_TRUNCATE	8
#define CAPTURE_DML			(CAPTURE_INSERT | CAPTURE_UPDATE | CAPTURE_DELETE)

static int
capture_triggers(Relation rel, Oid capture)
{
	TriggerDesc *trigdesc = rel->trigdesc;
	int			events = 0;
	int			i;

	if (trigdesc == NULL)
		return 0;
	for (i = 0; i < trigdesc->numtriggers; i++)
	{
		Trigger    *t = &trigdesc->triggers[i];

		if (t->tgfoid != capture || TRIGGER_FOR_ROW(t->tgtype) ||
			!TRIGGER_FOR_AFTER(t->tgtype) ||
			(t->tgenabled != TRIGGER_FIRES_ON_ORIGIN &&
			 t->tgenabled != TRIGGER_FIRES_ALWAYS))
			continue;
		if (TRIGGER_FOR_INSERT(t->tgtype) && t->tgnewtable != NULL)
			events |= CAPTURE_INSERT;
		if (TRIGGER_FOR_UPDATE(t->tgtype) && t->tgnewtable != NULL &&
			t->tgoldtable != NULL)
			events |= CAPTURE_UPDATE;
		if (TRIGGER_FOR_DELETE(t->tgtype) && t->tgoldtable != NULL)
			events |= CAPTURE_DELETE;
		if (TRIGGER_FOR_TRUNCATE(t->tgtype))
			events |= CAPTURE_TRUNCATE;
	}
	return events;
}

/*
 * Whether rel's four capture triggers are all there and fire.  Without them
 * changes go unseen (a restored scaler.request_log, whose triggers pg_dump
 * does not keep; a disabled trigger), so the slots cannot be trusted until
 * a refresh has put them back and rebuilt what it must
 * (_rollup_ensure_triggers).  Partitions are not looked at: the refresh
 * puts back their triggers and recounts their days, and until then the
 * slots keep what reading the raw rows would lose, the days of dropped and
 * detached partitions.
 */
static bool
rollup_triggers_ready(Relation rel)
{
	Oid			capture = LookupFuncName(list_make2(makeString("scaler"),
													makeString("_rollup_capture")),
										 0, NULL, true);

	return capture_triggers(rel, capture) == (CAPTURE_DML | CAPTURE_TRUNCATE);
}

/*
 * Whether a rollup of relid may stand in for its rows for userid: a table
 * (or partitioned table) without row-level security, whose capture triggers
 * fire, that is no Citus table, and whose columns userid may read.  The source stays locked (as the
 * raw read locks it) so that row-level security cannot be switched on
 * between this check and the read.
 */
static bool
rollup_source_usable(Oid relid, bool need_function_name, Oid userid)
{
	Relation	rel = try_relation_open(relid, AccessShareLock);
	bool		usable;

	if (rel == NULL)
		return false;
	/* (a partition's or inheritance parent's changes may go unseen) */
	usable = (rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE ||
			  (rel->rd_rel->relkind == RELKIND_RELATION &&
			   !rel->rd_rel->relhassubclass)) &&
		!rel->rd_rel->relispartition &&
		!rel->rd_rel->relrowsecurity &&
		rollup_triggers_ready(rel);
	relation_close(rel, NoLock);
	/* (a table made a Citus table after its rollup: changes go unseen) */
	return usable && source_readable(relid, need_function_name, userid) &&
		!citus_table(relid);
}

/* Add [from, until) to the cover's raw ranges, joining it to the last one. */
static bool
add_range(RollupCover *cover, TimestampTz from, TimestampTz until)
{
	if (from >= until)
		return true;
	if (cover->nranges > 0 && cover->until[cover->nranges - 1] == from)
	{
		cover->until[cover->nranges - 1] = until;
		return true;
	}
	if (cover->nranges >= ROLLUP_MAX_RANGES)
		return false;
	cover->from[cover->nranges] = from;
	cover->until[cover->nranges] = until;
	cover->nranges++;
	return true;
}

/*
 * The part of a range that a rollup's slots hold: [from, to), from on a
 * quarter hour; to is the watermark or a quarter hour.  Its days are
 * [first_day, end_day); the slots of its first and last day may hold rows
 * outside it, and give only their quarters inside it (traffic_merge_range).
 */
typedef struct CoverSpan
{
	TimestampTz from;
	TimestampTz to;
	DateADT		first_day;
	DateADT		end_day;
} CoverSpan;

/* The plans of the readers' queries, kept for the backend's life. */
static SPIPlanPtr plan_rollup_row = NULL;
static SPIPlanPtr plan_invalid_days[2] = {NULL, NULL};	/* [function given] */
static SPIPlanPtr plan_slots[2] = {NULL, NULL};

/*
 * The span of [since, until) that the slots of relid's rollup hold: from
 * the first quarter hour inside the range (and not dropped by retention)
 * to the watermark, or to the last quarter hour inside the range when the
 * watermark is past it.  A quarter is never split between the slots and
 * the raw rows, except at the watermark, below which the slots hold
 * exactly the rows.  False when the span is empty.
 */
static bool
cover_span(Oid relid, TimestampTz since, TimestampTz until, CoverSpan *span)
{
	Datum		args[1];
	bool		isnull;
	TimestampTz watermark;
	TimestampTz lo;
	int			ret;

	if (plan_rollup_row == NULL)
	{
		Oid			argtypes[1] = {OIDOID};

		plan_rollup_row = keep_plan("SELECT watermark, covered_from FROM scaler.rollup"
									" WHERE source OPERATOR(pg_catalog.=) $1",
									1, argtypes);
	}
	args[0] = ObjectIdGetDatum(relid);
	ret = SPI_execute_plan(plan_rollup_row, args, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading the rollup failed: %s", SPI_result_code_string(ret));
	if (SPI_processed != 1)
		return false;
	watermark = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0],
												  SPI_tuptable->tupdesc, 1, &isnull));
	if (isnull)
		return false;
	lo = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 2, &isnull));
	if (isnull || lo < since)
		lo = since;

	span->from = -floor_div(-lo, USECS_PER_QUARTER) * USECS_PER_QUARTER;
	if (watermark <= until)
		span->to = watermark;
	else
		span->to = floor_div(until, USECS_PER_QUARTER) * USECS_PER_QUARTER;
	if (span->from >= span->to)
		return false;
	span->first_day = (DateADT) floor_day(span->from);
	span->end_day = (DateADT) (floor_day(span->to - 1) + 1);
	return true;
}

/*
 * The raw ranges of the cover: the edges of [since, until) outside the
 * span, and the invalidated days inside it, whose dates go to *bad (an
 * array of date, palloc'd in the current context).  False when that makes
 * too many ranges: as good as reading it all raw.
 */
static bool
cover_raw_ranges(Oid relid, const char *function_name, TimestampTz since,
				 TimestampTz until, const CoverSpan *span, RollupCover *cover,
				 Datum *bad)
{
	int			with_fn = function_name != NULL ? 1 : 0;
	Datum		args[4];
	Datum	   *dates;
	int			ndates = 0;
	int			dims[1];
	int			lbs[1] = {1};
	bool		ok;
	int			ret;
	uint64		i;

	if (plan_invalid_days[with_fn] == NULL)
	{
		Oid			argtypes[4] = {OIDOID, DATEOID, DATEOID, TEXTOID};

		plan_invalid_days[with_fn] =
			keep_plan(with_fn ?
					  "SELECT DISTINCT day FROM scaler.rollup_invalid"
					  " WHERE source OPERATOR(pg_catalog.=) $1"
					  " AND day OPERATOR(pg_catalog.>=) $2 AND day OPERATOR(pg_catalog.<) $3"
					  " AND deleted OPERATOR(pg_catalog.>) 0"
					  " AND function_name OPERATOR(pg_catalog.=) $4 ORDER BY day" :
					  "SELECT DISTINCT day FROM scaler.rollup_invalid"
					  " WHERE source OPERATOR(pg_catalog.=) $1"
					  " AND day OPERATOR(pg_catalog.>=) $2 AND day OPERATOR(pg_catalog.<) $3"
					  " AND deleted OPERATOR(pg_catalog.>) 0"
					  " ORDER BY day",
					  3 + with_fn, argtypes);
	}
	args[0] = ObjectIdGetDatum(relid);
	args[1] = DateADTGetDatum(span->first_day);
	args[2] = DateADTGetDatum(span->end_day);
	args[3] = with_fn ? CStringGetTextDatum(function_name) : (Datum) 0;
	ret = SPI_execute_plan(plan_invalid_days[with_fn], args, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading invalidated rollup slots failed: %s",
			 SPI_result_code_string(ret));

	dates = palloc(sizeof(Datum) * (SPI_processed + 1));
	ok = add_range(cover, since, span->from);
	for (i = 0; i < SPI_processed && ok; i++)
	{
		bool		isnull;
		DateADT		day = DatumGetDateADT(SPI_getbinval(SPI_tuptable->vals[i],
														SPI_tuptable->tupdesc, 1, &isnull));

		dates[ndates++] = DateADTGetDatum(day);
		ok = add_range(cover, Max((int64) day * USECS_PER_DAY, span->from),
					   Min((int64) (day + 1) * USECS_PER_DAY, span->to));
	}
	if (ok)
		ok = add_range(cover, span->to, until);
	dims[0] = ndates;
	*bad = PointerGetDatum(construct_md_array(dates, NULL, 1, dims, lbs, DATEOID,
											  4, true, TYPALIGN_INT));
	return ok;
}

/*
 * Read the valid slots of the span, in day order, into SPI_tuptable
 * (day, traffic): the function's, or for every function the days' merged
 * values (scaler.rollup_day), one a day instead of one per function.
 */
static void
cover_read_slots(Oid relid, const char *function_name, const CoverSpan *span,
				 Datum bad)
{
	int			with_fn = function_name != NULL ? 1 : 0;
	Datum		args[5];
	int			ret;

	if (plan_slots[with_fn] == NULL)
	{
		Oid			argtypes[5] = {OIDOID, DATEOID, DATEOID, DATEARRAYOID, BYTEAOID};

		/*
		 * A day that only got rows since its refresh reads its value with
		 * theirs added (the days that lost rows are read raw, in $4).
		 */
		plan_slots[with_fn] =
			keep_plan(with_fn ?
					  "SELECT v.day, v.traffic FROM ("
					  "SELECT s.day, s.traffic FROM scaler.rollup_slot s"
					  " WHERE s.source OPERATOR(pg_catalog.=) $1 AND s.day OPERATOR(pg_catalog.>=) $2"
					  " AND s.day OPERATOR(pg_catalog.<) $3 AND s.day OPERATOR(pg_catalog.<>) ALL ($4)"
					  " AND scaler._rollup_name_key(s.function_name) OPERATOR(pg_catalog.=) $5"
					  " AND NOT EXISTS (SELECT FROM scaler.rollup_invalid i"
					  " WHERE i.source OPERATOR(pg_catalog.=) $1 AND i.day OPERATOR(pg_catalog.=) s.day"
					  " AND scaler._rollup_name_key(i.function_name) OPERATOR(pg_catalog.=) $5)"
					  " UNION ALL "
					  "SELECT i.day, (SELECT scaler.traffic_merge(u.t) FROM ("
					  "SELECT i.added UNION ALL SELECT s.traffic FROM scaler.rollup_slot s"
					  " WHERE s.source OPERATOR(pg_catalog.=) $1 AND s.day OPERATOR(pg_catalog.=) i.day"
					  " AND scaler._rollup_name_key(s.function_name) OPERATOR(pg_catalog.=) $5) u(t))"
					  " FROM scaler.rollup_invalid i"
					  " WHERE i.source OPERATOR(pg_catalog.=) $1 AND i.day OPERATOR(pg_catalog.>=) $2"
					  " AND i.day OPERATOR(pg_catalog.<) $3 AND i.day OPERATOR(pg_catalog.<>) ALL ($4)"
					  " AND scaler._rollup_name_key(i.function_name) OPERATOR(pg_catalog.=) $5"
					  ") v WHERE v.traffic IS NOT NULL ORDER BY v.day" :
					  "SELECT v.day, v.traffic FROM ("
					  "SELECT d.day, d.traffic FROM scaler.rollup_day d"
					  " WHERE d.source OPERATOR(pg_catalog.=) $1 AND d.day OPERATOR(pg_catalog.>=) $2"
					  " AND d.day OPERATOR(pg_catalog.<) $3 AND d.day OPERATOR(pg_catalog.<>) ALL ($4)"
					  " AND NOT EXISTS (SELECT FROM scaler.rollup_invalid i"
					  " WHERE i.source OPERATOR(pg_catalog.=) $1 AND i.day OPERATOR(pg_catalog.=) d.day)"
					  " UNION ALL "
					  "SELECT i.day, (SELECT scaler.traffic_merge(u.t) FROM ("
					  "SELECT j.added FROM scaler.rollup_invalid j"
					  " WHERE j.source OPERATOR(pg_catalog.=) $1 AND j.day OPERATOR(pg_catalog.=) i.day"
					  " UNION ALL SELECT d.traffic FROM scaler.rollup_day d"
					  " WHERE d.source OPERATOR(pg_catalog.=) $1 AND d.day OPERATOR(pg_catalog.=) i.day) u(t))"
					  " FROM (SELECT DISTINCT j.day FROM scaler.rollup_invalid j"
					  " WHERE j.source OPERATOR(pg_catalog.=) $1 AND j.day OPERATOR(pg_catalog.>=) $2"
					  " AND j.day OPERATOR(pg_catalog.<) $3 AND j.day OPERATOR(pg_catalog.<>) ALL ($4)) i"
					  ") v WHERE v.traffic IS NOT NULL ORDER BY v.day",
					  4 + with_fn, argtypes);
	}
	args[0] = ObjectIdGetDatum(relid);
	args[1] = DateADTGetDatum(span->first_day);
	args[2] = DateADTGetDatum(span->end_day);
	args[3] = bad;
	args[4] = with_fn ?
		DirectFunctionCall1(scaler_rollup_name_key,
							CStringGetTextDatum(function_name)) : (Datum) 0;
	ret = SPI_execute_plan(plan_slots[with_fn], args, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading rollup slots failed: %s", SPI_result_code_string(ret));
}

/* Row i of cover_read_slots' result: its day, and its value (isnull). */
static Datum
slot_at(uint64 i, DateADT *day, bool *isnull)
{
	bool		day_null;

	*day = DatumGetDateADT(SPI_getbinval(SPI_tuptable->vals[i],
										 SPI_tuptable->tupdesc, 1, &day_null));
	return SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, isnull);
}

/*
 * Merge the valid slots of the span into a traffic value owned by context
 * (NULL when none has rows).  A slot wholly inside the span is parsed
 * straight into the result (no aggregate state to flatten and parse
 * again); one at an edge gives its quarters inside the span.  Days come in
 * order, so the rows of one are appended after those of the day before and
 * need no sort.
 */
static Traffic *
cover_merge_slots(Oid relid, const char *function_name, const CoverSpan *span,
				  Datum bad, MemoryContext context)
{
	int64		first_quarter = span->from / USECS_PER_QUARTER;
	int64		end_quarter = -floor_div(-span->to, USECS_PER_QUARTER);
	Traffic    *merged = NULL;
	uint64		i;

	cover_read_slots(relid, function_name, span, bad);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		DateADT		day;
		Datum		d = slot_at(i, &day, &isnull);
		TimestampTz day_start = (int64) day * USECS_PER_DAY;

		CHECK_FOR_INTERRUPTS();
		if (isnull)
			continue;
		if (merged == NULL)
			merged = traffic_create(context);
		if (day_start >= span->from && day_start + USECS_PER_DAY <= span->to)
			traffic_add_datum(merged, d);
		else
			traffic_merge_range(merged, traffic_from_datum(d), first_quarter, end_quarter);
	}
	return merged;
}

/*
 * The valid slots of the span one by one, into cover (arrays in context):
 * their values are copied as stored, a toast pointer as a toast pointer,
 * so that a reader detoasts one day at a time while it reports (the toast
 * rows stay visible to the statement's snapshot).
 */
static void
cover_list_slots(Oid relid, const char *function_name, const CoverSpan *span,
				 Datum bad, MemoryContext context, RollupCover *cover)
{
	uint64		i;

	cover_read_slots(relid, function_name, span, bad);
	cover->first_quarter = span->from / USECS_PER_QUARTER;
	cover->end_quarter = -floor_div(-span->to, USECS_PER_QUARTER);
	cover->day_from = MemoryContextAlloc(context, sizeof(TimestampTz) * (SPI_processed + 1));
	cover->day_values = MemoryContextAlloc(context, sizeof(Datum) * (SPI_processed + 1));
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		DateADT		day;
		Datum		d = slot_at(i, &day, &isnull);
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		if (isnull)
			continue;
		old = MemoryContextSwitchTo(context);
		cover->day_values[cover->ndays] = datumCopy(d, false, -1);
		MemoryContextSwitchTo(old);
		cover->day_from[cover->ndays] = Max((int64) day * USECS_PER_DAY, span->from);
		cover->ndays++;
	}
}

/*
 * Whether [since, until) of a source (of one function, when given) can use
 * its rollup, read as userid.  If so, cover->slots is the merge of the
 * valid slots inside the range (NULL: none had rows), owned by the caller's
 * memory context, and cover->from/until the ranges to read raw; together
 * they are exactly the range's rows.  Otherwise (no rollup, row-level
 * security, capture triggers missing, not allowed to read every column,
 * nothing to gain) false: read it all raw.  Runs inside the caller's
 * snapshot.
 */
static bool
cover_internal(Oid relid, TimestampTz since, TimestampTz until,
			   const char *function_name, Oid userid, bool by_day,
			   RollupCover *cover)
{
	MemoryContext caller = CurrentMemoryContext;
	Oid			owner;
	Oid			save_userid;
	int			save_sec_context;
	CoverSpan	span;
	Datum		bad;
	bool		used;

	cover->slots = NULL;
	cover->nranges = 0;
	cover->ndays = 0;
	cover->day_from = NULL;
	cover->day_values = NULL;
	if (!rollup_source_usable(relid, function_name != NULL, userid))
		return false;
	owner = rollup_tables_owner();
	if (!OidIsValid(owner))
		return false;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	become(owner, &save_userid, &save_sec_context);
	used = cover_span(relid, since, until, &span) &&
		cover_raw_ranges(relid, function_name, since, until, &span, cover, &bad);
	if (used && by_day)
		cover_list_slots(relid, function_name, &span, bad, caller, cover);
	else if (used)
		cover->slots = cover_merge_slots(relid, function_name, &span, bad, caller);
	else
		cover->nranges = 0;
	SetUserIdAndSecContext(save_userid, save_sec_context);
	SPI_finish();
	MemoryContextSwitchTo(caller);
	return used;
}

bool
rollup_cover(Oid relid, TimestampTz since, TimestampTz until,
			 const char *function_name, Oid userid, RollupCover *cover)
{
	return cover_internal(relid, since, until, function_name, userid, false,
						  cover);
}

/*
 * As rollup_cover, but the slots one by one (cover->ndays, day_from,
 * day_values) instead of merged, for a reader that reports them in time
 * order without building the value.
 */
bool
rollup_cover_days(Oid relid, TimestampTz since, TimestampTz until,
				  const char *function_name, Oid userid, RollupCover *cover)
{
	return cover_internal(relid, since, until, function_name, userid, true,
						  cover);
}

/* --------------------------------------------------------------- worker */

/*
 * The sources of every rollup, in a transaction of its own; the array is
 * in TopMemoryContext (NULL when there are none).
 */
static Oid *
rollup_sources(int *nsources)
{
	Oid		   *sources = NULL;
	int			i;
	int			ret;

	*nsources = 0;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (OidIsValid(rollup_tables_owner()))
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		ret = SPI_execute("SELECT source FROM scaler.rollup ORDER BY source", true, 0);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "listing rollups failed: %s", SPI_result_code_string(ret));
		*nsources = (int) SPI_processed;
		if (*nsources > 0)
			sources = MemoryContextAlloc(TopMemoryContext, sizeof(Oid) * *nsources);
		for (i = 0; i < *nsources; i++)
		{
			bool		isnull;

			sources[i] = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
														SPI_tuptable->tupdesc, 1, &isnull));
		}
		SPI_finish();
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	return sources;
}

/*
 * In a PG_CATCH of a transaction of the worker's own: the error, copied
 * into oldcontext, with the transaction aborted.  A cancel or a shutdown is
 * thrown on, so that the worker stops; any other error is the caller's to
 * report, one rollup failing not stopping the others.
 */
static ErrorData *
abort_failed_transaction(MemoryContext oldcontext)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(oldcontext);
	edata = CopyErrorData();
	FlushErrorState();
	AbortCurrentTransaction();
	if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED ||
		edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN)
		ReThrowError(edata);
	return edata;
}

/*
 * In the worker's upkeep, wait for no lock longer than scaler.policy_timeout,
 * until the transaction ends.  A writer of a source that keeps its
 * transaction open (its capture trigger holds the rollup's lock until
 * commit) or holds LOCK TABLE would otherwise hold the worker, and every
 * policy's evaluation with it, for as long as it likes; this way the step
 * fails (55P03, recorded as the rollup's last error) and is tried again
 * next tick.
 */
static void
bound_lock_waits(void)
{
	char		value[32];

	if (scaler_policy_timeout <= 0)
		return;
	snprintf(value, sizeof(value), "%d", scaler_policy_timeout);
	(void) set_config_option("lock_timeout", value, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
}

/*
 * One bounded refresh step of one rollup in a transaction of its own.
 * NULL when it went well; otherwise (the transaction aborted, a warning
 * logged) the error's message, in the caller's memory context.  A cancel
 * or shutdown is thrown on.
 */
static char *
refresh_rollup_step(Oid source)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	Datum		args[1];
	Oid			argtypes[1] = {OIDOID};
	char	   *volatile message = NULL;	/* set in PG_CATCH */

	args[0] = ObjectIdGetDatum(source);
	pgstat_report_activity(STATE_RUNNING, "refreshing rollups");
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	PG_TRY();
	{
		int			ret;

		bound_lock_waits();
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		ret = SPI_execute_with_args("SELECT scaler._refresh_rollup_step($1)",
									1, argtypes, args, NULL, false, 0);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "refreshing rollup failed: %s", SPI_result_code_string(ret));
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata = abort_failed_transaction(oldcontext);

		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("refreshing the rollup of relation %u failed: %s",
						source, edata->message)));
		message = pstrdup(edata->message);
		FreeErrorData(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcontext);
	return message;
}

/* Record a failed refresh as the rollup's last error, in a transaction of its own. */
static void
record_rollup_error(Oid source, const char *message)
{
	Oid			argtypes[2] = {OIDOID, TEXTOID};
	Datum		args[2];
	int			ret;

	args[0] = ObjectIdGetDatum(source);
	args[1] = CStringGetTextDatum(message);
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = SPI_execute_with_args("UPDATE scaler.rollup SET last_error = $2,"
								" last_error_at = pg_catalog.now()"
								" WHERE source OPERATOR(pg_catalog.=) $1",
								2, argtypes, args, NULL, false, 0);
	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "recording a rollup's error failed: %s",
			 SPI_result_code_string(ret));
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/*
 * The worker's refresh: one bounded step of every rollup, each in its own
 * transaction, so that its lock (which holds the source's writers back) is
 * released at once, and a failure is recorded as the rollup's last error
 * without touching the others or the policies.  Called outside any
 * transaction.
 */
void
scaler_refresh_rollups(void)
{
	int			nsources;
	Oid		   *sources = rollup_sources(&nsources);
	int			i;

	for (i = 0; i < nsources; i++)
	{
		char	   *message;

		CHECK_FOR_INTERRUPTS();
		message = refresh_rollup_step(sources[i]);
		if (message != NULL)
		{
			record_rollup_error(sources[i], message);
			pfree(message);
		}
	}
	if (sources != NULL)
		pfree(sources);
}

/* Run an upkeep function returning what it did (text[]), and log that. */
static void
run_upkeep(const char *function, const char *what)
{
	char	   *query = psprintf("SELECT pg_catalog.array_to_string(%s, ', ')", function);
	char	   *done;
	int			ret;

	ret = SPI_execute(query, false, 0);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "upkeep of %s failed: %s", what, SPI_result_code_string(ret));
	done = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (done != NULL && done[0] != '\0')
		ereport(LOG,
				(errmsg("scaler: %s: %s", what, done)));
}

/*
 * The worker's upkeep of scaler.request_log (partitions ahead, the DEFAULT
 * partition emptied into daily ones, retention) and of the pg_cron jobs of
 * scaler's schedules (their owners followed), in a transaction of its own;
 * a failure is logged and retried next tick.  Called outside any
 * transaction.
 */
void
scaler_maintain_request_log(void)
{
	MemoryContext oldcontext = CurrentMemoryContext;

	pgstat_report_activity(STATE_RUNNING, "maintaining scaler.request_log");
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	PG_TRY();
	{
		bound_lock_waits();
		if (OidIsValid(rollup_tables_owner()))
		{
			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "SPI_connect failed");
			run_upkeep("scaler._maintain_request_log()", "scaler.request_log");
			/* (not the request log's, but also once a tick) */
			run_upkeep("scaler._follow_job_owners()", "pg_cron jobs");
			SPI_finish();
		}
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata = abort_failed_transaction(oldcontext);

		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("maintaining scaler.request_log failed: %s", edata->message)));
		FreeErrorData(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcontext);
}
