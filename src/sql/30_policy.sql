
-- ---------------------------------------------------------------------------
-- Policies, their state, the decision rules and evaluation.
-- ---------------------------------------------------------------------------

-- Retention deletes by age every evaluation; keep that an index range scan.
CREATE INDEX decision_decided_at_idx ON scaler.decision (decided_at);

-- What the decision rules remember between evaluations.
CREATE TYPE scaler.decide_state AS (
    panic_at        timestamptz,    -- last time the panic condition held; NULL = not panicking
    panic_capacity  integer,        -- highest capacity chosen while panicking
    history_at      timestamptz[],  -- scale-in stabilization history (monotonic queue)
    history_desired integer[]
);
COMMENT ON TYPE scaler.decide_state IS
    'state the decision rules carry from one evaluation to the next: panic mode and the scale-in stabilization history';

CREATE FUNCTION scaler.desired_capacity(
    metric                 text,
    target                 float8,
    current_capacity       integer,
    value                  float8,
    panic_value            float8 DEFAULT NULL,
    min_capacity           integer DEFAULT 0,
    max_capacity           integer DEFAULT 100,
    tolerance              float8 DEFAULT 0.1,
    panic_threshold        float8 DEFAULT 2.0,
    stable_window          interval DEFAULT '1 minute',
    scale_in_stabilization interval DEFAULT '5 minutes',
    floor                  integer DEFAULT 0,
    state                  scaler.decide_state DEFAULT NULL,
    at                     timestamptz DEFAULT pg_catalog.now(),
    OUT desired   integer,
    OUT reason    text,
    OUT panicking boolean,
    OUT new_state scaler.decide_state)
RETURNS record
AS 'MODULE_PATHNAME', 'scaler_desired_capacity'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION scaler.desired_capacity(text, float8, integer, float8, float8, integer, integer, float8, float8, interval, interval, integer, scaler.decide_state, timestamptz) IS
    'the decision rules alone (the same C code evaluate() runs): value is the metric over the stable window (NULL = no rows), panic_value over its last tenth; pass new_state back as state to chain evaluations';

-- The rules of a policy's settings, stated once (in C, src/policy.c and
-- src/decide.c, where scaler.desired_capacity() applies them too): the
-- table's CHECK constraint calls it, scaler._check_policy calls it with
-- raise => true for an error naming the field (22023).
CREATE FUNCTION scaler._check_settings(
    name text, metric text, target float8, stable_window interval,
    min_capacity integer, max_capacity integer, tolerance float8,
    scale_in_stabilization interval, panic_threshold float8, channel text,
    raise boolean)
RETURNS boolean
AS 'MODULE_PATHNAME', 'scaler_check_settings'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION scaler._check_settings(text, text, float8, interval, integer, integer, float8, interval, float8, text, boolean) IS
    'internal: whether policy settings are valid (raise: else an error naming the field); the one statement of these rules';

-- Policies: configuration only.  Runtime state is in scaler.policy_state.
CREATE TABLE scaler.policy (
    name                   text PRIMARY KEY,
    owner                  regrole NOT NULL,
    metric                 text NOT NULL,
    target                 float8 NOT NULL,
    function_name          text,
    source                 regclass NOT NULL,
    stable_window          interval NOT NULL,
    min_capacity           integer NOT NULL,
    max_capacity           integer NOT NULL,
    tolerance              float8 NOT NULL,
    scale_in_stabilization interval NOT NULL,
    panic_threshold        float8 NOT NULL,
    channel                text NOT NULL,
    enabled                boolean NOT NULL DEFAULT true,
    created_at             timestamptz NOT NULL DEFAULT pg_catalog.now(),
    keep_alive             interval,
    keep_alive_auto        boolean NOT NULL DEFAULT false,
    CONSTRAINT policy_settings_check
        CHECK (scaler._check_settings(name, metric, target, stable_window, min_capacity,
                                      max_capacity, tolerance, scale_in_stabilization,
                                      panic_threshold, channel, false)),
    CONSTRAINT policy_keep_alive_check
        CHECK (keep_alive IS NULL OR (keep_alive > '0' AND NOT keep_alive_auto))
);
COMMENT ON TABLE scaler.policy IS
    'scaling policies (change them with scaler.create_policy, alter_policy, drop_policy; read scaler.policies)';
COMMENT ON COLUMN scaler.policy.keep_alive IS
    'after the load stops, keep one instance at least this long before scaling to zero (NULL: no keep-alive)';
COMMENT ON COLUMN scaler.policy.keep_alive_auto IS
    'keep-alive learned from the function''s idle times (keep_alive => ''auto''): pre-warm before the next request is due';
SELECT pg_catalog.pg_extension_config_dump('scaler.policy', '');

CREATE TABLE scaler.policy_state (
    policy            text PRIMARY KEY
                      REFERENCES scaler.policy (name) ON DELETE CASCADE ON UPDATE CASCADE,
    capacity          integer NOT NULL CHECK (capacity >= 0),
    capacity_set_at   timestamptz,
    last_value        float8,
    last_evaluated_at timestamptz,
    last_decision_id  bigint,
    last_error        text,
    last_error_at     timestamptz,
    panic_at          timestamptz,
    panic_capacity    integer,
    history_at        timestamptz[] NOT NULL DEFAULT '{}',
    history_desired   integer[] NOT NULL DEFAULT '{}',
    last_active_at    timestamptz,
    idle_histogram    integer[]
);
COMMENT ON TABLE scaler.policy_state IS
    'per-policy runtime state: capacity, last value and error, panic mode and the scale-in stabilization history; evaluation locks a policy''s row';

-- No SET search_path: the body names nothing, and a SET clause would stop
-- the planner from inlining it into every tick's policy query.
CREATE FUNCTION scaler.active_floor(policy text, at timestamptz)
RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT 0 $$;
COMMENT ON FUNCTION scaler.active_floor(text, timestamptz) IS
    'the capacity floor active for a policy at a time (0 = none); evaluation clamps to it. Capacity floors replace this function';

-- The calling-role trampoline (see src/policy.c): public C functions pass
-- the caller to these SECURITY DEFINER internals, which nobody may call.

CREATE FUNCTION scaler._may_manage(invoker oid, owner oid)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE oid = invoker AND rolsuper)
        OR (EXISTS (SELECT FROM pg_catalog.pg_roles WHERE oid = owner)
            AND pg_catalog.pg_has_role(invoker, owner, 'USAGE'))
$$;
COMMENT ON FUNCTION scaler._may_manage(oid, oid) IS
    'internal: whether a role may change a policy (superuser, or has the privileges of its owner)';

-- What a metric reads and whether it is a load: asked of src/metric.c,
-- where the metrics are defined.
CREATE FUNCTION scaler._metric_column(metric text)
RETURNS text
AS 'MODULE_PATHNAME', 'scaler_metric_column_sql'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION scaler._metric_column(text) IS
    'internal: the source column a metric reads besides ts (NULL: none)';

CREATE FUNCTION scaler._metric_is_load(metric text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'scaler_metric_is_load_sql'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION scaler._metric_is_load(text) IS
    'internal: whether a metric is a load (capacity = value / target), which a forecast can turn into capacity';

CREATE FUNCTION scaler._check_policy(p scaler.policy)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    col    text;
    typ    regtype;
    needed text[] := ARRAY['ts'];
BEGIN
    -- name, metric, the numbers and channel: the rules of the table's CHECK
    PERFORM scaler._check_settings(p.name, p.metric, p.target, p.stable_window,
                                   p.min_capacity, p.max_capacity, p.tolerance,
                                   p.scale_in_stabilization, p.panic_threshold,
                                   p.channel, true);
    IF p.function_name = '' THEN
        RAISE EXCEPTION 'function_name must not be empty'
            USING ERRCODE = '22023',
                  HINT = 'Use NULL for a policy over all functions.';
    END IF;
    IF p.source IS NULL THEN
        RAISE EXCEPTION 'source must not be null' USING ERRCODE = '22023';
    END IF;

    -- the source must have the columns this metric reads (src/metric.c)
    IF p.function_name IS NOT NULL THEN
        needed := needed || 'function_name'::text;
    END IF;
    IF scaler._metric_column(p.metric) IS NOT NULL THEN
        needed := needed || scaler._metric_column(p.metric);
    END IF;
    FOREACH col IN ARRAY needed LOOP
        SELECT a.atttypid::regtype INTO typ
          FROM pg_catalog.pg_attribute a
         WHERE a.attrelid = p.source AND a.attname = col
           AND a.attnum > 0 AND NOT a.attisdropped;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'source % has no column "%"', p.source, col
                USING ERRCODE = '42703',
                      DETAIL = format('A policy with metric %s reads columns %s.',
                                      p.metric, array_to_string(needed, ', ')),
                      HINT = 'Create a view that renames your columns to ts, function_name, duration_ms and status.';
        END IF;
        -- the types every reader of a source accepts (src/source.c)
        IF NOT scaler._column_type_ok(col, typ) THEN
            RAISE EXCEPTION 'column "%" of source % has type %', col, p.source, typ
                USING ERRCODE = '22023',
                      DETAIL = CASE col
                          WHEN 'ts' THEN 'ts must be timestamp with time zone.'
                          WHEN 'function_name' THEN 'function_name must be text.'
                          WHEN 'duration_ms' THEN 'duration_ms must be a number.'
                          ELSE 'status must be an integer.' END;
        END IF;
        -- the policy reads its source as its owner
        IF NOT pg_catalog.has_column_privilege(p.owner::oid, p.source, col, 'SELECT') THEN
            RAISE EXCEPTION 'permission denied for table %', p.source
                USING ERRCODE = '42501',
                      DETAIL = format('Policy owner %s cannot read column "%s"; a policy reads its source with its owner''s privileges.',
                                      p.owner, col);
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION scaler._check_policy(scaler.policy) IS
    'internal: validate a policy row, naming the offending field';

CREATE FUNCTION scaler._column_type_ok(col text, typ regtype)
RETURNS boolean
AS 'MODULE_PATHNAME', 'scaler_column_type_ok'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION scaler._column_type_ok(text, regtype) IS
    'internal: whether a source column may have this type (the list every reader of a source applies)';

-- keep_alive as given to create_policy, alter_policy or a backtest override:
-- an interval, 'auto', or 'none' / '' for no keep-alive.
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
    PERFORM FROM scaler.policy q WHERE q.name = _alter_policy.name FOR UPDATE;
    p := scaler._managed_policy(invoker, _alter_policy.name, 'alter');
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

CREATE FUNCTION scaler._drop_policy(invoker oid, name text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM FROM scaler.policy q WHERE q.name = _drop_policy.name FOR UPDATE;
    PERFORM scaler._managed_policy(invoker, _drop_policy.name, 'drop');
    DELETE FROM scaler.policy q WHERE q.name = _drop_policy.name;
END
$$;
COMMENT ON FUNCTION scaler._drop_policy(oid, text) IS
    'internal: body of scaler.drop_policy, called with the calling role';

CREATE FUNCTION scaler.drop_policy(name text)
RETURNS void
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.drop_policy(text) IS
    'drop a policy and its state (its decisions stay in scaler.decision)';

CREATE FUNCTION scaler._set_capacity(invoker oid, policy text, capacity integer)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM scaler._managed_policy(invoker, _set_capacity.policy, 'set the capacity of');
    IF capacity IS NULL OR capacity < 0 THEN
        RAISE EXCEPTION 'capacity must not be null or negative' USING ERRCODE = '22023';
    END IF;
    INSERT INTO scaler.policy_state AS s (policy, capacity, capacity_set_at)
    VALUES (_set_capacity.policy, capacity, now())
    ON CONFLICT ON CONSTRAINT policy_state_pkey DO UPDATE
        SET capacity = excluded.capacity, capacity_set_at = excluded.capacity_set_at;
END
$$;
COMMENT ON FUNCTION scaler._set_capacity(oid, text, integer) IS
    'internal: body of scaler.set_capacity, called with the calling role';

CREATE FUNCTION scaler.set_capacity(policy text, capacity integer)
RETURNS void
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.set_capacity(text, integer) IS
    'record the capacity actually running for a policy; the next evaluation starts from it';

CREATE FUNCTION scaler._evaluate(policy text)
RETURNS bigint[]
AS 'MODULE_PATHNAME', 'scaler_evaluate_internal'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler._evaluate(text) IS
    'internal: evaluate policies, return the ids of the decisions made';

-- enable_bitmapscan = off: each policy reads a narrow window through the
-- (function_name, ts) index.  Generic plans estimate the range at 0.5% of
-- the rows, so on a big table the planner picks a bitmap scan, whose set-up
-- (a TID bitmap, a file size lookup) costs more than the window's few rows
-- and made a tick's cost grow with the table.  The worker sets the same.
CREATE FUNCTION scaler.evaluate(policy text DEFAULT NULL)
RETURNS SETOF scaler.decision
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_bitmapscan = off
AS $$
DECLARE
    ids bigint[];
BEGIN
    ids := scaler._evaluate(evaluate.policy);
    RETURN QUERY SELECT d.* FROM scaler.decision d WHERE d.id = ANY (ids) ORDER BY d.id;
END
$$;
COMMENT ON FUNCTION scaler.evaluate(text) IS
    'evaluate every enabled policy (or the one named) now; returns the decisions made, each also NOTIFYed on its channel at commit';

CREATE VIEW scaler.policies AS
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

COMMENT ON COLUMN scaler.policies.capacity IS 'capacity running now: the last decision, or what scaler.set_capacity recorded';
COMMENT ON COLUMN scaler.policies.capacity_set_at IS 'when scaler.set_capacity last recorded the capacity';
COMMENT ON COLUMN scaler.policies.last_value IS 'the metric over the stable window at the last successful evaluation (NULL: no data)';
COMMENT ON COLUMN scaler.policies.last_evaluated_at IS 'the last successful evaluation';
COMMENT ON COLUMN scaler.policies.last_decision_id IS 'scaler.decision.id of the policy''s last decision';
COMMENT ON COLUMN scaler.policies.panicking IS 'whether the policy is in panic mode (no scale in)';
COMMENT ON COLUMN scaler.policies.last_error IS 'the error of the last failed evaluation';
COMMENT ON COLUMN scaler.policies.failing IS 'whether the last evaluation failed';
COMMENT ON COLUMN scaler.policies.keep_alive IS 'how long one instance stays warm after the load stops: an interval, auto (learned from idle times), or NULL (no keep-alive)';
COMMENT ON COLUMN scaler.policy_state.history_at IS 'scale-in stabilization history: times, a monotonic queue with history_desired';
COMMENT ON COLUMN scaler.policy_state.history_desired IS 'scale-in stabilization history: desired capacities, strictly decreasing';
COMMENT ON COLUMN scaler.policy_state.panic_at IS 'last time the panic condition held; NULL when not panicking';
COMMENT ON COLUMN scaler.policy_state.panic_capacity IS 'highest capacity chosen during the current panic';
COMMENT ON COLUMN scaler.policy_state.last_active_at IS 'keep-alive: end of the last evaluated window that had requests';
COMMENT ON COLUMN scaler.policy_state.idle_histogram IS 'keep_alive => ''auto'': idle times between requests, one-minute bins over 4 hours, then the count beyond; NULL until learned';

-- Privileges.  Managing policies is the EXECUTE right on these functions;
-- grant it per role.  The internals are reached only through the
-- trampoline, which skips the EXECUTE check, so nobody needs them.
REVOKE ALL ON FUNCTION scaler.create_policy(text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.alter_policy(text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.drop_policy(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.set_capacity(text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.evaluate(text) FROM PUBLIC;
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
