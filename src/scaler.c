/*-------------------------------------------------------------------------
 *
 * scaler.c
 *	  Module load: the scaler.* settings and the background worker's
 *	  registration.  Nothing else lives here.
 *
 * Loading the library without shared_preload_libraries (CREATE EXTENSION,
 * or the first call of a function) is normal and must never fail: the SQL
 * functions work without the worker, so only the settings every session
 * uses are defined then.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "scaler.h"

PG_MODULE_MAGIC;

char	   *scaler_database = NULL;
int			scaler_naptime = 5000;
bool		scaler_enabled = true;
int			scaler_decision_retention = 30 * 24 * 3600;
int			scaler_policy_timeout = 2000;
int			scaler_log_retention = 0;
int			scaler_rollup_retention = 0;

void		_PG_init(void);

void
_PG_init(void)
{
	DefineCustomIntVariable("scaler.naptime",
							"Time between two evaluation ticks of the scaler background worker.",
							NULL,
							&scaler_naptime,
							5000, 100, INT_MAX / 2,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("scaler.enabled",
							 "Whether the scaler background worker evaluates policies.",
							 "When off, the worker stays connected but evaluates nothing; scaler.evaluate() still works.",
							 &scaler_enabled,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("scaler.decision_retention",
							"How long rows of scaler.decision are kept.",
							"Every evaluation deletes older decisions. 0 keeps them forever.",
							&scaler_decision_retention,
							30 * 24 * 3600, 0, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	/*
	 * PGC_SUSET, not USERSET: a caller of scaler.evaluate() evaluates every
	 * enabled policy, including other roles' ones, and a timeout is recorded
	 * on the policy as its last error.  A role allowed to call evaluate()
	 * must not be able to mark other roles' policies failing with a tiny
	 * limit, nor lift the limit and keep their state rows locked while a
	 * slow source runs.  Administrators set it per server, database or role.
	 */
	DefineCustomIntVariable("scaler.policy_timeout",
							"Longest time one policy's evaluation may take.",
							"An evaluation that takes longer is canceled and recorded as the policy's last error; the other policies go on. 0 disables the limit.",
							&scaler_policy_timeout,
							2000, 0, INT_MAX,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	/*
	 * Retention: PGC_SIGHUP, as they drop rows of every role's sources
	 * (refresh_rollup reads scaler.rollup_retention too, so it is defined
	 * in every session).
	 */
	DefineCustomIntVariable("scaler.log_retention",
							"How long the daily partitions of scaler.request_log are kept.",
							"The worker drops a partition older than this once the rollup of scaler.request_log covers it. 0 keeps them forever.",
							&scaler_log_retention,
							0, 0, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("scaler.rollup_retention",
							"How long the slots of rollups are kept.",
							"A refresh deletes the slots of UTC days older than this; readers then read those days raw. 0 keeps them forever.",
							&scaler_rollup_retention,
							0, 0, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;

	DefineCustomStringVariable("scaler.database",
							   "Database in which the scaler background worker evaluates policies.",
							   NULL,
							   &scaler_database,
							   "postgres",
							   PGC_POSTMASTER,
							   0,
							   NULL, NULL, NULL);

	MarkGUCPrefixReserved("scaler");

	scaler_register_launcher();
}
