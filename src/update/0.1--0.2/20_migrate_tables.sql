
-- ===========================================================================
-- The migration of a 0.1 database: what its tables and data need to become
-- what a fresh 0.2 install creates (src/sql/install/20_tables.sql).  It runs
-- after src/sql/15_table_functions.sql (the policy CHECK calls
-- scaler._check_settings) and before every other shared part, which then
-- (re)creates the functions, views, comments and privileges exactly as the
-- install does.  Functions whose arguments or result changed cannot be
-- replaced: they are dropped here (or renamed, to hand their grants on in
-- 95_cleanup.sql), and the shared parts create them anew.
-- ===========================================================================

-- ---------------------------------------------------------------------------
-- Types: the same as 0.1's.  Traffic v2 values keep UTC quarter hours and
-- are bucketed into the session's TimeZone when read; the C functions keep
-- their names, and values stored by 0.1 (format 1) are still read.
-- ---------------------------------------------------------------------------
COMMENT ON TYPE scaler.traffic IS
    'traffic statistics of a group of request rows, per UTC quarter hour that has rows (sparse quarters as rows, busy ones as per-minute counts, errors and a latency sketch); read in the session TimeZone';

-- ---------------------------------------------------------------------------
-- scaler.request_log becomes partitioned by UTC day, with its rows.  A
-- table cannot be partitioned in place: the 0.1 table is renamed here, the
-- new one created by the install's own src/sql/22_request_log.sql, the rows
-- and privileges copied over (23_request_log_rows.sql), and the old table
-- dropped (95_cleanup.sql, once the functions
-- whose defaults name it have been re-created).  What pointed at the old
-- table by OID is pointed at the new one: the policies' sources and the
-- defaults of the functions that take a source.  A user's view on the old
-- table makes the update fail (DROP TABLE names it): drop the view, update,
-- and create it again.
-- ---------------------------------------------------------------------------
ALTER TABLE scaler.request_log RENAME TO request_log_0_1;
ALTER INDEX scaler.request_log_function_ts_idx RENAME TO request_log_0_1_function_ts_idx;
ALTER TABLE scaler.request_log_0_1 RENAME CONSTRAINT request_log_duration_ms_check TO request_log_0_1_duration_ms_check;
-- ---------------------------------------------------------------------------
-- Decisions record xid_bound, so that readers can stop at
-- scaler._decision_horizon() without a lock held to commit (issue 8).
-- ---------------------------------------------------------------------------
ALTER TABLE scaler.decision ADD COLUMN xid_bound xid8;
COMMENT ON TABLE scaler.decision IS
    'every scaling decision; read in id order up to scaler._decision_horizon(), below which no id can still appear; listeners catch up from here after the last id they saw';
COMMENT ON COLUMN scaler.decision.xid_bound IS
    'the next transaction id when this decision took its id: every transaction that took a smaller id has an xid below it (see scaler._decision_horizon)';

-- ---------------------------------------------------------------------------
-- Policies.
-- ---------------------------------------------------------------------------

-- Issue 8.11: policy names are restricted to a set that is safe in shells
-- and paths (checked by create_policy).  Policies of a 0.1 database keep
-- their names and keep working (alter, drop, evaluation and notifications
-- do not check the name, and there is no table CHECK, which would refuse
-- every later UPDATE of such a row); the update lists them, since an
-- actuator that passes the name to a shell may misread them.
DO $$
DECLARE
    bad text;
BEGIN
    SELECT pg_catalog.string_agg(pg_catalog.quote_literal(q.name), ', ' ORDER BY q.name) INTO bad
      FROM scaler.policy q
     WHERE q.name OPERATOR(pg_catalog.!~) '^[A-Za-z0-9_.][A-Za-z0-9_.-]*$'
        OR q.name OPERATOR(pg_catalog.=) ANY (ARRAY['.', '..']);
    IF bad IS NOT NULL THEN
        RAISE WARNING 'policies with names that are unsafe in shell commands: %', bad
            USING DETAIL = 'New policy names consist of ASCII letters, digits, "_", "." and "-", do not start with "-", and are not "." or "..". These policies keep working under their names.',
                  HINT = 'Make sure commands that receive $SCALER_POLICY quote it and cannot take it for an option, or create the policy again under a safe name and drop the old one.';
    END IF;
END
$$;

-- keep_alive on policies and the keep-alive state (issue 10).
ALTER TABLE scaler.policy
    ADD COLUMN keep_alive interval,
    ADD COLUMN keep_alive_auto boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT policy_keep_alive_check
        CHECK (keep_alive IS NULL OR (keep_alive > '0' AND NOT keep_alive_auto));
COMMENT ON COLUMN scaler.policy.keep_alive IS
    'after the load stops, keep one instance at least this long before scaling to zero (NULL: no keep-alive)';
COMMENT ON COLUMN scaler.policy.keep_alive_auto IS
    'keep-alive learned from the function''s idle times (keep_alive => ''auto''): pre-warm before the next request is due';

ALTER TABLE scaler.policy_state
    ADD COLUMN last_active_at timestamptz,
    ADD COLUMN idle_histogram integer[],
    ADD COLUMN last_step_at timestamptz;
COMMENT ON COLUMN scaler.policy_state.last_active_at IS 'keep-alive: end of the last evaluated window that had requests';
COMMENT ON COLUMN scaler.policy_state.idle_histogram IS 'keep_alive => ''auto'': idle times between requests, one-minute bins over 4 hours, then the count beyond; NULL until learned';
COMMENT ON COLUMN scaler.policy_state.last_step_at IS 'keep-alive: end of the last step with requests that recorded an idle time (steps are a stable_window apart; evaluations between them are none)';

-- The rules of a policy's settings are stated once, in C
-- (scaler._check_settings): the policy table's CHECK constraint and
-- scaler._check_policy both call it, and scaler.desired_capacity() applies
-- the same code, so all three refuse an infinite panic_threshold (22023).
-- The column CHECKs of 0.1 give way to that one constraint.
ALTER TABLE scaler.policy
    DROP CONSTRAINT policy_name_check,
    DROP CONSTRAINT policy_metric_check,
    DROP CONSTRAINT policy_target_check,
    DROP CONSTRAINT policy_stable_window_check,
    DROP CONSTRAINT policy_min_capacity_check,
    DROP CONSTRAINT policy_tolerance_check,
    DROP CONSTRAINT policy_scale_in_stabilization_check,
    DROP CONSTRAINT policy_panic_threshold_check,
    DROP CONSTRAINT policy_channel_check,
    DROP CONSTRAINT policy_check,
    ADD CONSTRAINT policy_settings_check
        CHECK (scaler._check_settings(name, metric, target, stable_window, min_capacity,
                                      max_capacity, tolerance, scale_in_stabilization,
                                      panic_threshold, channel, false));

-- Jobs 0.1 made ran as the extension owner (issue 8.1): move each to its
-- policy's owner.  A job whose policy owner no longer exists is deactivated
-- (it must not go on running with more rights); jobs whose owner cannot run
-- them are reported, and fail until the owner can.
DO $$
DECLARE
    s       record;
    problem text;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname OPERATOR(pg_catalog.=) 'pg_cron') THEN
        RETURN;
    END IF;
    FOR s IN
        SELECT c.id, c.kind, c.policy, j.jobid, r.rolname, r.oid AS owner, r.rolcanlogin
          FROM scaler.capacity_schedule c
          JOIN cron.job j ON j.jobid OPERATOR(pg_catalog.=) c.jobid
          JOIN scaler.policy q ON q.name OPERATOR(pg_catalog.=) c.policy
          LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) q.owner
         ORDER BY c.id
    LOOP
        IF s.rolname IS NULL THEN
            PERFORM cron.alter_job(s.jobid, active => false);
            RAISE WARNING 'pg_cron job % of policy "%" deactivated: the policy''s owner no longer exists', s.jobid, s.policy;
            CONTINUE;
        END IF;
        PERFORM cron.alter_job(s.jobid, username => s.rolname);
        problem := NULL;
        IF NOT s.rolcanlogin THEN
            problem := 'cannot log in';
        ELSIF NOT pg_catalog.has_function_privilege(s.owner,
                  CASE s.kind WHEN 'capacity' THEN 'scaler.open_floor(text, integer, interval, text)'
                              ELSE 'scaler.apply_forecast(text, interval)' END, 'EXECUTE') THEN
            problem := CASE s.kind WHEN 'capacity' THEN 'may not execute scaler.open_floor'
                                   ELSE 'may not execute scaler.apply_forecast' END;
        END IF;
        IF problem IS NOT NULL THEN
            RAISE WARNING 'pg_cron job % of policy "%" now runs as its owner %, which %; the job fails until that changes',
                s.jobid, s.policy, s.rolname, problem;
        END IF;
    END LOOP;
END
$$;

-- create_policy and alter_policy take keep_alive; backtest and
-- backtest_summary return the requests and cold starts.
DROP FUNCTION scaler.create_policy(text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean);
DROP FUNCTION scaler._create_policy(oid, text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean);
DROP FUNCTION scaler.alter_policy(text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean);
DROP FUNCTION scaler._alter_policy(oid, text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean);
DROP FUNCTION scaler.backtest(text, timestamptz, timestamptz, jsonb);
DROP FUNCTION scaler.backtest_summary(text, timestamptz, timestamptz, jsonb);

-- ---------------------------------------------------------------------------
-- scaler-listen (issue 8, items 2 and 3): subscriptions belong to the role
-- that created them and are held by a session recorded in the row instead of
-- an advisory lock anyone could take; a new subscription starts with each
-- policy's newest decision (level-triggered) unless from_now.
-- ---------------------------------------------------------------------------

ALTER TABLE scaler.subscription
    ADD COLUMN owner regrole,
    ADD COLUMN holder_pid integer,
    ADD COLUMN holder_start timestamptz,
    ADD COLUMN start_id bigint;

-- A 0.1 subscription whose listener runs now (it holds the 0.1 advisory lock)
-- belongs to that listener's role and stays held by its session, so the
-- listener goes on acknowledging.  Nothing records who created the others:
-- they go to the extension owner, who can hand them on with
-- UPDATE scaler.subscription SET owner = ... .
UPDATE scaler.subscription s
SET (owner, holder_pid, holder_start, start_id) =
    (SELECT COALESCE(h.usesysid, e.extowner)::pg_catalog.regrole,
            h.pid, h.backend_start, 0
     FROM pg_catalog.pg_extension e
     LEFT JOIN LATERAL
         (SELECT a.pid, a.usesysid, a.backend_start
          FROM pg_catalog.pg_locks l
          JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
          WHERE l.locktype = 'advisory' AND l.granted
            AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d
                              WHERE d.datname = pg_catalog.current_database())
            AND l.classid = 380446 AND l.objid = s.id::oid AND l.objsubid = 2
          LIMIT 1) h ON true
     WHERE e.extname = 'scaler');

DO $$
DECLARE
    unheld text;
BEGIN
    SELECT pg_catalog.string_agg(pg_catalog.quote_literal(s.name), ', ' ORDER BY s.name)
    INTO unheld
    FROM scaler.subscription s
    WHERE s.holder_pid IS NULL;
    IF unheld IS NOT NULL THEN
        RAISE NOTICE 'subscriptions % now belong to the extension owner', unheld
            USING HINT = 'A subscription can be used only by its owner now: give each to the role its listener runs as with UPDATE scaler.subscription SET owner = ''role'' WHERE name = ''name''.';
    END IF;
END
$$;

ALTER TABLE scaler.subscription
    ALTER COLUMN owner SET NOT NULL,
    ALTER COLUMN start_id SET NOT NULL;

COMMENT ON TABLE scaler.subscription IS
    'one row per scaler-listen --name: its owner, the session holding it, where its catch-up starts; maintained by scaler.listen_subscribe and scaler.listen_ack';
COMMENT ON COLUMN scaler.subscription.id IS 'a short number for the subscription';
COMMENT ON COLUMN scaler.subscription.created_at IS 'when the subscription was first used';
COMMENT ON COLUMN scaler.subscription.owner IS 'the role that created the subscription: only it (a role with its privileges) or a superuser may use it';
COMMENT ON COLUMN scaler.subscription.holder_pid IS 'pid of the backend of the listener that holds the subscription; it holds it only while that backend (same pid and holder_start) is alive';
COMMENT ON COLUMN scaler.subscription.holder_start IS 'backend_start of the holding backend, so that a reused pid is no holder';
COMMENT ON COLUMN scaler.subscription.start_id IS 'the newest decision when the subscription was created: of the decisions at or below it only each policy''s newest is delivered (0: no such start)';

-- The functions whose signature changes are renamed out of the way; their
-- EXECUTE grants are copied to their successors, and they are dropped, in
-- 95_cleanup.sql.
ALTER FUNCTION scaler.listen_subscribe(text, text) RENAME TO _listen_subscribe_0_1;
ALTER FUNCTION scaler.listen_foreign_policies(text) RENAME TO _listen_foreign_policies_0_1;
ALTER FUNCTION scaler.listen_decisions(bigint, integer, text) RENAME TO _listen_decisions_0_1;

-- The rollup tables, new in 0.2, come from src/sql/25_rollup_tables.sql.
