-- The rows of the 0.1 request log, renamed out of the way by
-- 20_migrate_tables.sql, go into the partitioned scaler.request_log that
-- src/sql/22_request_log.sql created (into its DEFAULT partition; the worker
-- moves them into daily partitions, one day a tick), with the privileges
-- granted on the old table, and the policies that read the old table read
-- the new one.

INSERT INTO scaler.request_log (ts, function_name, duration_ms, status, cold_start)
SELECT ts, function_name, duration_ms, status, cold_start FROM scaler.request_log_0_1;

-- (regrole's text is an identifier, quoted where it needs to be.)
DO $$
DECLARE
    g record;
BEGIN
    FOR g IN
        SELECT a.grantee, a.privilege_type, a.is_grantable
          FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
         WHERE c.oid = 'scaler.request_log_0_1'::pg_catalog.regclass AND a.grantee <> c.relowner
    LOOP
        EXECUTE pg_catalog.format('GRANT %s ON scaler.request_log TO %s%s', g.privilege_type,
                                  CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE g.grantee::regrole::text END,
                                  CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
END
$$;
UPDATE scaler.policy SET source = 'scaler.request_log'::pg_catalog.regclass
 WHERE source = 'scaler.request_log_0_1'::pg_catalog.regclass;
