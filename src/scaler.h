/*-------------------------------------------------------------------------
 *
 * scaler.h
 *	  Settings (GUCs) and entry points shared across scaler's C files.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCALER_H
#define SCALER_H

#include "fmgr.h"

/* GUCs, defined in scaler.c */
extern char *scaler_database;
extern int	scaler_naptime;		/* milliseconds */
extern bool scaler_enabled;
extern int	scaler_decision_retention;	/* seconds; 0 keeps forever */
extern int	scaler_policy_timeout;	/* milliseconds; 0: no limit */
extern int	scaler_log_retention;	/* seconds; 0 keeps forever */
extern int	scaler_rollup_retention;	/* seconds; 0 keeps forever */

/* worker.c */
extern void scaler_register_launcher(void);
extern PGDLLEXPORT void scaler_launcher_main(Datum main_arg);
extern PGDLLEXPORT void scaler_worker_main(Datum main_arg);

#endif							/* SCALER_H */
