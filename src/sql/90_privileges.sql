
-- ===========================================================================
-- Privileges, last: who may use what.  Shared by the install and the update
-- script (a REVOKE or GRANT that is already in effect changes nothing); the
-- update hands on the grants of the 0.1 functions it replaced afterwards
-- (src/update/0.1--0.2/95_cleanup.sql).  A function not named here keeps
-- PostgreSQL's default: every role may EXECUTE it.
-- ===========================================================================

-- The analytics read only what the caller may read (sources go through the
-- executor as the caller), so everyone may use them.
GRANT USAGE ON SCHEMA scaler TO PUBLIC;

-- The rollup tables hold other roles' traffic: nobody reads them but
-- scaler's own functions (the readers check the caller's rights on the
-- source first, src/rollup.c).  A role sees the rollups it manages, and
-- those of the sources it may read, in the view.
REVOKE ALL ON scaler.rollup, scaler.rollup_slot, scaler.rollup_day, scaler.rollup_invalid,
    scaler.rollup_partition FROM PUBLIC;
GRANT SELECT ON scaler.rollups TO PUBLIC;

-- The API that changes things is a right to grant per role: managing
-- policies, writing floors and schedules, creating rollups (which also
-- needs ownership of the source), running scaler-listen (see
-- docs/scaler-listen.md).  Reading (backtest, forecast, traffic_svg with a
-- policy) checks inside that the caller may manage the policy.
REVOKE ALL ON FUNCTION scaler.create_policy(text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.alter_policy(text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.drop_policy(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.set_capacity(text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.evaluate(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.open_floor(text, integer, interval, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.apply_forecast(text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.schedule_capacity(text, text, integer, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.unschedule_capacity(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.schedule_forecast(text, text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.unschedule_forecast(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.listen_subscribe(text, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.listen_acked(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.listen_ack(text, bigint, text, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.listen_policy_channels() FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.create_rollup(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.drop_rollup(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.refresh_rollup(regclass) FROM PUBLIC;

-- The internals are reached only through the trampoline (scaler_as_caller,
-- src/policy.c), which skips the EXECUTE check, or from C through fmgr, so
-- nobody needs them.  (scaler._listen_backend_start stays executable: it
-- runs as its caller, and scaler.subscriptions uses it.)
REVOKE ALL ON FUNCTION scaler._svg_policy(oid, text, timestamptz, timestamptz, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._create_policy(oid, text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._alter_policy(oid, text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._keep_alive(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._drop_policy(oid, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._set_capacity(oid, text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._evaluate(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._check_policy(scaler.policy) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._check_settings(text, text, float8, interval, integer, integer, float8, interval, float8, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._column_type_ok(text, regtype) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._metric_column(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._metric_is_load(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._may_manage(oid, oid) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._managed_policy(oid, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._policy_settings(oid, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._policy_floors(text, timestamptz, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._open_floor(oid, text, integer, interval, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._apply_forecast(oid, text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._schedule_capacity(oid, text, text, integer, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._unschedule_capacity(oid, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._schedule_forecast(oid, text, text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._unschedule_forecast(oid, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._schedule_job(bigint, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._check_floor_args(integer, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._check_lead(interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._check_cron(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._capacity_schedule_deleted() FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._listen_subscription(oid, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._listen_subscribe(oid, text, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._listen_acked(oid, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._listen_ack(oid, text, bigint, text, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._listen_policy_channels(oid) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._create_rollup(oid, regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._drop_rollup(oid, regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._refresh_rollup(oid, regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._refresh_rollup_step(oid) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._rollup_lock(oid) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._rollup_share_source(oid) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._rollup_capture() FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._rollup_ensure_triggers(regclass, uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._rollup_make_triggers(regclass, uuid, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._rollup_ensure_partition_triggers(regclass, uuid, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._rollup_adopt(oid, regclass, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._rollup_first_ts(regclass, timestamptz, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._rollup_read(regclass, timestamptz, timestamptz, boolean, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._rollup_check_source(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._citus_table(oid) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._rollup_on_ddl() FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._rollup_forget(oid) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._rollup_on_drop() FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._rollup_repair_triggers(oid, uuid, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._rollup_apply_retention(oid, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._rollup_recompute_invalid(oid, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._rollup_append(oid, timestamptz, timestamptz) FROM PUBLIC;
-- (scaler._rollup_current and scaler._rollup_readable stay
-- executable: they run as their caller, read only the catalogs, and
-- scaler.rollups calls them as the caller; so does scaler._traffic_requests,
-- a function of its argument alone, and scaler._chart_width, which
-- scaler.chart_bar and scaler.hourly_chart call as their caller.)
REVOKE ALL ON FUNCTION scaler._maintain_request_log() FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._follow_job_owners() FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._request_log_partition(date) FROM PUBLIC;

-- Test hooks (src/sql/80_test_hooks.sql).
REVOKE ALL ON FUNCTION scaler._evaluate_at(text, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._traffic_trans_fresh(scaler.traffic, pg_catalog.timestamptz, pg_catalog.float8, pg_catalog.int4) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._window_plans() FROM PUBLIC;
