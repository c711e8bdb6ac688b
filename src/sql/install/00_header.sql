-- scaler extension script, assembled (Makefile) from the parts in
-- src/sql/install/ (this schema check, the types, the tables) and the parts
-- src/sql/*.sql it shares with the update script (functions, views,
-- test hooks, privileges), concatenated in the order of their file names.
\echo Use "CREATE EXTENSION scaler" to load this file. \quit

-- Refuse a schema scaler that could be someone else's.  With "schema =
-- scaler" in scaler.control PostgreSQL creates the schema when it is
-- missing, and silently installs into it when it exists: a role that
-- created it beforehand would own the schema whose names the extension's
-- SECURITY DEFINER functions and pg_cron jobs resolve, and could plant an
-- overload there to become superuser.  So the schema must be what
-- PostgreSQL creates here: owned by the role creating the extension, empty,
-- and closed to other roles' CREATE (that last check is shared with the
-- update: src/sql/05_schema_writers.sql).  The same holds for the empty
-- schema DROP EXTENSION leaves behind, which is accepted, so the extension
-- can be dropped and created again.  This runs first, before anything
-- exists in the schema, and resolves nothing in it: every name and operator
-- is qualified.
DO $$
DECLARE
    nsp_owner  pg_catalog.oid;
    ext_owner  pg_catalog.oid;
    objects    pg_catalog.int8;
BEGIN
    SELECT n.nspowner, e.extowner INTO nsp_owner, ext_owner
      FROM pg_catalog.pg_extension e
      JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
     WHERE e.extname OPERATOR(pg_catalog.=) 'scaler'::pg_catalog.name;
    IF nsp_owner OPERATOR(pg_catalog.<>) ext_owner THEN
        RAISE EXCEPTION 'schema "scaler" already exists'
            USING ERRCODE = '42P06',
                  DETAIL = pg_catalog.format('CREATE EXTENSION scaler needs a schema scaler of its own; this one is owned by role %s.',
                                             nsp_owner::pg_catalog.regrole),
                  HINT = 'Whoever owns that schema could take over the extension''s functions and jobs. Drop or rename the schema, then run CREATE EXTENSION scaler again.';
    END IF;
    SELECT (SELECT pg_catalog.count(*) FROM pg_catalog.pg_class c
             WHERE c.relnamespace OPERATOR(pg_catalog.=) 'scaler'::pg_catalog.regnamespace)
         OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM pg_catalog.pg_proc p
             WHERE p.pronamespace OPERATOR(pg_catalog.=) 'scaler'::pg_catalog.regnamespace)
         OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM pg_catalog.pg_type t
             WHERE t.typnamespace OPERATOR(pg_catalog.=) 'scaler'::pg_catalog.regnamespace)
         OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM pg_catalog.pg_operator o
             WHERE o.oprnamespace OPERATOR(pg_catalog.=) 'scaler'::pg_catalog.regnamespace)
      INTO objects;
    IF objects OPERATOR(pg_catalog.<>) 0 THEN
        RAISE EXCEPTION 'schema "scaler" already exists'
            USING ERRCODE = '42P06',
                  DETAIL = pg_catalog.format('CREATE EXTENSION scaler needs an empty schema scaler; this one holds %s objects.', objects),
                  HINT = 'Objects in that schema could take over the extension''s functions and jobs. Drop or rename the schema, then run CREATE EXTENSION scaler again.';
    END IF;
END
$$;
