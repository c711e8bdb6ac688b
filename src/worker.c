/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The background worker: a launcher, and the worker that evaluates
 *	  policies every scaler.naptime.
 *
 * Two processes, because a background worker can connect to one database
 * only once, and connecting to a database that does not exist is FATAL, so
 * a single worker would restart-loop (with a log line each time) while
 * scaler.database is missing.  The launcher ("scaler launcher") connects to
 * no database, checks that scaler.database exists, logs once while it does
 * not, and starts the worker ("scaler") as a dynamic background worker.  If
 * the worker exits, the launcher starts it again after scaler.naptime.
 *
 * The worker, each tick: a fresh memory context; SetCurrentStatementStart
 * Timestamp() (otherwise now() would stay at the worker's start); one
 * transaction in which the extension must exist (else one log line and a
 * quiet wait) and every enabled policy is evaluated in its own
 * subtransaction as its owner (evaluate.c); commit; then the NOTIFYs in a
 * second transaction, so a full notification queue cannot lose a decision;
 * then the tick's table statistics are reported (pgstat_report_stat, as a
 * backend does when it goes idle), or autovacuum would never see the
 * worker's updates of policy_state and deletes from decision.
 * Nothing is evaluated during recovery.  SIGHUP reloads the settings,
 * SIGTERM stops, and after a crash the postmaster restarts the launcher,
 * which starts the worker again.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/indexing.h"
#include "catalog/pg_database.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "evaluate.h"
#include "rollup.h"
#include "scaler.h"

/* Seconds the postmaster waits before restarting a launcher that failed. */
#define SCALER_LAUNCHER_RESTART 10

/*
 * Describe one of scaler's workers: both connect to a database once
 * recovery is over and run function of this library under name.
 */
static void
describe_worker(BackgroundWorker *worker, const char *function,
				const char *name, int restart_time)
{
	memset(worker, 0, sizeof(*worker));
	worker->bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker->bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker->bgw_restart_time = restart_time;
	snprintf(worker->bgw_library_name, BGW_MAXLEN, "scaler");
	snprintf(worker->bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(worker->bgw_name, BGW_MAXLEN, "%s", name);
	snprintf(worker->bgw_type, BGW_MAXLEN, "%s", name);
}

void
scaler_register_launcher(void)
{
	BackgroundWorker worker;

	describe_worker(&worker, "scaler_launcher_main", "scaler launcher",
					SCALER_LAUNCHER_RESTART);
	RegisterBackgroundWorker(&worker);
}

/* What the launcher finds of the worker's database. */
typedef enum WorkerDatabase
{
	WORKER_DATABASE_MISSING,
	WORKER_DATABASE_CLOSED,		/* exists, but takes no connection */
	WORKER_DATABASE_OPEN
} WorkerDatabase;

/*
 * Does the database exist, and may the worker connect to it?  A database
 * with ALLOW_CONNECTIONS false, or left invalid by an interrupted DROP
 * DATABASE, would make a worker started for it exit at once, to be started
 * again each naptime.  Without a database connection only the nailed
 * catalogs can be read, and not through their indexes, so this scans
 * pg_database the way the autovacuum launcher does.
 */
static WorkerDatabase
database_state(const char *name)
{
	WorkerDatabase state = WORKER_DATABASE_MISSING;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tuple;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tuple = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tuple);

		if (strcmp(NameStr(db->datname), name) == 0)
		{
			state = (db->datallowconn && !database_is_invalid_form(db)) ?
				WORKER_DATABASE_OPEN : WORKER_DATABASE_CLOSED;
			break;
		}
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return state;
}

static BackgroundWorkerHandle *
start_worker(bool *full_logged)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	describe_worker(&worker, "scaler_worker_main", "scaler",
					BGW_NEVER_RESTART);
	worker.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
	{
		/* retried every naptime; said once */
		if (*full_logged)
			return NULL;
		*full_logged = true;
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start the scaler worker"),
				 errhint("Increase max_worker_processes.")));
		return NULL;
	}
	*full_logged = false;
	return handle;
}

void
scaler_launcher_main(Datum main_arg)
{
	BackgroundWorkerHandle *handle = NULL;
	WorkerDatabase logged = WORKER_DATABASE_OPEN;	/* what we last said */
	bool		full_logged = false;
	TimestampTz not_before = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* no database: only shared catalogs, which is all we need */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_activity(STATE_RUNNING, "supervising the scaler worker");

	for (;;)
	{
		pid_t		pid;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		if (handle != NULL &&
			GetBackgroundWorkerPid(handle, &pid) == BGWH_STOPPED)
		{
			pfree(handle);
			handle = NULL;
			/* calm down before starting it again */
			not_before = GetCurrentTimestamp() +
				(int64) scaler_naptime * 1000;
		}

		if (handle == NULL && GetCurrentTimestamp() >= not_before)
		{
			WorkerDatabase state = database_state(scaler_database);

			if (state == WORKER_DATABASE_OPEN)
			{
				if (logged != WORKER_DATABASE_OPEN)
					ereport(LOG,
							(errmsg("scaler: database \"%s\" now accepts connections, starting the worker",
									scaler_database)));
				logged = WORKER_DATABASE_OPEN;
				handle = start_worker(&full_logged);
			}
			else if (state != logged)
			{
				if (state == WORKER_DATABASE_MISSING)
					ereport(LOG,
							(errmsg("scaler: database \"%s\" named by scaler.database does not exist; waiting for it",
									scaler_database),
							 errhint("Create the database, or set scaler.database and restart the server.")));
				else
					ereport(LOG,
							(errmsg("scaler: database \"%s\" named by scaler.database does not accept connections; waiting",
									scaler_database),
							 errhint("ALTER DATABASE %s ALLOW_CONNECTIONS true, or set scaler.database and restart the server.",
									 quote_identifier(scaler_database))));
				logged = state;
			}
		}

		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 scaler_naptime,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* What the worker last found of the extension in its database. */
typedef enum WorkerExtension
{
	WORKER_EXTENSION_UNKNOWN,	/* not looked yet */
	WORKER_EXTENSION_MISSING,
	WORKER_EXTENSION_OTHER_VERSION,
	WORKER_EXTENSION_READY
} WorkerExtension;

/*
 * The version of the extension installed in the worker's database, or NULL
 * when there is none, in the current memory context.
 */
static char *
installed_version(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	char	   *version = NULL;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum("scaler"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		bool		isnull;
		Datum		d = heap_getattr(tuple, Anum_pg_extension_extversion,
									 RelationGetDescr(rel), &isnull);

		if (!isnull)
			version = text_to_cstring(DatumGetTextPP(d));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return version;
}

/*
 * Whether the extension in the worker's database is the version this library
 * was built for, logging each change of that once.  A missing extension is
 * waited for; so is another version (a database still at 0.1 after the 0.2
 * package was installed), whose SQL objects this library's queries do not
 * match: every tick would fail until ALTER EXTENSION scaler UPDATE.
 */
static bool
extension_ready(WorkerExtension *seen)
{
	char	   *version = installed_version();
	WorkerExtension now;

	if (version == NULL)
		now = WORKER_EXTENSION_MISSING;
	else if (strcmp(version, SCALER_VERSION) != 0)
		now = WORKER_EXTENSION_OTHER_VERSION;
	else
		now = WORKER_EXTENSION_READY;

	if (now != *seen)
	{
		if (now == WORKER_EXTENSION_MISSING)
			ereport(LOG,
					(errmsg("scaler: extension \"scaler\" is not installed in database \"%s\"; waiting",
							scaler_database),
					 errhint("Run CREATE EXTENSION scaler in that database.")));
		else if (now == WORKER_EXTENSION_OTHER_VERSION)
			ereport(LOG,
					(errmsg("scaler: extension \"scaler\" in database \"%s\" is version %s, this library is version %s; waiting",
							scaler_database, version, SCALER_VERSION),
					 errhint("Run ALTER EXTENSION scaler UPDATE in that database.")));
		else if (*seen != WORKER_EXTENSION_UNKNOWN)
			ereport(LOG,
					(errmsg("scaler: extension \"scaler\" found in database \"%s\", evaluating policies",
							scaler_database)));
		*seen = now;
	}
	return now == WORKER_EXTENSION_READY;
}

/*
 * One tick.  Returns after committing; errors outside a policy's own
 * subtransaction propagate to the caller.
 */
static void
worker_tick(WorkerExtension *seen, MemoryContext tick_cxt)
{
	List	   *wakeups = NIL;
	bool		ready;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());

	ready = extension_ready(seen);
	if (ready)
	{
		pgstat_report_activity(STATE_RUNNING, "evaluating scaling policies");
		wakeups = scaler_evaluate_policies(NULL, false, tick_cxt);
	}

	PopActiveSnapshot();
	CommitTransactionCommand();

	if (wakeups != NIL)
	{
		pgstat_report_activity(STATE_RUNNING, "notifying listeners");
		scaler_send_wakeups(wakeups);
	}

	/*
	 * Rollups after the policies' commit, each step in a transaction of its
	 * own (rollup.c): a refresh holds the source's writers back until it
	 * commits, and a failing rollup records its error and stops nothing.
	 */
	if (ready)
	{
		scaler_refresh_rollups();
		scaler_maintain_request_log();
	}

	/*
	 * Not forced: at most once a second, the rest stays pending until a
	 * later tick (a tick is at least scaler.naptime apart).
	 */
	pgstat_report_stat(false);
}

void
scaler_worker_main(Datum main_arg)
{
	static const char *const session_settings[][2] = {
		{"default_transaction_read_only", "off"},
		{"default_transaction_isolation", "read committed"},
		{"default_transaction_deferrable", "off"},
		{"statement_timeout", "0"},
		{"lock_timeout", "0"},
		{"idle_in_transaction_session_timeout", "0"},
	};
	MemoryContext tick_cxt;

	/* static: worker_tick updates it inside PG_TRY, and a longjmp follows */
	static WorkerExtension seen = WORKER_EXTENSION_UNKNOWN;
	int			i;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(scaler_database, NULL, 0);

	/* queries resolve names safely whatever the database's defaults */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET,
					PGC_S_OVERRIDE);

	/*
	 * The transactions the worker's work needs, whatever the database's
	 * defaults, which its owner may set (ALTER DATABASE ... SET): a
	 * read-only default would fail every tick, the rollups' refresh must run
	 * at READ COMMITTED, and scaler.policy_timeout, not a statement_timeout
	 * meant for the application's sessions, bounds what a policy may take.
	 * Session settings: above the database's, below a SET LOCAL (the
	 * rollups' lock_timeout, rollup.c).
	 */
	for (i = 0; i < lengthof(session_settings); i++)
		SetConfigOption(session_settings[i][0], session_settings[i][1],
						PGC_SUSET, PGC_S_SESSION);

	/* as scaler.evaluate() does: window reads are narrow index range scans */
	SetConfigOption("enable_bitmapscan", "off", PGC_SUSET, PGC_S_OVERRIDE);
	pgstat_report_appname("scaler");

	tick_cxt = AllocSetContextCreate(TopMemoryContext, "scaler tick",
									 ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		if (scaler_enabled && !RecoveryInProgress())
		{
			MemoryContext old = MemoryContextSwitchTo(tick_cxt);

			PG_TRY();
			{
				worker_tick(&seen, tick_cxt);
			}
			PG_CATCH();
			{
				/*
				 * An error outside any policy (say, the policy table is
				 * being changed): log it, abort, and try again next tick
				 * rather than exit and be restarted.
				 */
				MemoryContextSwitchTo(tick_cxt);
				EmitErrorReport();
				FlushErrorState();
				AbortCurrentTransaction();
				pgstat_report_stat(false);
			}
			PG_END_TRY();
			MemoryContextSwitchTo(old);
			MemoryContextReset(tick_cxt);
		}

		pgstat_report_activity(STATE_IDLE, NULL);
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 scaler_naptime,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
