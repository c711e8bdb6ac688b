
-- ---------------------------------------------------------------------------
-- Cold starts (issue 10): keep_alive on policies, the keep-alive state, and
-- the backtest's accounting of requests and cold starts.  Functions whose
-- arguments or result changed are dropped and created again exactly as a
-- fresh install creates them (src/sql/30_policy.sql, 40_backtest.sql).
-- ---------------------------------------------------------------------------

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
    ADD COLUMN idle_histogram integer[];
COMMENT ON COLUMN scaler.policy_state.last_active_at IS 'keep-alive: end of the last evaluated window that had requests';
COMMENT ON COLUMN scaler.policy_state.idle_histogram IS 'keep_alive => ''auto'': idle times between requests, one-minute bins over 4 hours, then the count beyond; NULL until learned';

CREATE FUNCTION scaler._keep_alive(setting text, OUT keep_alive interval, OUT auto boolean)
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    auto := false;
    IF $1 IS NULL OR lower(btrim($1)) IN ('', 'none') THEN
        _keep_alive.keep_alive := NULL;
        RETURN;
    END IF;
    IF lower(btrim($1)) = 'auto' THEN
        _keep_alive.keep_alive := NULL;
        auto := true;
        RETURN;
    END IF;
    BEGIN
        _keep_alive.keep_alive := $1::interval;
    EXCEPTION WHEN OTHERS THEN
        RAISE EXCEPTION 'invalid keep_alive: "%"', $1
            USING ERRCODE = '22023',
                  HINT = 'Give an interval such as ''10 minutes'', ''auto'' or ''none''.';
    END;
    IF _keep_alive.keep_alive <= '0' THEN
        RAISE EXCEPTION 'keep_alive must be greater than zero'
            USING ERRCODE = '22023',
                  HINT = 'Use ''none'' for no keep-alive.';
    END IF;
END
$$;
COMMENT ON FUNCTION scaler._keep_alive(text) IS
    'internal: parse a keep_alive setting (an interval, ''auto'', or ''none'')';
REVOKE ALL ON FUNCTION scaler._keep_alive(text) FROM PUBLIC;

-- create_policy and alter_policy take keep_alive
DROP FUNCTION scaler.create_policy(text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean);
DROP FUNCTION scaler._create_policy(oid, text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean);
DROP FUNCTION scaler.alter_policy(text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean);
DROP FUNCTION scaler._alter_policy(oid, text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean);

CREATE FUNCTION scaler._create_policy(
    invoker oid, name text, target float8, metric text, function_name text,
    source regclass, stable_window interval, min_capacity integer,
    max_capacity integer, tolerance float8, scale_in_stabilization interval,
    panic_threshold float8, channel text, enabled boolean, keep_alive text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p scaler.policy;
BEGIN
    p.name := name;
    p.owner := invoker::regrole;
    p.metric := metric;
    p.target := target;
    p.function_name := function_name;
    p.source := source;
    p.stable_window := stable_window;
    p.min_capacity := min_capacity;
    p.max_capacity := max_capacity;
    p.tolerance := tolerance;
    p.scale_in_stabilization := scale_in_stabilization;
    p.panic_threshold := panic_threshold;
    p.channel := channel;
    p.enabled := coalesce(enabled, true);
    p.created_at := now();
    SELECT k.keep_alive, k.auto INTO p.keep_alive, p.keep_alive_auto
      FROM scaler._keep_alive(_create_policy.keep_alive) k;
    PERFORM scaler._check_policy(p);
    -- Names reach shells and paths (scaler-listen's $SCALER_POLICY): a safe
    -- set, never an option (-...) or a path step (. and ..).  Checked here,
    -- not in _check_policy, so that the policies a 0.1 database already had
    -- under other names can still be altered.
    IF p.name !~ '^[A-Za-z0-9_.][A-Za-z0-9_.-]*$' OR p.name IN ('.', '..') THEN
        RAISE EXCEPTION 'invalid policy name "%"', p.name
            USING ERRCODE = '22023',
                  DETAIL = 'A policy name consists of ASCII letters, digits, "_", "." and "-", does not start with "-", and is not "." or "..".';
    END IF;

    IF EXISTS (SELECT FROM scaler.policy q WHERE q.name = p.name) THEN
        RAISE EXCEPTION 'policy "%" already exists', p.name
            USING ERRCODE = '42710';
    END IF;
    INSERT INTO scaler.policy SELECT p.*;
    INSERT INTO scaler.policy_state (policy, capacity) VALUES (p.name, p.min_capacity);
END
$$;
COMMENT ON FUNCTION scaler._create_policy(oid, text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean, text) IS
    'internal: body of scaler.create_policy, called with the calling role';

CREATE FUNCTION scaler.create_policy(
    name                   text,
    target                 float8,
    metric                 text DEFAULT 'concurrency',
    function_name          text DEFAULT NULL,
    source                 regclass DEFAULT 'scaler.request_log',
    stable_window          interval DEFAULT '1 minute',
    min_capacity           integer DEFAULT 0,
    max_capacity           integer DEFAULT 100,
    tolerance              float8 DEFAULT 0.1,
    scale_in_stabilization interval DEFAULT '5 minutes',
    panic_threshold        float8 DEFAULT 2.0,
    channel                text DEFAULT 'scaler',
    enabled                boolean DEFAULT true,
    keep_alive             text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.create_policy(text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean, text) IS
    'create a scaling policy owned by the calling role, which must be able to read the source; keep_alive is an interval, ''auto'' (learned from idle times) or NULL (none)';

CREATE FUNCTION scaler._alter_policy(
    invoker oid, name text, target float8, metric text, function_name text,
    source regclass, stable_window interval, min_capacity integer,
    max_capacity integer, tolerance float8, scale_in_stabilization interval,
    panic_threshold float8, channel text, enabled boolean, keep_alive text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p scaler.policy;
BEGIN
    SELECT * INTO p FROM scaler.policy q WHERE q.name = _alter_policy.name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'policy "%" does not exist', _alter_policy.name
            USING ERRCODE = '42704';
    END IF;
    IF NOT scaler._may_manage(invoker, p.owner) THEN
        RAISE EXCEPTION 'must be able to act as role % to alter policy "%"', p.owner, p.name
            USING ERRCODE = '42501';
    END IF;
    p.target := coalesce(target, p.target);
    p.metric := coalesce(metric, p.metric);
    -- '' switches the policy to all functions
    p.function_name := CASE WHEN function_name = '' THEN NULL
                            ELSE coalesce(function_name, p.function_name) END;
    p.source := coalesce(source, p.source);
    p.stable_window := coalesce(stable_window, p.stable_window);
    p.min_capacity := coalesce(min_capacity, p.min_capacity);
    p.max_capacity := coalesce(max_capacity, p.max_capacity);
    p.tolerance := coalesce(tolerance, p.tolerance);
    p.scale_in_stabilization := coalesce(scale_in_stabilization, p.scale_in_stabilization);
    p.panic_threshold := coalesce(panic_threshold, p.panic_threshold);
    p.channel := coalesce(channel, p.channel);
    p.enabled := coalesce(enabled, p.enabled);
    IF _alter_policy.keep_alive IS NOT NULL THEN
        SELECT k.keep_alive, k.auto INTO p.keep_alive, p.keep_alive_auto
          FROM scaler._keep_alive(_alter_policy.keep_alive) k;
    END IF;
    PERFORM scaler._check_policy(p);

    UPDATE scaler.policy q
       SET metric = p.metric, target = p.target, function_name = p.function_name,
           source = p.source, stable_window = p.stable_window,
           min_capacity = p.min_capacity, max_capacity = p.max_capacity,
           tolerance = p.tolerance, scale_in_stabilization = p.scale_in_stabilization,
           panic_threshold = p.panic_threshold, channel = p.channel, enabled = p.enabled,
           keep_alive = p.keep_alive, keep_alive_auto = p.keep_alive_auto
     WHERE q.name = p.name;
END
$$;
COMMENT ON FUNCTION scaler._alter_policy(oid, text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean, text) IS
    'internal: body of scaler.alter_policy, called with the calling role';

CREATE FUNCTION scaler.alter_policy(
    name                   text,
    target                 float8 DEFAULT NULL,
    metric                 text DEFAULT NULL,
    function_name          text DEFAULT NULL,
    source                 regclass DEFAULT NULL,
    stable_window          interval DEFAULT NULL,
    min_capacity           integer DEFAULT NULL,
    max_capacity           integer DEFAULT NULL,
    tolerance              float8 DEFAULT NULL,
    scale_in_stabilization interval DEFAULT NULL,
    panic_threshold        float8 DEFAULT NULL,
    channel                text DEFAULT NULL,
    enabled                boolean DEFAULT NULL,
    keep_alive             text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.alter_policy(text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean, text) IS
    'change the given settings of a policy (NULL keeps a setting; function_name => '''' means all functions; keep_alive => ''none'' removes the keep-alive)';

REVOKE ALL ON FUNCTION scaler.create_policy(text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.alter_policy(text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._create_policy(oid, text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._alter_policy(oid, text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean, text) FROM PUBLIC;

CREATE OR REPLACE VIEW scaler.policies AS
SELECT p.name, p.owner, p.metric, p.target, p.function_name, p.source,
       p.stable_window, p.min_capacity, p.max_capacity, p.tolerance,
       p.scale_in_stabilization, p.panic_threshold, p.channel, p.enabled,
       s.capacity, s.capacity_set_at, s.last_value, s.last_evaluated_at,
       s.last_decision_id, s.panic_at IS NOT NULL AS panicking,
       s.last_error, s.last_error_at,
       (s.last_error_at IS NOT NULL
        AND (s.last_evaluated_at IS NULL OR s.last_error_at > s.last_evaluated_at)) AS failing,
       p.created_at,
       CASE WHEN p.keep_alive_auto THEN 'auto' ELSE p.keep_alive::text END AS keep_alive
  FROM scaler.policy p
  LEFT JOIN scaler.policy_state s ON s.policy = p.name;
COMMENT ON VIEW scaler.policies IS
    'each policy with its capacity now, last value and last error: SELECT capacity FROM scaler.policies WHERE name = ''api'' is the one number an autoscaler (KEDA) needs';
COMMENT ON COLUMN scaler.policies.keep_alive IS 'how long one instance stays warm after the load stops: an interval, auto (learned from idle times), or NULL (no keep-alive)';

-- overrides take keep_alive
CREATE OR REPLACE FUNCTION scaler._policy_settings(invoker oid, policy text, overrides jsonb)
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

-- backtest and backtest_summary gain their cold-start columns
DROP FUNCTION scaler.backtest(text, timestamptz, timestamptz, jsonb);
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

DROP FUNCTION scaler.backtest_summary(text, timestamptz, timestamptz, jsonb);
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
