-- Shared by the install and the update, right after their own schema
-- checks (src/sql/install/00_header.sql, src/update/0.1--0.2/00_header.sql):
-- refuse a schema scaler in which other roles may create objects.  Such a
-- role could plant an overload or a look-alike that the extension's
-- SECURITY DEFINER functions and pg_cron jobs resolve.  Runs before
-- anything of the script exists and resolves nothing in the schema: every
-- name and operator is qualified.
DO $$
DECLARE
    writers    pg_catalog.text;
BEGIN
    SELECT pg_catalog.string_agg(CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                                      ELSE a.grantee::pg_catalog.regrole::pg_catalog.text END, ', ')
      INTO writers
      FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a
     WHERE n.nspname OPERATOR(pg_catalog.=) 'scaler'::pg_catalog.name
       AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
       AND a.grantee OPERATOR(pg_catalog.<>) n.nspowner;
    IF writers IS NOT NULL THEN
        RAISE EXCEPTION 'schema "scaler" lets other roles create objects in it'
            USING ERRCODE = '42501',
                  DETAIL = pg_catalog.format('CREATE is granted to %s (by a GRANT, or by default privileges for new schemas).', writers),
                  HINT = 'Check the schema for objects you did not create, revoke the privilege (REVOKE CREATE ON SCHEMA scaler FROM ..., or ALTER DEFAULT PRIVILEGES ... REVOKE CREATE ON SCHEMAS FROM ...), then run CREATE EXTENSION or ALTER EXTENSION ... UPDATE again.';
    END IF;
END
$$;
