/*-------------------------------------------------------------------------
 *
 * evaluate.c
 *	  Evaluating policies: read each policy's metric window through SPI,
 *	  run the rules of decide.c, record the decision and wake listeners.
 *
 * One run (a call of scaler.evaluate() or a worker tick):
 *
 *	1. lock the state rows of the policies to evaluate, FOR UPDATE SKIP
 *	   LOCKED.  A policy another session is evaluating right now is
 *	   skipped: that session decides, so two concurrent runs never make the
 *	   same decision twice.  Nothing in a run waits for another run: the
 *	   row locks are skipped, decision ids take no lock (below) and
 *	   retention skips the rows another run is deleting.
 *	2. a policy whose last evaluation is later than this run's time (a
 *	   caller with an old statement time that got the row lock after a
 *	   newer run committed) is skipped: the newer run has decided, and
 *	   evaluating in the past would write the stabilization history out of
 *	   time order.
 *	3. each policy is measured and decided in its own subtransaction,
 *	   bounded by scaler.policy_timeout: a failure (dropped source, revoked
 *	   privilege, dropped owner, a source slower than the timeout) is rolled
 *	   back, logged and kept in the policy's state, and the other policies
 *	   go on.  Everything read from one policy's row is converted in there
 *	   too, so nothing about one policy can fail another; a stored decision
 *	   state that is not valid is reset, with a warning, instead of failing
 *	   the policy for ever.  The outcome (decision row, state) is then
 *	   written by the top transaction, so the read-only subtransactions
 *	   never take an xid.
 *	4. the window is read as the policy owner (SECURITY_RESTRICTED_OPERATION),
 *	   so the source's privileges and row-level security apply to the owner,
 *	   whoever calls evaluate().  The query is an index range scan on
 *	   (function_name, ts) over the window only, so a tick's cost does not
 *	   grow with the log table.  Plans are prepared once per backend per
 *	   (source, metric) and kept.  The source is followed by OID: it is
 *	   locked by OID first, and a kept plan made under a name the relation
 *	   no longer has (ALTER TABLE RENAME, SET SCHEMA, ALTER SCHEMA RENAME)
 *	   is dropped and made again from the relation's current name, so a
 *	   relation another role creates under the old name is never read.
 *	   A keep_alive 'auto' policy without an idle-time histogram learns it
 *	   first from the source's last day, read the same way (one aggregate
 *	   query as the owner, within scaler.policy_timeout; keepalive_learn).
 *	5. a decision is a scaler.decision row plus a NOTIFY on the policy's
 *	   channel.
 *
 * Decision ids must become visible in id order to listeners: they catch up
 * by reading "id > last seen", so if id 7 committed after id 8, a listener
 * that read 8 in between would never see 7.  Transactions commit in any
 * order, and holding a lock from taking an id to commit would let one open
 * transaction that called evaluate() stop the worker.  Instead, readers stop
 * short (scaler._decision_horizon() in SQL): a writer takes its xid before
 * its decision id, and stores in the row (xid_bound) the next xid as it is
 * after taking the id.  Every transaction that took a smaller id had its
 * xid by then, so it is below xid_bound; a reader returns decisions only up
 * to the newest one none of whose writers below xid_bound may still be
 * running (scaler._decision_horizon, src/sql/30_internal.sql).  Writers
 * never wait for each other.
 *
 * A full NOTIFY queue makes the committing transaction fail, which would
 * take the decision rows with it.  The worker therefore commits decisions
 * first and sends the NOTIFYs in a second transaction (scaler_send_wakeups);
 * if that fails, it logs the missed wake-up and listeners catch up from the
 * table.  scaler.evaluate() runs inside the caller's transaction and cannot
 * commit early, so it checks the queue first: when the queue is half full
 * (it is 8 GB by default; that takes a listener stuck for a long time), it
 * records the decisions without NOTIFY and warns.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgrprotos.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/syscache.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"

#include "citus.h"
#include "decide.h"
#include "evaluate.h"
#include "keepalive.h"
#include "policy.h"
#include "scaler.h"

PG_FUNCTION_INFO_V1(scaler_evaluate_internal);

/*
 * A policy with its stored state, copied out of SPI.  Only what nothing can
 * fail to read is taken by load_policies (the name, the capacity, the
 * floor, the evaluation times); the row itself is kept and converted by
 * prepare_policy (scaler_policy_from_datums, the loader every path uses),
 * in the policy's own subtransaction.
 */
typedef struct PolicyRow
{
	char	   *name;
	int			capacity;
	int			floor;
	bool		evaluated;		/* has a last_evaluated_at */
	TimestampTz last_evaluated_at;
	char	   *failing_with;	/* last_error while still failing, else NULL */
	HeapTuple	row;			/* the policy and its state, as read */
	TupleDesc	desc;
	ScalerPolicySettings settings;	/* by prepare_policy */
	bool		state_reset;	/* the stored state was invalid and is reset */
	ScalerDecideState state;
	ScalerKeepAliveState keep_alive_state;
} PolicyRow;

/* Kept window plans, one per (source, metric, all functions or one). */
typedef struct WindowPlanKey
{
	Oid			source;
	int			metric;
	bool		all_functions;
} WindowPlanKey;

typedef struct WindowPlan
{
	WindowPlanKey key;
	SPIPlanPtr	plan;
	char	   *source_name;	/* the qualified name the plan reads */
	uint64		last_run;		/* window_run when it was last used */
} WindowPlan;

static HTAB *window_plans = NULL;

/* Runs over every policy so far: a plan no such run used is freed. */
static uint64 window_run = 0;

/* scaler.policy_timeout: our own timeout, registered once per backend */
static TimeoutId policy_timeout_id = MAX_TIMEOUTS;
static volatile sig_atomic_t policy_timeout_fired = false;

static SPIPlanPtr plan_init_state = NULL;
static SPIPlanPtr plan_policies = NULL;
static SPIPlanPtr plan_exists = NULL;
static SPIPlanPtr plan_update_state = NULL;
static SPIPlanPtr plan_error_state = NULL;
static SPIPlanPtr plan_reset_state = NULL;
static SPIPlanPtr plan_decision_id = NULL;
static SPIPlanPtr plan_insert_decision = NULL;
static SPIPlanPtr plan_retention = NULL;

/*
 * Prepare a statement once per backend.  Kept plans are revalidated by the
 * plan cache, so they survive DROP/CREATE EXTENSION (names are re-resolved).
 *
 * All our statements use generic plans (CURSOR_OPT_GENERIC_PLAN; the window
 * query not where Citus is installed, see window_plan).  They are
 * index lookups whatever the parameters, and left to itself the plan cache
 * would keep planning the window query afresh every time: its custom plans
 * look cheaper than the generic one because they see how narrow the time
 * range is, and planning a range at the end of ts probes the index for the
 * column's actual maximum, a cost that grows with the table.
 */
static SPIPlanPtr
kept_plan(SPIPlanPtr *slot, const char *sql, int nargs, Oid *argtypes)
{
	if (*slot == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, argtypes,
											  CURSOR_OPT_GENERIC_PLAN);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s",
				 sql, SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		*slot = plan;
	}
	return *slot;
}

/*
 * The window query for a policy: the metric's counters (metric.c) over
 * (start, end], then over the panic tail (panic_start, end].  Parameters: $1 function name,
 * $2 panic start, $3 window start, $4 window end.  Must run as the owner,
 * with the source locked and source_name its current qualified name: a
 * kept plan made under another name is made again (a kept plan re-parses
 * its text when it is invalidated, so its text must name the relation by
 * the name it has now, which the lock keeps from changing).
 */
static SPIPlanPtr
window_plan(const ScalerPolicySettings *p, const char *source_name)
{
	WindowPlanKey key;
	WindowPlan *entry;
	bool		found;
	Oid			argtypes[4] = {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID,
	TIMESTAMPTZOID};

	if (window_plans == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(WindowPlanKey);
		ctl.entrysize = sizeof(WindowPlan);
		window_plans = hash_create("scaler window plans", 64, &ctl,
								   HASH_ELEM | HASH_BLOBS);
	}

	memset(&key, 0, sizeof(key));
	key.source = p->source;
	key.metric = (int) p->metric;
	key.all_functions = (p->function_name == NULL);
	entry = hash_search(window_plans, &key, HASH_ENTER, &found);
	if (!found)
	{
		entry->plan = NULL;
		entry->source_name = NULL;
	}
	entry->last_run = window_run;
	if (entry->plan != NULL &&
		strcmp(entry->source_name, source_name) != 0)
	{
		/* renamed or moved since the plan was made */
		SPI_freeplan(entry->plan);
		entry->plan = NULL;
	}
	if (entry->plan == NULL)
	{
		char	   *sql;

		sql = psprintf("SELECT %s, %s FROM %s "
					   "WHERE %sts OPERATOR(pg_catalog.>) $3 "
					   "AND ts OPERATOR(pg_catalog.<=) $4",
					   scaler_metric_counters_sql(p->metric, NULL),
					   scaler_metric_counters_sql(p->metric,
												  "ts OPERATOR(pg_catalog.>) $2"),
					   source_name,
					   key.all_functions ? "" :
					   "function_name OPERATOR(pg_catalog.=) $1 AND ");
		/*
		 * A custom plan where Citus is installed: Citus cannot plan a query
		 * over several shards with parameters it does not know (also not
		 * under plan_cache_mode = force_generic_plan), and the source may
		 * be one of its tables or a view of one.
		 */
		entry->plan = SPI_prepare_cursor(sql, 4, argtypes,
										 citus_installed() ?
										 CURSOR_OPT_CUSTOM_PLAN :
										 CURSOR_OPT_GENERIC_PLAN);
		if (entry->plan == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not prepare the window query of policy \"%s\": %s",
							p->name, SPI_result_code_string(SPI_result))));
		if (SPI_keepplan(entry->plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		if (entry->source_name != NULL)
			pfree(entry->source_name);
		entry->source_name = MemoryContextStrdup(TopMemoryContext, source_name);
	}
	return entry->plan;
}

/* Counters from columns first.. of the window query (metric.c's order). */
static void
get_counts(HeapTuple tuple, TupleDesc desc, int first, ScalerCounts *c)
{
	bool		isnull;
	Datum		d;

	memset(c, 0, sizeof(ScalerCounts));
	d = SPI_getbinval(tuple, desc, first, &isnull);
	c->requests = isnull ? 0 : DatumGetInt64(d);
	d = SPI_getbinval(tuple, desc, first + 1, &isnull);
	c->with_duration = isnull ? 0 : DatumGetInt64(d);
	d = SPI_getbinval(tuple, desc, first + 2, &isnull);
	c->busy_ms = isnull ? 0.0 : DatumGetFloat8(d);
	d = SPI_getbinval(tuple, desc, first + 3, &isnull);
	c->with_status = isnull ? 0 : DatumGetInt64(d);
	d = SPI_getbinval(tuple, desc, first + 4, &isnull);
	c->errors = isnull ? 0 : DatumGetInt64(d);
	d = SPI_getbinval(tuple, desc, first + 5, &isnull);
	c->has_p95 = !isnull;
	c->p95_ms = isnull ? 0.0 : DatumGetFloat8(d);
}

/*
 * Read the policy's window as its owner and fill the measured fields of *in.
 */
static void
read_window(const ScalerPolicySettings *p, TimestampTz now,
			ScalerDecideInput *in)
{
	char	   *source_name;
	ScalerOwnerScope owner_scope;
	SPIPlanPtr	plan;
	Datum		args[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	TimestampTz start = now - p->stable_window;
	TimestampTz panic_start = now - p->stable_window / 10;
	ScalerCounts window;
	ScalerCounts tail;
	int			ret;

	/*
	 * The source by OID, locked (scaler_source_name): a kept plan made under
	 * a name the relation no longer has is made again (window_plan).
	 */
	source_name = scaler_source_name(p);

	/* plan and run as the owner; errors restore the user at subxact abort */
	scaler_become_owner(p, &owner_scope);

	plan = window_plan(p, source_name);
	args[0] = p->function_name ? CStringGetTextDatum(p->function_name) : (Datum) 0;
	if (p->function_name == NULL)
		nulls[0] = 'n';
	args[1] = TimestampTzGetDatum(panic_start);
	args[2] = TimestampTzGetDatum(start);
	args[3] = TimestampTzGetDatum(now);
	ret = SPI_execute_plan(plan, args, nulls, false, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "window query of policy \"%s\" failed: %s",
			 p->name, SPI_result_code_string(ret));

	scaler_end_role(&owner_scope);

	get_counts(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &window);
	get_counts(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 7, &tail);
	scaler_metric_input(p->metric, &window, &tail, p->stable_window, in);
	SPI_freetuptable(SPI_tuptable);
}

/*
 * After a run over every policy, free the window plans it did not use:
 * those of sources no policy reads any more (dropped, disabled, or moved to
 * another source or metric).  A backend that evaluates for months, the
 * worker above all, would otherwise keep a plan of every source it ever
 * read, some 50 kB each.  A policy evaluated later makes its plan again.
 */
static void
forget_unused_window_plans(void)
{
	HASH_SEQ_STATUS status;
	WindowPlan *entry;

	if (window_plans == NULL)
		return;
	hash_seq_init(&status, window_plans);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (entry->last_run == window_run)
			continue;
		if (entry->plan != NULL)
			SPI_freeplan(entry->plan);
		if (entry->source_name != NULL)
			pfree(entry->source_name);
		/* (dynahash allows removing the entry just returned) */
		(void) hash_search(window_plans, &entry->key, HASH_REMOVE, NULL);
	}
}

/* The window plans this backend keeps (a test hook, src/testhooks.c). */
long
scaler_window_plan_count(void)
{
	return window_plans != NULL ? hash_get_num_entries(window_plans) : 0;
}

/*
 * Take the next decision id and its xid_bound; see the file header.  The
 * transaction's xid is taken first, so that a reader can tell that we may
 * hold ids below any writer's bound taken after ours.
 */
static int64
take_decision_id(FullTransactionId *xid_bound)
{
	Oid			nsp = get_namespace_oid("scaler", false);
	Oid			decision = get_relname_relid("decision", nsp);
	Oid			types[1] = {REGCLASSOID};
	Datum		args[1];
	bool		isnull;
	int64		id;
	int			ret;

	if (!OidIsValid(decision))
		elog(ERROR, "table scaler.decision does not exist");
	(void) GetTopTransactionId();

	kept_plan(&plan_decision_id, "SELECT pg_catalog.nextval($1)", 1, types);
	args[0] = ObjectIdGetDatum(getIdentitySequence(decision, 1, false));
	ret = SPI_execute_plan(plan_decision_id, args, NULL, false, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "taking a decision id failed: %s",
			 SPI_result_code_string(ret));
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									 SPI_tuptable->tupdesc, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);

	/* after nextval: every xid taken before our id is below this */
	*xid_bound = ReadNextFullTransactionId();
	return id;
}

/*
 * Convert the row load_policies kept: the settings (the loader every path
 * uses) and the decision state.  A state that is not valid, or that holds
 * times after this evaluation (it cannot have come from an evaluation at or
 * before now), is reset with a warning and written back by this evaluation.
 */
static void
prepare_policy(PolicyRow *p, TimestampTz now)
{
	static const char *const state_columns[SCALER_STATE_NCOLS] = {
		"panic_at", "panic_capacity", "history_at", "history_desired"
	};
	Datum	   *values = palloc(sizeof(Datum) * p->desc->natts);
	bool	   *nulls = palloc(sizeof(bool) * p->desc->natts);
	Datum		state_values[SCALER_STATE_NCOLS];
	bool		state_nulls[SCALER_STATE_NCOLS];
	const char *problem = NULL;
	int			i;

	heap_deform_tuple(p->row, p->desc, values, nulls);
	scaler_policy_from_datums(p->desc, values, nulls, &p->settings);
	for (i = 0; i < SCALER_STATE_NCOLS; i++)
	{
		int			c = scaler_column_of(p->desc, state_columns[i]);

		state_values[i] = values[c];
		state_nulls[i] = nulls[c];
	}

	p->state_reset = false;
	if (scaler_state_from_datums_checked(state_values, state_nulls,
										 &p->state, &problem))
	{
		if (p->state.panicking && p->state.panic_at > now)
			problem = "panic_at is later than the evaluation.";
		for (i = 0; i < p->state.nhistory && problem == NULL; i++)
			if (p->state.history_at[i] > now)
				problem = "The history has entries later than the evaluation.";
	}
	if (problem != NULL)
	{
		ereport(WARNING,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("decision state of scaler policy \"%s\" is not valid, resetting it",
						p->name),
				 errdetail("%s", problem),
				 errhint("Panic mode and scale-in stabilization of the policy start afresh.")));
		scaler_state_init(&p->state);
		p->state_reset = true;
	}
}

/* ------------------------------------------------------------ keep-alive */

static SPIPlanPtr plan_keepalive_store = NULL;

/*
 * Read the policy's stored keep-alive state into p->keep_alive_state: the
 * end of the last window with requests and, for 'auto', the idle-time
 * histogram, both from the row load_policies read and locked (not from a
 * query of their own: a read-only query would see the snapshot of the
 * caller's statement, not what an evaluation earlier in the same statement
 * wrote).  Returns whether a histogram was read; a histogram that is not
 * what this version writes (damaged, or from another layout) counts as
 * none and is learned again.
 */
static bool
keepalive_read_state(PolicyRow *p)
{
	Datum		d;
	bool		isnull;
	bool		valid = false;

	scaler_keepalive_init(&p->keep_alive_state);
	d = heap_getattr(p->row, scaler_column_of(p->desc, "last_active_at") + 1,
					 p->desc, &isnull);
	if (!isnull)
	{
		p->keep_alive_state.has_last = true;
		p->keep_alive_state.last_active_at = DatumGetTimestampTz(d);
	}
	d = heap_getattr(p->row, scaler_column_of(p->desc, "last_step_at") + 1,
					 p->desc, &isnull);
	if (!isnull)
	{
		p->keep_alive_state.has_step = true;
		p->keep_alive_state.last_step_at = DatumGetTimestampTz(d);
	}
	d = heap_getattr(p->row, scaler_column_of(p->desc, "idle_histogram") + 1,
					 p->desc, &isnull);
	if (!isnull && p->settings.keep_alive.mode == SCALER_KEEPALIVE_AUTO)
	{
		ArrayType  *array = DatumGetArrayTypeP(d);
		Datum	   *elems;
		bool	   *elem_nulls;
		int			n;
		int			i;

		deconstruct_array(array, INT4OID, sizeof(int32), true, TYPALIGN_INT,
						  &elems, &elem_nulls, &n);
		valid = (n == SCALER_IDLE_BINS + 1);
		for (i = 0; valid && i < n; i++)
			valid = !elem_nulls[i] && DatumGetInt32(elems[i]) >= 0;
		if (valid)
		{
			for (i = 0; i < SCALER_IDLE_BINS; i++)
				p->keep_alive_state.counts[i] = DatumGetInt32(elems[i]);
			p->keep_alive_state.oob = DatumGetInt32(elems[SCALER_IDLE_BINS]);
		}
		else
			ereport(LOG,
					(errmsg("scaler: relearning the damaged idle-time histogram of policy \"%s\"",
							p->name)));
	}
	return valid;
}

/*
 * The step number of the rows' ts in SQL: step k (0-based) of a warm-up from
 * $2 in steps of $4 microseconds is ($2 + k * $4, $2 + (k + 1) * $4], as the
 * replay counts them.
 */
#define WARMUP_STEP_OF(ts) \
	"pg_catalog.div((EXTRACT(epoch FROM " ts " OPERATOR(pg_catalog.-) $2) " \
	"OPERATOR(pg_catalog.*) 1000000) OPERATOR(pg_catalog.-) 1, $4)::pg_catalog.int8"

/* In SQL, the instant `steps` steps of $4 microseconds after $2. */
#define WARMUP_STEP_START(steps) \
	"($2 OPERATOR(pg_catalog.+) ('1 microsecond'::pg_catalog.interval " \
	"OPERATOR(pg_catalog.*) (" steps " OPERATOR(pg_catalog.*) $4)::pg_catalog.float8))"

/*
 * Probing a function's steps one index probe at a time costs about 20
 * microseconds a step with requests; up to this many steps it is the way,
 * beyond it one pass over the rows.
 */
#define WARMUP_MAX_PROBED_STEPS	10000

/*
 * "SELECT <list> FROM <source> WHERE" the rows of the warm-up (of the
 * policy's function, if it has one): the query of keepalive_warmup_query.
 */
static char *
warmup_rows_sql(const ScalerPolicySettings *p, const char *list)
{
	return psprintf("SELECT %s FROM %s WHERE %sts OPERATOR(pg_catalog.>) $2 "
					"AND ts OPERATOR(pg_catalog.<=) $3",
					list, scaler_source_name(p),
					p->function_name ?
					"function_name OPERATOR(pg_catalog.=) $1 AND " : "");
}

/*
 * Run a query about the warm-up of (start, start + nsteps * window] as the
 * policy owner, over the source (followed by OID), with $1 the function
 * name, $2 start, $3 the warm-up's end and $4 the window in microseconds.
 * The result is SPI's tuptable, of one row.
 */
static Datum
keepalive_warmup_query(const ScalerPolicySettings *p, const char *sql,
					   TimestampTz start, int64 nsteps, bool *isnull)
{
	Oid			argtypes[4] = {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT8OID};
	Datum		args[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	ScalerOwnerScope owner_scope;
	int			ret;

	args[0] = p->function_name ? CStringGetTextDatum(p->function_name) : (Datum) 0;
	if (p->function_name == NULL)
		nulls[0] = 'n';
	args[1] = TimestampTzGetDatum(start);
	args[2] = TimestampTzGetDatum(start + nsteps * p->stable_window);
	args[3] = Int64GetDatum(p->stable_window);

	/* errors restore the user at subxact abort */
	scaler_become_owner(p, &owner_scope);
	ret = SPI_execute_with_args(sql, 4, argtypes, args, nulls, true, 1);
	scaler_end_role(&owner_scope);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "reading the idle times of policy \"%s\" failed: %s",
			 p->name, SPI_result_code_string(ret));
	return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, isnull);
}

/*
 * Whether every table that holds the source's rows (itself, or each of its
 * partitions) has a valid btree index on (function_name, ts, ...), which
 * makes a probe for a function's first row after a time one index descent.
 * Without one a probe reads the rows; a view says nothing, and counts as
 * without.
 */
static bool
source_has_probe_index(Oid source)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1];
	bool		isnull;
	Datum		d;
	int			ret;

	args[0] = ObjectIdGetDatum(source);
	ret = SPI_execute_with_args("SELECT pg_catalog.bool_and(EXISTS ("
								"SELECT FROM pg_catalog.pg_index i "
								"JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.indexrelid "
								"JOIN pg_catalog.pg_am am ON am.oid OPERATOR(pg_catalog.=) c.relam "
								"WHERE i.indrelid OPERATOR(pg_catalog.=) t.relid AND i.indisvalid "
								"AND i.indpred IS NULL AND am.amname OPERATOR(pg_catalog.=) 'btree' "
								"AND i.indnkeyatts OPERATOR(pg_catalog.>=) 2 "
								"AND i.indkey[0] OPERATOR(pg_catalog.=) (SELECT a.attnum FROM pg_catalog.pg_attribute a "
								"WHERE a.attrelid OPERATOR(pg_catalog.=) t.relid "
								"AND a.attname OPERATOR(pg_catalog.=) 'function_name' AND NOT a.attisdropped) "
								"AND i.indkey[1] OPERATOR(pg_catalog.=) (SELECT a.attnum FROM pg_catalog.pg_attribute a "
								"WHERE a.attrelid OPERATOR(pg_catalog.=) t.relid "
								"AND a.attname OPERATOR(pg_catalog.=) 'ts' AND NOT a.attisdropped))) "
								"FROM pg_catalog.pg_partition_tree($1) t WHERE t.isleaf",
								1, argtypes, args, NULL, true, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "reading the indexes of a source failed: %s",
			 SPI_result_code_string(ret));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	SPI_freetuptable(SPI_tuptable);
	return !isnull && DatumGetBool(d);
}

/*
 * Which warm-up steps had requests, as the policy owner: the distinct step
 * numbers of the rows of (start, start + nsteps * window], step k (0-based)
 * being (start + k * window, start + (k + 1) * window], as the replay
 * counts them.  At most nsteps numbers come back, whatever the rows.  For
 * one function over few enough steps, of a source with an index to probe,
 * each step with requests is found by one index probe (the first row after
 * the step before): a busy function's day is millions of rows, which one
 * pass would read and sort, for longer than scaler.policy_timeout.
 */
static void
keepalive_warmup_read(const ScalerPolicySettings *p, TimestampTz start,
					  int64 nsteps, bool *active)
{
	char	   *sql;
	Datum		d;
	bool		isnull;

	if (p->function_name != NULL && nsteps <= WARMUP_MAX_PROBED_STEPS &&
		source_has_probe_index(p->source))
		sql = psprintf("WITH RECURSIVE step(k) AS (SELECT (%s) "
					   "UNION ALL "
					   "SELECT (SELECT " WARMUP_STEP_OF("pg_catalog.min(ts)") " FROM %s "
					   "WHERE function_name OPERATOR(pg_catalog.=) $1 "
					   "AND ts OPERATOR(pg_catalog.>) " WARMUP_STEP_START("(step.k OPERATOR(pg_catalog.+) 1)") " "
					   "AND ts OPERATOR(pg_catalog.<=) $3) "
					   "FROM step WHERE step.k IS NOT NULL) "
					   "SELECT pg_catalog.array_agg(step.k) FROM step WHERE step.k IS NOT NULL",
					   warmup_rows_sql(p, WARMUP_STEP_OF("pg_catalog.min(ts)")),
					   scaler_source_name(p));
	else
		sql = warmup_rows_sql(p, "pg_catalog.array_agg(DISTINCT " WARMUP_STEP_OF("ts") ")");

	d = keepalive_warmup_query(p, sql, start, nsteps, &isnull);
	if (!isnull)
	{
		Datum	   *elems;
		bool	   *elem_nulls;
		int			n;
		int			i;

		deconstruct_array(DatumGetArrayTypeP(d), INT8OID, sizeof(int64),
						  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
						  &elems, &elem_nulls, &n);
		for (i = 0; i < n; i++)
		{
			int64		k = DatumGetInt64(elems[i]);

			if (!elem_nulls[i] && k >= 0 && k < nsteps)
				active[k] = true;
			CHECK_FOR_INTERRUPTS();
		}
	}
	SPI_freetuptable(SPI_tuptable);
}

/*
 * The last warm-up step with requests, or -1: one probe of the latest row.
 */
static int64
keepalive_warmup_last(const ScalerPolicySettings *p, TimestampTz start,
					  int64 nsteps)
{
	char	   *sql;
	Datum		d;
	bool		isnull;
	int64		k = -1;

	sql = warmup_rows_sql(p, WARMUP_STEP_OF("pg_catalog.max(ts)"));
	d = keepalive_warmup_query(p, sql, start, nsteps, &isnull);
	if (!isnull)
		k = DatumGetInt64(d);
	SPI_freetuptable(SPI_tuptable);
	return (k >= 0 && k < nsteps) ? k : -1;
}

/*
 * The warm-up before the window an evaluation at now reads: its steps, and
 * where they start (the replay's warm-up before since = now - window).
 */
static int64
live_warmup(const ScalerPolicySettings *s, TimestampTz now, TimestampTz *start)
{
	TimestampTz since = now - s->stable_window;
	int64		nsteps = scaler_keepalive_warmup_steps(since, s->stable_window);

	*start = since - nsteps * s->stable_window;
	return nsteps;
}

/*
 * First use of 'auto' (no histogram stored): learn the idle times from the
 * source's history, the warm-up day before the window this evaluation
 * reads, through the same helper as the replay, so that an evaluation at
 * now learns what scaler.backtest() from now - stable_window starts from.
 * The ends of the latest window and of the last step with requests are the
 * later of the stored ones and the history's.
 */
static void
keepalive_learn(PolicyRow *p, TimestampTz now)
{
	const ScalerPolicySettings *s = &p->settings;
	ScalerKeepAliveState learned;
	TimestampTz start;
	int64		nsteps = live_warmup(s, now, &start);
	bool	   *active;

	scaler_keepalive_init(&learned);
	if (nsteps > 0)
	{
		active = palloc0(sizeof(bool) * nsteps);
		keepalive_warmup_read(s, start, nsteps, active);
		scaler_keepalive_warm_up(&learned, start, s->stable_window, active,
								 nsteps);
		pfree(active);
	}
	if (p->keep_alive_state.has_last &&
		(!learned.has_last ||
		 p->keep_alive_state.last_active_at > learned.last_active_at))
	{
		learned.has_last = true;
		learned.last_active_at = p->keep_alive_state.last_active_at;
	}
	if (p->keep_alive_state.has_step &&
		(!learned.has_step ||
		 p->keep_alive_state.last_step_at > learned.last_step_at))
	{
		learned.has_step = true;
		learned.last_step_at = p->keep_alive_state.last_step_at;
	}
	p->keep_alive_state = learned;
}

/*
 * No last step with requests stored (a new policy, one that now watches
 * other traffic, or one whose keep-alive was none): the end of the last
 * step with requests in the warm-up day, as the replay starts from, so that
 * a fixed keep-alive keeps an instance for a request made before it knew.
 */
static void
keepalive_learn_last(PolicyRow *p, TimestampTz now)
{
	const ScalerPolicySettings *s = &p->settings;
	TimestampTz start;
	int64		nsteps = live_warmup(s, now, &start);
	int64		k;

	if (nsteps == 0)
		return;
	k = keepalive_warmup_last(s, start, nsteps);
	if (k >= 0)
	{
		p->keep_alive_state.has_last = true;
		p->keep_alive_state.last_active_at = start + (k + 1) * s->stable_window;
		if (!p->keep_alive_state.has_step)
		{
			p->keep_alive_state.has_step = true;
			p->keep_alive_state.last_step_at = p->keep_alive_state.last_active_at;
		}
	}
}

/*
 * The keep-alive of keepalive.c, after the rules of decide.c: read the
 * policy's keep-alive state (the end of the last window with requests, the
 * idle-time histogram, learned from the source on first use), account for
 * this window and raise a decision of zero to one instance while it should
 * be warm.  Runs in the policy's subtransaction (reads only);
 * keepalive_record writes the state afterwards.
 */
static void
keepalive_decide(PolicyRow *p, const ScalerDecideInput *in, ScalerDecision *out)
{
	const ScalerKeepAlive *ka = &p->settings.keep_alive;
	ScalerKeepAliveState *state = &p->keep_alive_state;
	bool		histogram;

	if (ka->mode == SCALER_KEEPALIVE_NONE)
		return;
	histogram = keepalive_read_state(p);

	/*
	 * A last window or step with requests after now is from before the
	 * clock was set back (prepare_policy resets the decision state then):
	 * forgotten, or no window would count until the clock caught up.
	 */
	if (state->has_last && state->last_active_at > in->now)
		state->has_last = false;
	if (state->has_step && state->last_step_at > in->now)
		state->has_step = false;
	if (!histogram && ka->mode == SCALER_KEEPALIVE_AUTO)
		keepalive_learn(p, in->now);
	else if (!state->has_last)
		keepalive_learn_last(p, in->now);

	scaler_keepalive_observe(&p->keep_alive_state, in->now,
							 p->settings.stable_window, in->rows);
	scaler_keepalive_apply(ka, &p->keep_alive_state, in, out);
}

/* Write the keep-alive state in the top transaction (row locked by us). */
static void
keepalive_record(const PolicyRow *p)
{
	Oid			types[4] = {TEXTOID, TIMESTAMPTZOID, INT4ARRAYOID, TIMESTAMPTZOID};
	Datum		args[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	Datum		elems[SCALER_IDLE_BINS + 1];
	int			ret;
	int			i;

	if (p->settings.keep_alive.mode == SCALER_KEEPALIVE_NONE)
		return;
	kept_plan(&plan_keepalive_store,
			  "UPDATE scaler.policy_state SET last_active_at = $2, idle_histogram = $3, "
			  "last_step_at = $4 WHERE policy OPERATOR(pg_catalog.=) $1",
			  4, types);
	args[0] = CStringGetTextDatum(p->name);
	args[1] = TimestampTzGetDatum(p->keep_alive_state.last_active_at);
	if (!p->keep_alive_state.has_last)
		nulls[1] = 'n';
	args[3] = TimestampTzGetDatum(p->keep_alive_state.last_step_at);
	if (!p->keep_alive_state.has_step)
		nulls[3] = 'n';
	if (p->settings.keep_alive.mode == SCALER_KEEPALIVE_AUTO)
	{
		for (i = 0; i < SCALER_IDLE_BINS; i++)
			elems[i] = Int32GetDatum(p->keep_alive_state.counts[i]);
		elems[SCALER_IDLE_BINS] = Int32GetDatum(p->keep_alive_state.oob);
		args[2] = PointerGetDatum(construct_array(elems, SCALER_IDLE_BINS + 1,
												  INT4OID, sizeof(int32), true,
												  TYPALIGN_INT));
	}
	else
	{
		args[2] = (Datum) 0;
		nulls[2] = 'n';
	}
	ret = SPI_execute_plan(plan_keepalive_store, args, nulls, false, 0);
	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "updating the keep-alive of policy \"%s\" failed: %s",
			 p->name, SPI_result_code_string(ret));
}

/*
 * Measure one policy's window and decide.  Runs in the policy's own
 * subtransaction; it only reads (what the owner's code in the source
 * writes is rolled back with it, see evaluate_one), so the subtransaction
 * never gets an xid of its own (a thousand subxids per tick would overflow
 * every backend's snapshot subxid cache and slow down all concurrent
 * sessions).
 */
static void
measure_and_decide(PolicyRow *p, TimestampTz now, ScalerDecideInput *in,
				   ScalerDecision *out)
{
	prepare_policy(p, now);
	scaler_policy_decide_input(&p->settings, p->capacity, p->floor, now, in);
	read_window(&p->settings, now, in);
	scaler_decide(in, &p->state, out);
	keepalive_decide(p, in, out);
}

/*
 * Record the outcome in the top transaction: the decision row when the
 * capacity changes, and the policy state.  Returns the wake-up for a
 * decision (allocated in result_cxt), or NULL when the capacity stays.
 */
static ScalerWakeup *
record_outcome(PolicyRow *p, TimestampTz now, const ScalerDecideInput *in,
			   const ScalerDecision *out, MemoryContext result_cxt)
{
	ScalerWakeup *wakeup = NULL;
	Datum		args[10];
	char		nulls[10];
	Datum		state_values[SCALER_STATE_NCOLS];
	bool		state_nulls[SCALER_STATE_NCOLS];
	bool		isnull;
	int			ret;
	int			i;

	memset(nulls, ' ', sizeof(nulls));
	args[0] = CStringGetTextDatum(p->name);

	if (out->desired != p->capacity)
	{
		Oid			types[10] = {TEXTOID, TIMESTAMPTZOID, TEXTOID, FLOAT8OID,
		FLOAT8OID, INT4OID, INT4OID, TEXTOID, INT8OID, XID8OID};
		HeapTuple	tuple;
		MemoryContext old;
		FullTransactionId xid_bound;

		args[8] = Int64GetDatum(take_decision_id(&xid_bound));
		args[9] = FullTransactionIdGetDatum(xid_bound);
		kept_plan(&plan_insert_decision,
				  "INSERT INTO scaler.decision AS d (id, policy, decided_at, metric, value, target, "
				  "from_capacity, to_capacity, reason, xid_bound) "
				  "OVERRIDING SYSTEM VALUE "
				  "VALUES ($9, $1, $2, $3, $4, $5, $6, $7, $8, $10) "
				  "RETURNING d.id, scaler._decision_payload(d)",
				  10, types);
		args[1] = TimestampTzGetDatum(now);
		args[2] = CStringGetTextDatum(scaler_metric_name(p->settings.metric));
		args[3] = Float8GetDatum(in->value);
		if (!in->has_value)
			nulls[3] = 'n';
		args[4] = Float8GetDatum(p->settings.target);
		args[5] = Int32GetDatum(p->capacity);
		args[6] = Int32GetDatum(out->desired);
		args[7] = CStringGetTextDatum(scaler_reason_name(out->reason));
		ret = SPI_execute_plan(plan_insert_decision, args, nulls, false, 0);
		if (ret != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
			elog(ERROR, "recording the decision of policy \"%s\" failed: %s",
				 p->name, SPI_result_code_string(ret));

		tuple = SPI_tuptable->vals[0];
		old = MemoryContextSwitchTo(result_cxt);
		wakeup = palloc(sizeof(ScalerWakeup));
		wakeup->id = DatumGetInt64(SPI_getbinval(tuple, SPI_tuptable->tupdesc,
												 1, &isnull));
		wakeup->payload = SPI_getvalue(tuple, SPI_tuptable->tupdesc, 2);
		wakeup->channel = pstrdup(p->settings.channel);
		MemoryContextSwitchTo(old);
		SPI_freetuptable(SPI_tuptable);
	}

	{
		Oid			types[9] = {TEXTOID, INT4OID, FLOAT8OID, TIMESTAMPTZOID,
			TIMESTAMPTZOID, INT4OID, TIMESTAMPTZARRAYOID, INT4ARRAYOID, INT8OID};

		kept_plan(&plan_update_state,
				  "UPDATE scaler.policy_state SET capacity = $2, last_value = $3, "
				  "last_evaluated_at = $4, panic_at = $5, panic_capacity = $6, "
				  "history_at = $7, history_desired = $8, "
				  "last_decision_id = COALESCE($9, last_decision_id) "
				  "WHERE policy = $1",
				  9, types);
	}
	memset(nulls, ' ', sizeof(nulls));
	args[1] = Int32GetDatum(out->desired);
	args[2] = Float8GetDatum(in->value);
	if (!in->has_value)
		nulls[2] = 'n';
	args[3] = TimestampTzGetDatum(now);
	scaler_state_to_datums(&p->state, state_values, state_nulls);
	for (i = 0; i < SCALER_STATE_NCOLS; i++)
	{
		args[4 + i] = state_values[i];
		nulls[4 + i] = state_nulls[i] ? 'n' : ' ';
	}
	args[8] = Int64GetDatum(wakeup ? wakeup->id : 0);
	if (wakeup == NULL)
		nulls[8] = 'n';
	ret = SPI_execute_plan(plan_update_state, args, nulls, false, 0);
	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "updating the state of policy \"%s\" failed: %s",
			 p->name, SPI_result_code_string(ret));

	return wakeup;
}

/*
 * Keep a failed policy's error in its state row (still locked by us).  A
 * decision state found invalid before the failure is reset too, so that it
 * is reported once, not on every evaluation.
 */
static void
record_failure(const PolicyRow *p, const char *message, TimestampTz now)
{
	Oid			types[3] = {TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		args[3];
	int			ret;

	if (p->state_reset)
	{
		kept_plan(&plan_reset_state,
				  "UPDATE scaler.policy_state SET panic_at = NULL, panic_capacity = NULL, "
				  "history_at = '{}', history_desired = '{}' WHERE policy = $1",
				  1, types);
		args[0] = CStringGetTextDatum(p->name);
		ret = SPI_execute_plan(plan_reset_state, args, NULL, false, 0);
		if (ret != SPI_OK_UPDATE)
			elog(ERROR, "resetting the state of policy \"%s\" failed: %s",
				 p->name, SPI_result_code_string(ret));
	}

	kept_plan(&plan_error_state,
			  "UPDATE scaler.policy_state SET last_error = $2, last_error_at = $3 "
			  "WHERE policy = $1",
			  3, types);
	args[0] = CStringGetTextDatum(p->name);
	args[1] = CStringGetTextDatum(message);
	args[2] = TimestampTzGetDatum(now);
	ret = SPI_execute_plan(plan_error_state, args, NULL, false, 0);
	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "recording the failure of policy \"%s\" failed: %s",
			 p->name, SPI_result_code_string(ret));
}

/*
 * Copy the locked policies out of SPI memory: the row of each (converted
 * later, in the policy's subtransaction) and what may not fail to read.
 */
static PolicyRow *
load_policies(const char *only, TimestampTz now, int *npolicies)
{
	Oid			types[2] = {TEXTOID, TIMESTAMPTZOID};
	Datum		args[2];
	char		nulls[2] = {' ', ' '};
	PolicyRow  *rows;
	TupleDesc	desc;
	int			name_col;
	int			capacity_col;
	int			floor_col;
	int			failing_col;
	int			evaluated_col;
	uint64		i;
	int			ret;

	kept_plan(&plan_policies,
			  "SELECT p.*, s.capacity, s.panic_at, s.panic_capacity, s.history_at, "
			  "s.history_desired, s.last_active_at, s.idle_histogram, s.last_step_at, "
			  "COALESCE(fl.floor, 0) AS active_floor, "
			  "CASE WHEN f.failing THEN s.last_error END AS failing_with, "
			  "s.last_evaluated_at "
			  "FROM scaler.policy p JOIN scaler.policy_state s ON s.policy = p.name "
			  "CROSS JOIN LATERAL (SELECT COALESCE(s.last_error_at > s.last_evaluated_at, "
			  "s.last_evaluated_at IS NULL AND s.last_error_at IS NOT NULL) AS failing) f "
			  /* the floor rule, as scaler.active_floor() answers it */
			  "LEFT JOIN scaler._active_floors($2) fl ON fl.policy = p.name "
			  "WHERE CASE WHEN $1 IS NULL THEN p.enabled ELSE p.name = $1 END "
			  /* failing policies last, the longest failing first (see below) */
			  "ORDER BY f.failing, CASE WHEN f.failing THEN s.last_error_at END, p.name "
			  "FOR UPDATE OF s SKIP LOCKED",
			  2, types);
	args[0] = only ? CStringGetTextDatum(only) : (Datum) 0;
	if (only == NULL)
		nulls[0] = 'n';
	args[1] = TimestampTzGetDatum(now);
	ret = SPI_execute_plan(plan_policies, args, nulls, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading the policies failed: %s",
			 SPI_result_code_string(ret));

	/* copies in this run's (SPI procedure) context */
	desc = CreateTupleDescCopy(SPI_tuptable->tupdesc);
	name_col = scaler_column_of(desc, "name") + 1;
	capacity_col = scaler_column_of(desc, "capacity") + 1;
	floor_col = scaler_column_of(desc, "active_floor") + 1;
	failing_col = scaler_column_of(desc, "failing_with") + 1;
	evaluated_col = scaler_column_of(desc, "last_evaluated_at") + 1;
	rows = palloc0(sizeof(PolicyRow) * Max(SPI_processed, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		PolicyRow  *p = &rows[i];
		bool		isnull;
		Datum		d;

		/* nothing here may fail for one policy: see prepare_policy */
		p->row = heap_copytuple(tuple);
		p->desc = desc;
		p->name = SPI_getvalue(tuple, desc, name_col);
		p->capacity = DatumGetInt32(SPI_getbinval(tuple, desc, capacity_col,
												  &isnull));
		p->floor = DatumGetInt32(SPI_getbinval(tuple, desc, floor_col, &isnull));
		if (isnull)
			p->floor = 0;
		p->failing_with = SPI_getvalue(tuple, desc, failing_col);
		d = SPI_getbinval(tuple, desc, evaluated_col, &isnull);
		p->evaluated = !isnull;
		p->last_evaluated_at = isnull ? 0 : DatumGetTimestampTz(d);
	}
	*npolicies = (int) SPI_processed;
	return rows;
}

static bool
policy_exists(const char *name)
{
	Oid			types[1] = {TEXTOID};
	Datum		args[1];
	int			ret;

	kept_plan(&plan_exists,
			  "SELECT 1 FROM scaler.policy WHERE name = $1", 1, types);
	args[0] = CStringGetTextDatum(name);
	ret = SPI_execute_plan(plan_exists, args, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "looking up policy \"%s\" failed", name);
	return SPI_processed > 0;
}

/*
 * scaler.policy_timeout fired: cancel what runs now, as a statement timeout
 * does.  The flag tells the policy's error handler that the cancel is ours,
 * not the caller's.
 */
static void
policy_timeout_handler(void)
{
	policy_timeout_fired = true;
	QueryCancelPending = true;
	InterruptPending = true;
	SetLatch(MyLatch);
}

/* Arm scaler.policy_timeout for one policy's evaluation. */
static void
policy_timeout_start(void)
{
	policy_timeout_fired = false;
	if (scaler_policy_timeout <= 0)
		return;
	if (policy_timeout_id == MAX_TIMEOUTS)
		policy_timeout_id = RegisterTimeout(USER_TIMEOUT, policy_timeout_handler);
	enable_timeout_after(policy_timeout_id, scaler_policy_timeout);
}

/*
 * Disarm it.  Returns whether it fired.  When it fired after the work was
 * done (finished) but before it was disarmed, the cancel it requested is
 * withdrawn, lest it cancel the rest of the run instead.
 */
static bool
policy_timeout_stop(bool finished)
{
	bool		fired;

	if (policy_timeout_id != MAX_TIMEOUTS)
		disable_timeout(policy_timeout_id, false);
	fired = policy_timeout_fired;
	policy_timeout_fired = false;
	if (fired && finished)
		QueryCancelPending = false;
	return fired;
}

/* Can we still queue NOTIFYs without risking the commit? */
static bool
notify_queue_ok(void)
{
	LOCAL_FCINFO(fcinfo, 0);
	double		usage;

	InitFunctionCallInfoData(*fcinfo, NULL, 0, InvalidOid, NULL, NULL);
	usage = DatumGetFloat8(pg_notification_queue_usage(fcinfo));
	if (usage < 0.5)
		return true;
	ereport(WARNING,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("notification queue is %.0f%% full, so scaler decisions are recorded without NOTIFY",
					usage * 100),
			 errdetail("Listeners catch up by reading scaler.decision."),
			 errhint("A session that has executed LISTEN is probably stuck in a long transaction.")));
	return false;
}

/*
 * Evaluate the enabled policies (or the one named, enabled or not) now.
 * The caller has a transaction and an active snapshot.  With notify_now the
 * NOTIFYs are queued in this transaction; otherwise the caller sends them
 * after commit (scaler_send_wakeups).  Returns the ScalerWakeups of the
 * decisions made, in id order, allocated in result_cxt.
 */
List *
scaler_evaluate_policies(const char *only, bool notify_now,
						 MemoryContext result_cxt)
{
	return scaler_evaluate_policies_at(only, notify_now, result_cxt,
									   GetCurrentStatementStartTimestamp());
}

/*
 * Policies restored by pg_dump (only scaler.policy is dumped) or created
 * by hand get their state row here.
 */
static void
create_missing_states(void)
{
	int			ret;

	kept_plan(&plan_init_state,
			  "INSERT INTO scaler.policy_state (policy, capacity) "
			  "SELECT p.name, p.min_capacity FROM scaler.policy p "
			  "WHERE NOT EXISTS (SELECT FROM scaler.policy_state s WHERE s.policy = p.name) "
			  "ON CONFLICT (policy) DO NOTHING",
			  0, NULL);
	ret = SPI_execute_plan(plan_init_state, NULL, NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "creating policy state failed: %s",
			 SPI_result_code_string(ret));
}

/*
 * Report a policy's failure (edata, already out of the aborted
 * subtransaction) and keep it in the policy's state.  Our own timeout is
 * this policy's failure; any other cancel or timeout is for the whole run
 * and is thrown again.
 */
static void
policy_failed(const PolicyRow *p, ErrorData *edata, bool timed_out,
			  bool notify_now, TimestampTz now)
{
	if (timed_out && edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
	{
		char	   *message = psprintf("evaluation took longer than scaler.policy_timeout (%d ms)",
									   scaler_policy_timeout);

		pfree(edata->message);
		edata->message = message;
		edata->detail = NULL;
		edata->hint = pstrdup("Make the policy's source faster to read, or raise scaler.policy_timeout.");
	}
	else if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
		ReThrowError(edata);

	/*
	 * The worker logs a failure when it starts or changes, not every tick; a
	 * caller of evaluate() always hears about it.
	 */
	ereport((!notify_now && p->failing_with != NULL &&
			 strcmp(p->failing_with, edata->message) == 0) ?
			DEBUG1 : WARNING,
			(errcode(edata->sqlerrcode),
			 errmsg("evaluating scaler policy \"%s\" failed: %s",
					p->name, edata->message),
			 edata->detail ? errdetail("%s", edata->detail) : 0,
			 edata->hint ? errhint("%s", edata->hint) : 0));
	record_failure(p, edata->message, now);
}

/*
 * Measure and decide one policy in its own subtransaction, bounded by
 * scaler.policy_timeout.  Returns whether it succeeded; a failure is
 * reported and kept in the policy's state (policy_failed).
 *
 * The subtransaction is rolled back either way: measuring writes nothing,
 * and the result is in *in, *out and *p, in the caller's memory.  What the
 * owner's code in the source did goes with it: rows it wrote, and a NOTIFY
 * it queued, which would otherwise be sent at the commit of the whole run,
 * as the worker, and could fail that commit (a full notification queue),
 * losing every policy's decision.
 */
static bool
evaluate_one(PolicyRow *p, TimestampTz now, bool notify_now,
			 ScalerDecideInput *in, ScalerDecision *out)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	bool		ok;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
		policy_timeout_start();
		measure_and_decide(p, now, in, out);
		(void) policy_timeout_stop(true);
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
		ok = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		bool		timed_out = policy_timeout_stop(false);

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;

		policy_failed(p, edata, timed_out, notify_now, now);
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/*
 * Retention: decisions older than scaler.decision_retention go, and the
 * listeners' acknowledgements of them (which listen_subscribe would prune
 * too: nothing at or below them is left to deliver), or a listener that
 * runs for months keeps a row for every decision it ever acknowledged.
 * (Each acknowledgement is found by its primary key.)
 */
static void
delete_old_decisions(TimestampTz now)
{
	Oid			types[1] = {TIMESTAMPTZOID};
	Datum		args[1];
	int			ret;

	if (scaler_decision_retention <= 0)
		return;
	/* rows another run is deleting are its business: never wait */
	kept_plan(&plan_retention,
			  "WITH gone AS ("
			  " DELETE FROM scaler.decision WHERE id IN "
			  " (SELECT d.id FROM scaler.decision d WHERE d.decided_at < $1 "
			  " FOR UPDATE SKIP LOCKED) RETURNING id) "
			  "DELETE FROM scaler.subscription_ack a USING gone g, scaler.subscription s "
			  "WHERE a.subscription OPERATOR(pg_catalog.=) s.name "
			  "AND a.decision_id OPERATOR(pg_catalog.=) g.id",
			  1, types);
	args[0] = TimestampTzGetDatum(now -
								  (int64) scaler_decision_retention * USECS_PER_SEC);
	ret = SPI_execute_plan(plan_retention, args, NULL, false, 0);
	if (ret != SPI_OK_DELETE)
		elog(ERROR, "deleting old decisions failed: %s",
			 SPI_result_code_string(ret));
}

/*
 * Whether this backend is evaluating policies: a policy's source (the
 * owner's view) that called evaluate() would evaluate, inside the outer
 * run, the policies whose rows the outer run has locked already (a
 * transaction does not skip its own locks), and decide them twice.
 */
static bool evaluating = false;

static List *evaluate_policies(const char *only, bool notify_now,
							   MemoryContext result_cxt, TimestampTz now);

/*
 * The same, as if it were now: tests feed evaluation tick by tick at chosen
 * times (scaler._evaluate_at) to compare it with scaler.backtest().
 */
List *
scaler_evaluate_policies_at(const char *only, bool notify_now,
							MemoryContext result_cxt, TimestampTz now)
{
	List	   *wakeups;

	if (evaluating)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("scaler policies cannot be evaluated while they are being evaluated"),
				 errdetail("A policy's source cannot evaluate policies.")));
	evaluating = true;
	PG_TRY();
	{
		wakeups = evaluate_policies(only, notify_now, result_cxt, now);
	}
	PG_FINALLY();
	{
		evaluating = false;
	}
	PG_END_TRY();
	return wakeups;
}

static List *
evaluate_policies(const char *only, bool notify_now,
				  MemoryContext result_cxt, TimestampTz now)
{
	PolicyRow  *policies;
	int			npolicies;
	int			i;
	List	   *wakeups = NIL;
	bool		queue_checked = false;
	bool		queue_ok = true;
	TimestampTz failing_since = 0;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	if (only == NULL)
		window_run++;
	create_missing_states();
	policies = load_policies(only, now, &npolicies);
	if (only != NULL && npolicies == 0 && !policy_exists(only))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("policy \"%s\" does not exist", only)));

	for (i = 0; i < npolicies; i++)
	{
		PolicyRow  *p = &policies[i];
		ScalerWakeup *wakeup;
		ScalerDecideInput in;
		ScalerDecision out;
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();

		/*
		 * The worker evaluates the failing policies last, and spends about
		 * one scaler.policy_timeout of a tick on them: the rest wait for a
		 * later tick, the longest failing first.  A role's many slow
		 * policies (each cut off at the timeout) would otherwise make every
		 * tick that many timeouts long and hold every other decision back.
		 */
		if (p->failing_with != NULL && only == NULL && !notify_now &&
			scaler_policy_timeout > 0)
		{
			if (failing_since == 0)
				failing_since = GetCurrentTimestamp();
			else if (TimestampDifferenceExceeds(failing_since, GetCurrentTimestamp(),
												scaler_policy_timeout))
				continue;
		}

		/*
		 * Evaluated meanwhile at a later time by another run (we got the
		 * row lock after it committed): that run has decided.  A time
		 * more than a minute later than the clock is no such run but a
		 * clock that was set back: skipping until the clock passes it
		 * would freeze the policy silently (a day for a day), so it is
		 * evaluated, and its decision state, later than the evaluation,
		 * is reset.  (Within the minute, a step back of the clock holds
		 * the policy as a newer run would; tests stand in for newer runs
		 * with times seconds ahead.)
		 */
		if (p->evaluated && p->last_evaluated_at > now)
		{
			if (p->last_evaluated_at <= GetCurrentTimestamp() + USECS_PER_MINUTE)
			{
				elog(DEBUG1, "scaler policy \"%s\" was evaluated after this evaluation's time, skipping it",
					 p->name);
				continue;
			}
			ereport(WARNING,
					(errmsg("scaler policy \"%s\" was last evaluated at %s, later than the clock",
							p->name, timestamptz_to_str(p->last_evaluated_at)),
					 errdetail("Evaluating it now, as the clock may have been set back.")));
		}

		if (!evaluate_one(p, now, notify_now, &in, &out))
			continue;

		wakeup = record_outcome(p, now, &in, &out, result_cxt);
		keepalive_record(p);
		if (wakeup == NULL)
			continue;
		if (notify_now)
		{
			if (!queue_checked)
			{
				queue_ok = notify_queue_ok();
				queue_checked = true;
			}
			if (queue_ok)
				Async_Notify(p->settings.channel, wakeup->payload);
		}
		old = MemoryContextSwitchTo(result_cxt);
		wakeups = lappend(wakeups, wakeup);
		MemoryContextSwitchTo(old);
	}

	if (only == NULL)
		forget_unused_window_plans();
	delete_old_decisions(now);
	SPI_finish();
	return wakeups;
}

/*
 * Send the NOTIFYs of already committed decisions, in a transaction of
 * their own.  Called by the worker outside any transaction.  If the commit
 * fails (full queue), the decisions stay; the missed wake-up is logged.
 */
void
scaler_send_wakeups(List *wakeups)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ListCell   *lc;
	ScalerWakeup *first;
	ScalerWakeup *last;

	if (wakeups == NIL)
		return;
	first = (ScalerWakeup *) linitial(wakeups);
	last = (ScalerWakeup *) llast(wakeups);

	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		foreach(lc, wakeups)
		{
			ScalerWakeup *w = (ScalerWakeup *) lfirst(lc);

			Async_Notify(w->channel, w->payload);
		}
		CommitTransactionCommand();
		MemoryContextSwitchTo(oldcontext);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(oldcontext);
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("could not send the wake-up for scaler decisions " INT64_FORMAT " to " INT64_FORMAT ": %s",
						first->id, last->id, edata->message),
				 errdetail("The decisions are recorded; listeners catch up by reading scaler.decision.")));
		FreeErrorData(edata);
	}
	PG_END_TRY();
}

/*
 * scaler._evaluate(policy text) RETURNS bigint[]: the ids of the decisions
 * made.  Called by scaler.evaluate(), which returns the rows.  Also behind
 * scaler._evaluate_at(policy text, at timestamptz), the test hook.
 */
Datum
scaler_evaluate_internal(PG_FUNCTION_ARGS)
{
	char	   *only = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	List	   *wakeups;
	Datum	   *ids;
	int			n;
	int			i = 0;
	ListCell   *lc;

	/* scaler._evaluate_at(policy, at) passes the time to evaluate at */
	if (PG_NARGS() > 1 && !PG_ARGISNULL(1))
		wakeups = scaler_evaluate_policies_at(only, true, CurrentMemoryContext,
											  PG_GETARG_TIMESTAMPTZ(1));
	else
		wakeups = scaler_evaluate_policies(only, true, CurrentMemoryContext);
	n = list_length(wakeups);
	ids = palloc(sizeof(Datum) * Max(n, 1));
	foreach(lc, wakeups)
		ids[i++] = Int64GetDatum(((ScalerWakeup *) lfirst(lc))->id);

	PG_RETURN_ARRAYTYPE_P(construct_array(ids, n, INT8OID, sizeof(int64),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}
