-- Event triggers, new in 0.2: one text for the install and the update from
-- 0.1 (which had none).  CREATE EVENT TRIGGER needs a superuser, as does
-- CREATE EXTENSION scaler (superuser = true in scaler.control).  They are
-- members of the extension: pg_dump leaves them out and CREATE EXTENSION
-- makes them again on restore; DROP EXTENSION drops them.

-- DROP TABLE of a rollup's source deletes the rollup in the same
-- transaction (scaler._rollup_on_drop).  It fires ALWAYS, also in sessions
-- with session_replication_role = replica, since a rollup left behind
-- would otherwise wait for the next refresh to be found out
-- (scaler._rollup_current).
CREATE EVENT TRIGGER scaler_rollup_drop ON sql_drop
    EXECUTE FUNCTION scaler._rollup_on_drop();
ALTER EVENT TRIGGER scaler_rollup_drop ENABLE ALWAYS;
COMMENT ON EVENT TRIGGER scaler_rollup_drop IS
    'deletes the rollup of a dropped table (scaler._rollup_on_drop)';

-- CREATE TABLE ... PARTITION OF and ALTER TABLE ... ATTACH / DETACH
-- PARTITION under a rollup's source: the partitions' capture triggers, and
-- the rows an attached table brings (scaler._rollup_on_ddl); CREATE FOREIGN
-- TABLE ... PARTITION OF, to refuse it (scaler._rollup_adopt).  ALWAYS, for
-- the same reason.
CREATE EVENT TRIGGER scaler_rollup_partitions ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'CREATE FOREIGN TABLE', 'ALTER TABLE')
    EXECUTE FUNCTION scaler._rollup_on_ddl();
ALTER EVENT TRIGGER scaler_rollup_partitions ENABLE ALWAYS;
COMMENT ON EVENT TRIGGER scaler_rollup_partitions IS
    'keeps the capture triggers of the partitions of rollup sources (scaler._rollup_on_ddl)';

-- ALTER TABLE that rewrites a rollup's source or a partition of it (its
-- rows could change unseen) is refused (scaler._rollup_on_rewrite).
-- ALWAYS, for the same reason.
CREATE EVENT TRIGGER scaler_rollup_rewrite ON table_rewrite
    EXECUTE FUNCTION scaler._rollup_on_rewrite();
ALTER EVENT TRIGGER scaler_rollup_rewrite ENABLE ALWAYS;
COMMENT ON EVENT TRIGGER scaler_rollup_rewrite IS
    'refuses to rewrite the rows of a rollup''s source (scaler._rollup_on_rewrite)';
