
-- ===========================================================================
-- The end of the update, after the shared parts: what could go only once
-- the functions of 0.2 exist.
-- ===========================================================================

-- The listener functions whose signature changed were renamed out of the
-- way by 20_migrate_tables.sql: whoever could run them can run their
-- successors (after 90_privileges.sql, which revokes the defaults), then
-- they go.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT m.new, p.proacl IS NULL AS default_acl,
               pg_catalog.bool_or(a.grantee = 0) IS TRUE AS to_public,
               pg_catalog.array_remove(pg_catalog.array_agg(a.grantee), NULL) AS grantees
        FROM (VALUES
                ('scaler._listen_subscribe_0_1(text, text)'::pg_catalog.regprocedure,
                 'scaler.listen_subscribe(text, text, boolean)'::pg_catalog.regprocedure),
                ('scaler._listen_foreign_policies_0_1(text)',
                 'scaler.listen_policy_channels()'),
                ('scaler._listen_decisions_0_1(bigint, integer, text)',
                 'scaler.listen_decisions(bigint, integer, text, bigint)')) m(old, new)
        JOIN pg_catalog.pg_proc p ON p.oid = m.old
        LEFT JOIN LATERAL pg_catalog.aclexplode(p.proacl) a
            ON a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner
        GROUP BY m.new, p.proacl
    LOOP
        -- a default ACL stays the successor's own default
        IF r.to_public THEN
            EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO PUBLIC', r.new);
        ELSIF NOT r.default_acl THEN
            EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', r.new);
        END IF;
        IF pg_catalog.array_length(pg_catalog.array_remove(r.grantees, 0::oid), 1) > 0 THEN
            EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s', r.new,
                (SELECT pg_catalog.string_agg(g::pg_catalog.regrole::text, ', ')
                 FROM pg_catalog.unnest(pg_catalog.array_remove(r.grantees, 0::oid)) g));
        END IF;
    END LOOP;
END
$$;

DROP FUNCTION scaler._listen_subscribe_0_1(text, text);
DROP FUNCTION scaler._listen_decisions_0_1(bigint, integer, text);
DROP FUNCTION scaler._listen_foreign_policies_0_1(text);

-- Every function whose default named the 0.1 request_log has been
-- re-created by now (hourly_requests, hourly_chart, create_policy ...), so
-- the old table can go.
ALTER EXTENSION scaler DROP TABLE scaler.request_log_0_1;
DROP TABLE scaler.request_log_0_1;
