
-- ---------------------------------------------------------------------------
-- Backtest: replay a policy over stored history with the decision code of
-- live evaluation (src/backtest.c).
-- ---------------------------------------------------------------------------

-- Test hook: evaluation as if it were `at`, so a test can feed live
-- evaluation tick by tick and compare it with scaler.backtest().
CREATE FUNCTION scaler._evaluate_at(policy text, at timestamptz)
RETURNS bigint[]
AS 'MODULE_PATHNAME', 'scaler_evaluate_internal'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler._evaluate_at(text, timestamptz) IS
    'internal (tests): evaluate policies as if now were at; returns the ids of the decisions made';
REVOKE ALL ON FUNCTION scaler._evaluate_at(text, timestamptz) FROM PUBLIC;

-- The policy a caller names, provided the caller may manage it: the one
-- check every management function starts with.  A policy the caller may
-- not manage is reported exactly like one that does not exist (42704, same
-- message and hint), so that the error tells a role neither whether the
-- policy exists nor who owns it.
CREATE FUNCTION scaler._managed_policy(invoker oid, policy text, action text)
RETURNS scaler.policy
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p scaler.policy;
BEGIN
    SELECT * INTO p FROM scaler.policy q WHERE q.name = _managed_policy.policy;
    IF NOT FOUND OR NOT scaler._may_manage(invoker, p.owner) THEN
        IF EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.oid = invoker AND r.rolsuper) THEN
            RAISE EXCEPTION 'policy "%" does not exist', _managed_policy.policy
                USING ERRCODE = '42704';
        END IF;
        RAISE EXCEPTION 'policy "%" does not exist', _managed_policy.policy
            USING ERRCODE = '42704',
                  HINT = format('Only a superuser or a role that can act as the policy''s owner may %s it.', action);
    END IF;
    RETURN p;
END
$$;
REVOKE ALL ON FUNCTION scaler._managed_policy(oid, text, text) FROM PUBLIC;
COMMENT ON FUNCTION scaler._managed_policy(oid, text, text) IS
    'internal: the named policy, after checking that it exists and that invoker may manage it';

-- The settings a replay or forecast uses: the policy's, with overrides.
-- Called only from C (src/backtest.c) through fmgr with the real caller as
-- invoker; nobody may EXECUTE it.
CREATE FUNCTION scaler._policy_settings(invoker oid, policy text, overrides jsonb)
RETURNS scaler.policy
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p    scaler.policy;
    key  text;
    val  jsonb;
    txt  text;
    known CONSTANT text[] := ARRAY['target', 'metric', 'function_name', 'source',
        'stable_window', 'min_capacity', 'max_capacity', 'tolerance',
        'scale_in_stabilization', 'panic_threshold', 'channel', 'enabled',
        'keep_alive'];
BEGIN
    p := scaler._managed_policy(invoker, _policy_settings.policy, 'replay or forecast');

    overrides := coalesce(overrides, '{}');
    IF jsonb_typeof(overrides) <> 'object' THEN
        RAISE EXCEPTION 'overrides must be a JSON object'
            USING ERRCODE = '22023',
                  DETAIL = format('Got a JSON %s.', jsonb_typeof(overrides)),
                  HINT = 'Name the settings to change, e.g. ''{"target": 8, "scale_in_stabilization": "10 minutes"}''.';
    END IF;

    FOR key, val IN SELECT e.key, e.value FROM jsonb_each(overrides) e LOOP
        IF NOT key = ANY (known) THEN
            RAISE EXCEPTION 'unknown override "%"', key
                USING ERRCODE = '22023',
                      HINT = 'Overrides are policy settings: ' || array_to_string(known, ', ') || '.';
        END IF;
        IF jsonb_typeof(val) IN ('object', 'array')
           OR (jsonb_typeof(val) = 'null' AND key NOT IN ('function_name', 'keep_alive')) THEN
            RAISE EXCEPTION 'invalid value for override "%": %', key, val
                USING ERRCODE = '22023',
                      HINT = CASE WHEN key IN ('function_name', 'keep_alive') THEN NULL
                                  ELSE 'Give a number or a string.' END;
        END IF;
        txt := val #>> '{}';
        BEGIN
            CASE key
                WHEN 'target' THEN p.target := txt::float8;
                WHEN 'metric' THEN p.metric := txt;
                -- null or '' replays over all functions, as in alter_policy
                WHEN 'function_name' THEN p.function_name := nullif(txt, '');
                WHEN 'source' THEN p.source := txt::regclass;
                WHEN 'stable_window' THEN p.stable_window := txt::interval;
                WHEN 'min_capacity' THEN p.min_capacity := txt::integer;
                WHEN 'max_capacity' THEN p.max_capacity := txt::integer;
                WHEN 'tolerance' THEN p.tolerance := txt::float8;
                WHEN 'scale_in_stabilization' THEN p.scale_in_stabilization := txt::interval;
                WHEN 'panic_threshold' THEN p.panic_threshold := txt::float8;
                WHEN 'channel' THEN p.channel := txt;
                WHEN 'enabled' THEN p.enabled := txt::boolean;
                -- an interval, 'auto', or null / 'none' for no keep-alive
                WHEN 'keep_alive' THEN
                    SELECT k.keep_alive, k.auto INTO p.keep_alive, p.keep_alive_auto
                      FROM scaler._keep_alive(txt) k;
            END CASE;
        EXCEPTION WHEN OTHERS THEN
            RAISE EXCEPTION 'invalid value for override "%": %', key, SQLERRM
                USING ERRCODE = '22023';
        END;
    END LOOP;

    -- the same checks as create_policy, naming the field; the replay reads
    -- the source as the policy owner, who must be able to read it
    PERFORM scaler._check_policy(p);
    RETURN p;
END
$$;
COMMENT ON FUNCTION scaler._policy_settings(oid, text, jsonb) IS
    'internal: a policy''s settings with overrides applied and checked, for a caller who may manage it';
REVOKE ALL ON FUNCTION scaler._policy_settings(oid, text, jsonb) FROM PUBLIC;

CREATE FUNCTION scaler.backtest(
    policy    text,
    since     timestamptz,
    until     timestamptz,
    overrides jsonb DEFAULT '{}',
    OUT at            timestamptz,
    OUT value         float8,
    OUT demand        integer,
    OUT from_capacity integer,
    OUT capacity      integer,
    OUT reason        text,
    OUT shortfall     integer,
    OUT requests      bigint,
    OUT cold_starts   integer)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'scaler_backtest'
LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 1440;
COMMENT ON FUNCTION scaler.backtest(text, timestamptz, timestamptz, jsonb) IS
    'replay a policy over (since, until] with the decision code of live evaluation, one row per stable_window: the metric value, the instances it needed (demand), the capacity running (from_capacity) and decided (capacity), why, the shortfall (demand - from_capacity when positive), the requests that arrived and how many of them were cold starts (the instances they needed beyond from_capacity); overrides change settings for the replay only';

CREATE FUNCTION scaler.backtest_summary(
    policy    text,
    since     timestamptz,
    until     timestamptz,
    overrides jsonb DEFAULT '{}',
    OUT steps                  bigint,
    OUT scale_out_events       bigint,
    OUT scale_in_events        bigint,
    OUT instance_hours         float8,
    OUT minutes_under_capacity float8,
    OUT worst_shortfall        integer,
    OUT mean_utilisation       float8,
    OUT peak_capacity          integer,
    OUT requests               bigint,
    OUT cold_starts            bigint,
    OUT cold_start_pct         float8,
    OUT warm_idle_instance_hours float8)
RETURNS record
AS 'MODULE_PATHNAME', 'scaler_backtest_summary'
LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION scaler.backtest_summary(text, timestamptz, timestamptz, jsonb) IS
    'the totals of scaler.backtest(): scale-out and scale-in events, instance-hours run, minutes with a shortfall, the worst shortfall, demand over running capacity, the highest capacity, requests, cold starts (and 100 x cold_starts / requests), and warm-idle instance-hours (capacity beyond what the load kept busy)';
