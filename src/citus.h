/*-------------------------------------------------------------------------
 *
 * citus.h
 *	  What scaler must know of Citus, which it does not depend on.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCALER_CITUS_H
#define SCALER_CITUS_H

#include "pgtime.h"

extern bool citus_installed(void);
extern bool citus_table(Oid relid);
extern pg_tz *citus_checked_timezone(const char *reader);

#endif							/* SCALER_CITUS_H */
