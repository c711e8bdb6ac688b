/*-------------------------------------------------------------------------
 *
 * scaler.c
 *	  Module entry point of the scaler extension.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

PG_MODULE_MAGIC;
