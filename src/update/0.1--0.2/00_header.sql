-- scaler update script from 0.1 to 0.2, assembled (Makefile) from the parts
-- in src/update/0.1--0.2/ (this schema check, the migration of the 0.1
-- tables, a cleanup) and the shared parts src/sql/*.sql (every function,
-- view, comment on them and privilege, the very files the install script
-- is made of), concatenated in the order of their file names.  An updated
-- database ends up with exactly the objects of a fresh 0.2 install (the
-- update test compares the two catalogs).
\echo Use "ALTER EXTENSION scaler UPDATE TO '0.2'" to load this file. \quit

-- Issue 8.1: refuse to update an extension whose schema scaler could be
-- someone else's.  A 0.1 install went into a schema scaler that existed
-- already, whoever owned it; its owner (or a role with CREATE on it) could
-- plant an overload that the extension's functions and pg_cron jobs
-- resolve.  0.2's install script refuses such a schema (src/sql/install/00_header.sql);
-- the update refuses to go on until the schema is the extension owner's
-- and holds no object of another role, and (src/sql/05_schema_writers.sql,
-- shared with the install) is closed to other roles' CREATE.
-- Runs first and resolves nothing in the schema: every name is qualified.
DO $$
DECLARE
    nsp_owner  pg_catalog.oid;
    ext_owner  pg_catalog.oid;
    foreign_objects pg_catalog.text;
BEGIN
    SELECT n.nspowner, e.extowner INTO nsp_owner, ext_owner
      FROM pg_catalog.pg_extension e
      JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
     WHERE e.extname OPERATOR(pg_catalog.=) 'scaler'::pg_catalog.name;
    IF nsp_owner OPERATOR(pg_catalog.<>) ext_owner THEN
        RAISE EXCEPTION 'schema "scaler" is owned by role %, not by the extension owner %',
            nsp_owner::pg_catalog.regrole, ext_owner::pg_catalog.regrole
            USING ERRCODE = '42501',
                  DETAIL = 'The schema''s owner could take over the extension''s functions and jobs (scaler 0.1 installed into a schema scaler that existed already).',
                  HINT = 'Check the schema for objects you did not create, ALTER SCHEMA scaler OWNER TO the extension owner, then update again.';
    END IF;
    SELECT pg_catalog.string_agg(o.what, ', ' ORDER BY o.what) INTO foreign_objects
      FROM (SELECT pg_catalog.format('relation %s (%s)', c.oid::pg_catalog.regclass, c.relowner::pg_catalog.regrole) AS what
              FROM pg_catalog.pg_class c
             WHERE c.relnamespace OPERATOR(pg_catalog.=) 'scaler'::pg_catalog.regnamespace
               AND c.relowner OPERATOR(pg_catalog.<>) ext_owner
            UNION ALL
            SELECT pg_catalog.format('function %s (%s)', p.oid::pg_catalog.regprocedure, p.proowner::pg_catalog.regrole)
              FROM pg_catalog.pg_proc p
             WHERE p.pronamespace OPERATOR(pg_catalog.=) 'scaler'::pg_catalog.regnamespace
               AND p.proowner OPERATOR(pg_catalog.<>) ext_owner
            UNION ALL
            SELECT pg_catalog.format('type %s (%s)', t.oid::pg_catalog.regtype, t.typowner::pg_catalog.regrole)
              FROM pg_catalog.pg_type t
             WHERE t.typnamespace OPERATOR(pg_catalog.=) 'scaler'::pg_catalog.regnamespace
               AND t.typowner OPERATOR(pg_catalog.<>) ext_owner
            UNION ALL
            SELECT pg_catalog.format('operator %s (%s)', o.oid::pg_catalog.regoperator, o.oprowner::pg_catalog.regrole)
              FROM pg_catalog.pg_operator o
             WHERE o.oprnamespace OPERATOR(pg_catalog.=) 'scaler'::pg_catalog.regnamespace
               AND o.oprowner OPERATOR(pg_catalog.<>) ext_owner) o;
    IF foreign_objects IS NOT NULL THEN
        RAISE EXCEPTION 'schema "scaler" holds objects of other roles'
            USING ERRCODE = '42501',
                  DETAIL = pg_catalog.format('Not the extension owner''s: %s.', foreign_objects),
                  HINT = 'Objects of other roles in this schema could take over the extension''s functions and jobs. Drop them, then update again.';
    END IF;
END
$$;
