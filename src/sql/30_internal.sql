-- ===========================================================================
-- Internal functions: not an API.  Most are SECURITY DEFINER bodies that the
-- public C trampolines (scaler_as_caller, src/policy.c) call with the
-- calling role as invoker; nobody may EXECUTE them (src/sql/90_privileges.sql).
-- They come before the API (src/sql/40_api.sql), whose SQL-language
-- functions are validated against them when created.  Shared by the install
-- and the update script: CREATE OR REPLACE, so that the update replaces
-- the 0.1 definitions.
-- ===========================================================================

-- ---------------------------------------------------------------------------
-- Traffic: the support functions of the aggregates (src/traffic_agg.c).
-- ---------------------------------------------------------------------------

-- A traffic value is independent of time zones (it keeps UTC quarter hours),
-- so building one is IMMUTABLE; the readers bucket into the session's
-- TimeZone and are STABLE.
CREATE OR REPLACE FUNCTION scaler.traffic_agg_trans(scaler.traffic, pg_catalog.timestamptz)
    RETURNS scaler.traffic
    AS 'MODULE_PATHNAME', 'traffic_agg_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION scaler.traffic_agg_trans(scaler.traffic, pg_catalog.timestamptz) IS
    'transition function of scaler.traffic_agg(ts)';

CREATE OR REPLACE FUNCTION scaler.traffic_agg_trans(scaler.traffic, pg_catalog.timestamptz, pg_catalog.float8)
    RETURNS scaler.traffic
    AS 'MODULE_PATHNAME', 'traffic_agg_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION scaler.traffic_agg_trans(scaler.traffic, pg_catalog.timestamptz, pg_catalog.float8) IS
    'transition function of scaler.traffic_agg(ts, duration_ms)';

CREATE OR REPLACE FUNCTION scaler.traffic_agg_trans(scaler.traffic, pg_catalog.timestamptz, pg_catalog.float8, pg_catalog.int4)
    RETURNS scaler.traffic
    AS 'MODULE_PATHNAME', 'traffic_agg_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION scaler.traffic_agg_trans(scaler.traffic, pg_catalog.timestamptz, pg_catalog.float8, pg_catalog.int4) IS
    'transition function of scaler.traffic_agg(ts, duration_ms, status)';

CREATE OR REPLACE FUNCTION scaler.traffic_agg_combine(scaler.traffic, scaler.traffic)
    RETURNS scaler.traffic
    AS 'MODULE_PATHNAME', 'traffic_agg_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION scaler.traffic_agg_combine(scaler.traffic, scaler.traffic) IS
    'combine function of scaler.traffic_agg: adds two partial states';

CREATE OR REPLACE FUNCTION scaler.traffic_agg_final(scaler.traffic)
    RETURNS scaler.traffic
    AS 'MODULE_PATHNAME', 'traffic_agg_final' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION scaler.traffic_agg_final(scaler.traffic) IS
    'final function of scaler.traffic_agg: the flat form of the state';

-- ---------------------------------------------------------------------------
-- Decisions: their JSON and the horizon readers stop at.
-- ---------------------------------------------------------------------------

-- A decision as JSON: the NOTIFY payload evaluation sends, and what a
-- listener catching up from the table hands on; one definition, so both
-- carry the same keys.  No SET search_path (every name is qualified), so
-- that the planner may inline it.
CREATE OR REPLACE FUNCTION scaler._decision_payload(d scaler.decision)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.json_build_object('id', d.id, 'policy', d.policy,
                                        'decided_at', d.decided_at, 'metric', d.metric,
                                        'value', d.value, 'target', d.target,
                                        'from', d.from_capacity, 'to', d.to_capacity,
                                        'reason', d.reason)::pg_catalog.text
$$;
COMMENT ON FUNCTION scaler._decision_payload(scaler.decision) IS
    'internal: a decision as the JSON text of its NOTIFY payload (id, policy, decided_at, metric, value, target, from, to, reason)';

-- Which decisions a reader may hand on: listeners catch up by "id > the last
-- id seen", so a reader must never return a decision while a transaction
-- that took a smaller id may still commit.  Writers hold no lock to commit
-- (an open transaction that called evaluate() would stop the worker); a
-- writer takes its xid before its id and stores in xid_bound the next xid as
-- it was after taking the id, so every writer of a smaller id has an xid
-- below xid_bound.  The bound of this reader's snapshot is the smallest xid
-- that snapshot sees running and that may have written decisions (it still
-- holds the lock nextval() takes on the id sequence, or has ended since the
-- snapshot, so its rows are not in it), and at most the snapshot's xmax
-- (xids from there on are not listed).  A decision whose xid_bound is not
-- above that bound has no writer of a smaller id running, and then neither
-- has any decision of a smaller id: the result is the newest such id, and
-- every decision up to it that will ever be visible is visible now.
-- Unrelated transactions, however long, hold nothing back.  Rows without
-- xid_bound (inserted by hand, or before 0.2) count as committed in order.
CREATE OR REPLACE FUNCTION scaler._decision_horizon()
RETURNS bigint
LANGUAGE sql
STABLE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $$
    WITH snap AS MATERIALIZED (
        SELECT pg_current_snapshot() AS s
    ), writer AS MATERIALIZED (
        SELECT t.transactionid AS xid
        FROM pg_locks l
        JOIN pg_locks t ON t.virtualtransaction = l.virtualtransaction
        WHERE l.locktype = 'relation'
          AND l.database = (SELECT db.oid FROM pg_database db
                            WHERE db.datname = current_database())
          AND l.relation = pg_get_serial_sequence('scaler.decision', 'id')::regclass
          AND l.mode = 'RowExclusiveLock' AND l.granted
          AND t.locktype = 'transactionid'
    ), bound AS (
        SELECT LEAST(pg_snapshot_xmax(snap.s),
                     (SELECT min(x.x) FROM pg_snapshot_xip(snap.s) x
                      WHERE pg_xact_status(x.x) IS DISTINCT FROM 'in progress'
                         OR xid(x.x) IN (SELECT w.xid FROM writer w))) AS b
        FROM snap
    )
    SELECT COALESCE((SELECT d.id FROM scaler.decision d, bound
                     WHERE d.xid_bound IS NULL OR d.xid_bound <= bound.b
                     ORDER BY d.id DESC LIMIT 1), 0)
$$;
COMMENT ON FUNCTION scaler._decision_horizon() IS
    'internal: the newest decision id up to which readers may return decisions: no transaction that took a smaller id can still commit (readers of scaler.decision in id order stop there)';

-- ---------------------------------------------------------------------------
-- Policies: who may manage one, the settings' checks, the bodies of the
-- management functions, evaluation.
-- ---------------------------------------------------------------------------

-- The calling-role trampoline (see src/policy.c): public C functions pass
-- the caller to these SECURITY DEFINER internals, which nobody may call.
CREATE OR REPLACE FUNCTION scaler._may_manage(invoker oid, owner oid)
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

-- The policy a caller names, provided the caller may manage it: the one
-- check every management function starts with.  A policy the caller may
-- not manage is reported exactly like one that does not exist (42704, same
-- message and hint), so that the error tells a role neither whether the
-- policy exists nor who owns it.
CREATE OR REPLACE FUNCTION scaler._managed_policy(invoker oid, policy text, action text)
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
COMMENT ON FUNCTION scaler._managed_policy(oid, text, text) IS
    'internal: the named policy, after checking that it exists and that invoker may manage it';

-- What a metric reads and whether it is a load: asked of src/metric.c,
-- where the metrics are defined.
CREATE OR REPLACE FUNCTION scaler._metric_column(metric text)
RETURNS text
AS 'MODULE_PATHNAME', 'scaler_metric_column_sql'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION scaler._metric_column(text) IS
    'internal: the source column a metric reads besides ts (NULL: none)';

CREATE OR REPLACE FUNCTION scaler._metric_is_load(metric text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'scaler_metric_is_load_sql'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION scaler._metric_is_load(text) IS
    'internal: whether a metric is a load (capacity = value / target), which a forecast can turn into capacity';

CREATE OR REPLACE FUNCTION scaler._check_policy(p scaler.policy)
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

CREATE OR REPLACE FUNCTION scaler._column_type_ok(col text, typ regtype)
RETURNS boolean
AS 'MODULE_PATHNAME', 'scaler_column_type_ok'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION scaler._column_type_ok(text, regtype) IS
    'internal: whether a source column may have this type (the list every reader of a source applies)';

-- keep_alive as given to create_policy, alter_policy or a backtest override:
-- an interval, 'auto', or 'none' / '' for no keep-alive.
CREATE OR REPLACE FUNCTION scaler._keep_alive(setting text, OUT keep_alive interval, OUT auto boolean)
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
    -- (far below what evaluation can count in microseconds, about 3,000
    -- years: a policy it took would fail every evaluation)
    IF _keep_alive.keep_alive > '100 years' THEN
        RAISE EXCEPTION 'keep_alive must be at most 100 years'
            USING ERRCODE = '22023';
    END IF;
END
$$;
COMMENT ON FUNCTION scaler._keep_alive(text) IS
    'internal: parse a keep_alive setting (an interval, ''auto'', or ''none'')';

CREATE OR REPLACE FUNCTION scaler._create_policy(
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

CREATE OR REPLACE FUNCTION scaler._alter_policy(
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
    old scaler.policy;
BEGIN
    PERFORM FROM scaler.policy q WHERE q.name = _alter_policy.name FOR UPDATE;
    p := scaler._managed_policy(invoker, _alter_policy.name, 'alter');
    old := p;
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
    -- The idle times were learned from the traffic watched while 'auto':
    -- a policy that leaves 'auto' forgets them, so that 'auto' learns afresh
    -- instead of from what it saw long ago.  One that watches other traffic
    -- also forgets when that traffic last had requests (a keep-alive for a
    -- function that never had one would hold an instance the replay does
    -- not): it starts from the new traffic's history, as the replay does.
    -- So does one that had no keep-alive, during which nobody kept that
    -- time (src/evaluate.c learns it from the history).
    IF old.source IS DISTINCT FROM p.source
       OR old.function_name IS DISTINCT FROM p.function_name
       OR (old.keep_alive IS NULL AND NOT old.keep_alive_auto) THEN
        UPDATE scaler.policy_state s SET idle_histogram = NULL, last_active_at = NULL,
                                         last_step_at = NULL
         WHERE s.policy = p.name;
    ELSIF old.keep_alive_auto AND NOT p.keep_alive_auto THEN
        UPDATE scaler.policy_state s SET idle_histogram = NULL, last_step_at = NULL
         WHERE s.policy = p.name;
    END IF;
    -- The new channel's listeners stepped over the policy's decisions as
    -- another channel's: wake them, so that scaler-listen reads the newest
    -- of them again as theirs.  No decision comes with it: an empty payload.
    IF old.channel IS DISTINCT FROM p.channel THEN
        PERFORM pg_catalog.pg_notify(p.channel, '');
    END IF;
END
$$;
COMMENT ON FUNCTION scaler._alter_policy(oid, text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean, text) IS
    'internal: body of scaler.alter_policy, called with the calling role';

CREATE OR REPLACE FUNCTION scaler._drop_policy(invoker oid, name text)
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

CREATE OR REPLACE FUNCTION scaler._set_capacity(invoker oid, policy text, capacity integer)
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

CREATE OR REPLACE FUNCTION scaler._evaluate(policy text)
RETURNS bigint[]
AS 'MODULE_PATHNAME', 'scaler_evaluate_internal'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler._evaluate(text) IS
    'internal: evaluate policies, return the ids of the decisions made';

-- The settings a replay or forecast uses: the policy's, with overrides.
-- Called only from C (src/backtest.c) through fmgr with the real caller as
-- invoker; nobody may EXECUTE it.
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

-- ---------------------------------------------------------------------------
-- Capacity floors, forecasts and scheduled capacity (pg_cron as the clock).
-- ---------------------------------------------------------------------------

-- The floor rule, stated once: a floor is active at t when starts <= t <
-- ends, and the highest active floor of a policy is its floor.  Evaluation
-- (src/evaluate.c) joins it into every tick's policy query; a replay
-- applies the same rule to its steps (src/backtest.c, step_floors).  No
-- SET search_path (every name is qualified), so that the planner inlines
-- it into the query that uses it.
CREATE OR REPLACE FUNCTION scaler._active_floors(at timestamptz)
RETURNS TABLE (policy text, floor integer)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT f.policy, pg_catalog.max(f.min_capacity)
      FROM scaler.capacity_floor f
     WHERE f.ends OPERATOR(pg_catalog.>) $1
       AND f.starts OPERATOR(pg_catalog.<=) $1
     GROUP BY f.policy
$$;
COMMENT ON FUNCTION scaler._active_floors(timestamptz) IS
    'internal: the highest capacity floor of each policy that has one active at a time (starts <= at < ends)';

-- The floors of a policy overlapping [since, until], for the replay.
-- Called only from C (src/backtest.c) through fmgr, after the caller was
-- checked by scaler._policy_settings.
CREATE OR REPLACE FUNCTION scaler._policy_floors(policy text, since timestamptz, until timestamptz,
    OUT starts timestamptz[], OUT ends timestamptz[], OUT min_capacity integer[])
RETURNS record
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.array_agg(f.starts ORDER BY f.id),
           pg_catalog.array_agg(f.ends ORDER BY f.id),
           pg_catalog.array_agg(f.min_capacity ORDER BY f.id)
      FROM scaler.capacity_floor f
     WHERE f.policy = $1
       AND f.ends OPERATOR(pg_catalog.>) $2
       AND f.starts OPERATOR(pg_catalog.<=) $3
$$;
COMMENT ON FUNCTION scaler._policy_floors(text, timestamptz, timestamptz) IS
    'internal: the capacity floors of a policy overlapping [since, until], as parallel arrays';

-- The checks of the arguments that floors and schedules share, once.
CREATE OR REPLACE FUNCTION scaler._check_floor_args(min_capacity integer, duration interval)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF min_capacity IS NULL OR min_capacity < 0 THEN
        RAISE EXCEPTION 'min_capacity must not be null or negative' USING ERRCODE = '22023';
    END IF;
    IF duration IS NULL OR duration <= '0' THEN
        RAISE EXCEPTION 'duration must be greater than zero' USING ERRCODE = '22023';
    END IF;
    IF duration > interval '366 days' THEN
        RAISE EXCEPTION 'duration must not exceed 366 days' USING ERRCODE = '22023',
            HINT = 'For a lasting minimum, raise the policy''s min_capacity instead.';
    END IF;
    -- a floor ends at now() + duration, in calendar months, where the
    -- checks count 30 days a month: '12 mons 6 days' would pass for 366
    -- days and last 371, '-2 mons 61 days' for one day and end at its start
    IF pg_catalog.date_part('month', duration) <> 0 OR pg_catalog.date_part('year', duration) <> 0 THEN
        RAISE EXCEPTION 'duration must not have months or years' USING ERRCODE = '22023',
            HINT = 'Give it in days, hours and minutes: months differ in length.';
    END IF;
END
$$;
COMMENT ON FUNCTION scaler._check_floor_args(integer, interval) IS
    'internal: check the min_capacity and duration of a floor (open_floor, schedule_capacity)';

CREATE OR REPLACE FUNCTION scaler._check_lead(lead interval)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF lead IS NULL OR lead < '0' THEN
        RAISE EXCEPTION 'lead must not be null or negative' USING ERRCODE = '22023';
    END IF;
    IF lead > interval '24 hours' THEN
        RAISE EXCEPTION 'lead must not exceed 24 hours' USING ERRCODE = '22023';
    END IF;
END
$$;
COMMENT ON FUNCTION scaler._check_lead(interval) IS
    'internal: check how long before its hour a forecast floor starts (apply_forecast, schedule_forecast)';

CREATE OR REPLACE FUNCTION scaler._check_cron(field text, schedule text, example text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF schedule IS NULL OR btrim(schedule) = '' THEN
        RAISE EXCEPTION '% must not be empty', field USING ERRCODE = '22023',
            HINT = format('Give a cron expression, e.g. %s.', example);
    END IF;
    IF length(schedule) > 100 THEN
        RAISE EXCEPTION '% must not exceed 100 characters', field USING ERRCODE = '22023';
    END IF;
END
$$;
COMMENT ON FUNCTION scaler._check_cron(text, text, text) IS
    'internal: check a cron schedule given to schedule_capacity or schedule_forecast';

-- Opening a floor: by hand, or from a scheduled pg_cron job.
CREATE OR REPLACE FUNCTION scaler._open_floor(invoker oid, policy text, min_capacity integer,
                                              duration interval, origin text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p  scaler.policy;
    id bigint;
BEGIN
    p := scaler._managed_policy(invoker, _open_floor.policy, 'open a floor for');
    PERFORM scaler._check_floor_args(min_capacity, duration);
    IF origin IS NULL OR origin = '' THEN
        RAISE EXCEPTION 'origin must not be empty' USING ERRCODE = '22023';
    END IF;
    -- max_capacity stays the ceiling (it may have been lowered since scheduling)
    INSERT INTO scaler.capacity_floor AS f (policy, starts, ends, min_capacity, origin)
    VALUES (p.name, now(), now() + duration, least(min_capacity, p.max_capacity), origin)
    RETURNING f.id INTO id;
    RETURN id;
END
$$;
COMMENT ON FUNCTION scaler._open_floor(oid, text, integer, interval, text) IS
    'internal: body of scaler.open_floor, called with the calling role';

CREATE OR REPLACE FUNCTION scaler._apply_forecast(invoker oid, policy text, lead interval)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p         scaler.policy;
    n         integer;
    retention text;
BEGIN
    p := scaler._managed_policy(invoker, _apply_forecast.policy, 'apply a forecast to');
    PERFORM scaler._check_lead(lead);
    IF NOT scaler._metric_is_load(p.metric) THEN
        RAISE EXCEPTION 'policy "%" scales on %, which a forecast cannot turn into capacity', p.name, p.metric
            USING ERRCODE = '22023',
                  DETAIL = 'For quality metrics the capacity needed depends on the capacity running.',
                  HINT = 'Forecast floors need a load metric (concurrency or rps); scaler.forecast() still shows the expected values.';
    END IF;

    -- the new forecast replaces what is left of the previous one
    DELETE FROM scaler.capacity_floor f
     WHERE f.policy = p.name AND f.origin = 'forecast' AND f.ends > now();

    -- forecast() bounds capacity to [min_capacity, max_capacity] as decisions are
    INSERT INTO scaler.capacity_floor (policy, starts, ends, min_capacity, origin)
    SELECT p.name, fc.hour - lead, fc.hour + interval '1 hour', fc.capacity, 'forecast'
      FROM scaler.forecast(p.name) fc
     WHERE fc.capacity > 0 AND fc.hour + interval '1 hour' > now();
    GET DIAGNOSTICS n = ROW_COUNT;

    -- floors are kept as long as decisions, so backtests see them
    retention := current_setting('scaler.decision_retention', true);
    IF retention IS NOT NULL AND retention <> '0' THEN
        DELETE FROM scaler.capacity_floor f
         WHERE f.policy = p.name AND f.ends < now() - retention::interval;
    END IF;
    RETURN n;
END
$$;
COMMENT ON FUNCTION scaler._apply_forecast(oid, text, interval) IS
    'internal: body of scaler.apply_forecast, called with the calling role';

CREATE OR REPLACE FUNCTION scaler._require_cron()
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
        RAISE EXCEPTION 'pg_cron is not installed in this database'
            USING ERRCODE = '55000',
                  DETAIL = 'Scheduled capacity and forecast refresh use pg_cron as their clock.',
                  HINT = 'Add pg_cron to shared_preload_libraries, set cron.database_name to this database and run CREATE EXTENSION pg_cron; or call scaler.open_floor() and scaler.apply_forecast() from another scheduler.';
    END IF;
END
$$;
COMMENT ON FUNCTION scaler._require_cron() IS
    'internal: raise a clear error when pg_cron is not installed here';

-- Make or update the job of a schedule row.  The job runs as the policy's
-- owner (never as the extension owner), so it has no more rights than the
-- owner has when it runs: an owner that lost EXECUTE on the function, or
-- the right to log in, makes its job fail.  It only ever runs the fixed
-- command built by its caller.
CREATE OR REPLACE FUNCTION scaler._schedule_job(row_id bigint, schedule text, command text)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s      scaler.capacity_schedule;
    owner  pg_catalog.pg_roles;
    fn     regprocedure;
    new_id bigint;
BEGIN
    SELECT * INTO STRICT s FROM scaler.capacity_schedule c WHERE c.id = row_id;
    SELECT r.* INTO owner FROM scaler.policy q JOIN pg_catalog.pg_roles r ON r.oid = q.owner
     WHERE q.name = s.policy;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'owner of policy "%" no longer exists', s.policy
            USING ERRCODE = '42704',
                  HINT = 'Drop the policy and create it again as an existing role.';
    END IF;
    fn := CASE s.kind WHEN 'capacity' THEN 'scaler.open_floor(text, integer, interval, text)'::regprocedure
                      ELSE 'scaler.apply_forecast(text, interval)'::regprocedure END;
    IF NOT owner.rolcanlogin THEN
        RAISE EXCEPTION 'policy owner % cannot log in, so pg_cron cannot run its job', owner.rolname
            USING ERRCODE = '42501',
                  DETAIL = 'Scheduled jobs run as the policy''s owner.',
                  HINT = 'Give the owner LOGIN, or create the policy as a role that can log in.';
    END IF;
    IF NOT has_function_privilege(owner.oid, fn, 'EXECUTE') THEN
        RAISE EXCEPTION 'policy owner % may not execute %, which its job runs', owner.rolname, fn
            USING ERRCODE = '42501',
                  DETAIL = 'Scheduled jobs run as the policy''s owner.',
                  HINT = format('GRANT EXECUTE ON FUNCTION %s TO %I;', fn, owner.rolname);
    END IF;
    IF s.jobid IS NOT NULL THEN
        PERFORM cron.unschedule(j.jobid) FROM cron.job j WHERE j.jobid = s.jobid;
    END IF;
    new_id := cron.schedule_in_database(format('scaler_%s_%s', s.kind, s.id), schedule, command,
                                        current_database(), owner.rolname);
    UPDATE scaler.capacity_schedule c SET jobid = new_id WHERE c.id = row_id;
    RETURN new_id;
END
$$;
COMMENT ON FUNCTION scaler._schedule_job(bigint, text, text) IS
    'internal: (re)create the pg_cron job of a scaler.capacity_schedule row';

-- pg_cron runs a job as the role its cron.job row names, by name.  A
-- policy owner renamed (ALTER ROLE ... RENAME) or dropped leaves a name no
-- role has, and pg_cron 1.4's launcher then fails at each start, a second
-- apart, which stops every job of the cluster, not only scaler's.  The
-- worker's upkeep follows the owners: a renamed owner's jobs get the new
-- name, a dropped owner's are unscheduled (its schedules stay, without a
-- job).  A failure here is a warning and stops no other upkeep.
CREATE OR REPLACE FUNCTION scaler._follow_job_owners()
RETURNS text[]
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    done text[] := '{}';
    j    record;
BEGIN
    IF pg_catalog.to_regclass('cron.job') IS NULL THEN
        RETURN done;
    END IF;
    FOR j IN EXECUTE
        $q$SELECT c.id, c.jobid, c.policy, r.rolname AS owner
             FROM scaler.capacity_schedule c
             JOIN cron.job cj ON cj.jobid OPERATOR(pg_catalog.=) c.jobid
             LEFT JOIN scaler.policy p ON p.name OPERATOR(pg_catalog.=) c.policy
             LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) p.owner
            WHERE r.rolname IS NULL OR r.rolname::pg_catalog.text OPERATOR(pg_catalog.<>) cj.username
            ORDER BY c.id$q$
    LOOP
        IF j.owner IS NULL THEN
            PERFORM cron.unschedule(j.jobid);
            UPDATE scaler.capacity_schedule c SET jobid = NULL WHERE c.id = j.id;
            done := done || pg_catalog.format('unscheduled job %s of policy %s, whose owner is gone', j.jobid, j.policy);
        ELSE
            PERFORM cron.alter_job(j.jobid, username => j.owner::pg_catalog.text);
            done := done || pg_catalog.format('job %s of policy %s runs as %s', j.jobid, j.policy, j.owner);
        END IF;
    END LOOP;
    RETURN done;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'scaler: following the owners of pg_cron jobs failed: %', SQLERRM;
    RETURN '{}';
END
$$;
COMMENT ON FUNCTION scaler._follow_job_owners() IS
    'internal: the worker''s upkeep of pg_cron jobs: a policy owner''s new name on its jobs, a dropped owner''s jobs unscheduled';

CREATE OR REPLACE FUNCTION scaler._schedule_capacity(invoker oid, policy text, schedule text,
                                                     min_capacity integer, duration interval)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p      scaler.policy;
    row_id bigint;
BEGIN
    p := scaler._managed_policy(invoker, _schedule_capacity.policy, 'schedule capacity for');
    PERFORM scaler._check_cron('schedule', schedule, '''55 8 * * 1-5'' for 08:55 on weekdays');
    PERFORM scaler._check_floor_args(min_capacity, duration);
    IF min_capacity > p.max_capacity THEN
        RAISE EXCEPTION 'min_capacity must not exceed max_capacity of policy "%"', p.name
            USING ERRCODE = '22023',
                  DETAIL = format('min_capacity is %s, max_capacity is %s.', min_capacity, p.max_capacity);
    END IF;
    PERFORM scaler._require_cron();

    -- one job per policy and schedule: scheduling again updates it
    SELECT c.id INTO row_id FROM scaler.capacity_schedule c
     WHERE c.policy = p.name AND c.kind = 'capacity' AND c.schedule = _schedule_capacity.schedule
     FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO scaler.capacity_schedule AS c (policy, kind, schedule, min_capacity, duration)
        VALUES (p.name, 'capacity', schedule, min_capacity, duration)
        RETURNING c.id INTO row_id;
    ELSE
        UPDATE scaler.capacity_schedule c
           SET min_capacity = _schedule_capacity.min_capacity,
               duration = _schedule_capacity.duration
         WHERE c.id = row_id;
    END IF;
    RETURN scaler._schedule_job(row_id, schedule,
        format('SELECT scaler.open_floor(%L, %s, %L, %L)', p.name, min_capacity, duration, 'schedule'));
END
$$;
COMMENT ON FUNCTION scaler._schedule_capacity(oid, text, text, integer, interval) IS
    'internal: body of scaler.schedule_capacity, called with the calling role';

CREATE OR REPLACE FUNCTION scaler._unschedule_capacity(invoker oid, policy text, schedule text)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p scaler.policy;
    n integer;
BEGIN
    p := scaler._managed_policy(invoker, _unschedule_capacity.policy, 'unschedule capacity for');
    PERFORM scaler._require_cron();
    DELETE FROM scaler.capacity_schedule c
     WHERE c.policy = p.name AND c.kind = 'capacity'
       AND (_unschedule_capacity.schedule IS NULL OR c.schedule = _unschedule_capacity.schedule);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
COMMENT ON FUNCTION scaler._unschedule_capacity(oid, text, text) IS
    'internal: body of scaler.unschedule_capacity, called with the calling role';

CREATE OR REPLACE FUNCTION scaler._schedule_forecast(invoker oid, policy text, every text, lead interval)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p      scaler.policy;
    row_id bigint;
BEGIN
    p := scaler._managed_policy(invoker, _schedule_forecast.policy, 'schedule forecasts for');
    PERFORM scaler._check_cron('every', every, '''0 */6 * * *''');
    PERFORM scaler._check_lead(lead);
    IF NOT scaler._metric_is_load(p.metric) THEN
        RAISE EXCEPTION 'policy "%" scales on %, which a forecast cannot turn into capacity', p.name, p.metric
            USING ERRCODE = '22023',
                  HINT = 'Forecast floors need a load metric (concurrency or rps).';
    END IF;
    PERFORM scaler._require_cron();

    -- one forecast job per policy: scheduling again updates it
    SELECT c.id INTO row_id FROM scaler.capacity_schedule c
     WHERE c.policy = p.name AND c.kind = 'forecast' FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO scaler.capacity_schedule AS c (policy, kind, schedule, lead)
        VALUES (p.name, 'forecast', every, lead)
        RETURNING c.id INTO row_id;
    ELSE
        UPDATE scaler.capacity_schedule c SET schedule = every, lead = _schedule_forecast.lead
         WHERE c.id = row_id;
    END IF;
    RETURN scaler._schedule_job(row_id, every,
        format('SELECT scaler.apply_forecast(%L, %L)', p.name, lead));
END
$$;
COMMENT ON FUNCTION scaler._schedule_forecast(oid, text, text, interval) IS
    'internal: body of scaler.schedule_forecast, called with the calling role';

CREATE OR REPLACE FUNCTION scaler._unschedule_forecast(invoker oid, policy text)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p scaler.policy;
    n integer;
BEGIN
    p := scaler._managed_policy(invoker, _unschedule_forecast.policy, 'unschedule forecasts for');
    PERFORM scaler._require_cron();
    DELETE FROM scaler.capacity_schedule c WHERE c.policy = p.name AND c.kind = 'forecast';
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
COMMENT ON FUNCTION scaler._unschedule_forecast(oid, text) IS
    'internal: body of scaler.unschedule_forecast, called with the calling role';

-- ---------------------------------------------------------------------------
-- traffic_svg: the policy overlay (src/svg.c).
-- ---------------------------------------------------------------------------

-- The rows of the policy overlay, for a caller who may manage the policy
-- (the rule of every policy function: scaler._managed_policy).  Called only
-- from C (src/svg.c) through fmgr with the real caller as invoker; nobody
-- may EXECUTE it.  Floors other than manual and scheduled ones are written
-- by scaler itself ahead of expected load: the picture shades them as
-- pre-warm.
CREATE OR REPLACE FUNCTION scaler._svg_policy(invoker oid, policy text, since timestamptz,
    until timestamptz, decisions boolean,
    OUT name text, OUT capacity integer,
    OUT decided_at timestamptz[], OUT to_capacity integer[],
    OUT floor_starts timestamptz[], OUT floor_ends timestamptz[],
    OUT floor_min integer[], OUT floor_prewarm boolean[])
RETURNS record
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p_min integer;
BEGIN
    SELECT q.name, q.min_capacity INTO name, p_min
      FROM scaler._managed_policy(invoker, _svg_policy.policy, 'chart') q;
    -- the capacity at since: set by the last decision before it; else what
    -- the first decision after it started from; else what runs now
    SELECT d.to_capacity INTO capacity
      FROM scaler.decision d
     WHERE d.policy = _svg_policy.name AND d.decided_at <= _svg_policy.since
     ORDER BY d.decided_at DESC, d.id DESC LIMIT 1;
    IF NOT FOUND THEN
        SELECT d.from_capacity INTO capacity
          FROM scaler.decision d
         WHERE d.policy = _svg_policy.name AND d.decided_at > _svg_policy.since
         ORDER BY d.decided_at, d.id LIMIT 1;
        IF NOT FOUND THEN
            SELECT s.capacity INTO capacity
              FROM scaler.policy_state s WHERE s.policy = _svg_policy.name;
            capacity := coalesce(capacity, p_min);
        END IF;
    END IF;
    IF decisions THEN
        SELECT array_agg(d.decided_at ORDER BY d.decided_at, d.id),
               array_agg(d.to_capacity ORDER BY d.decided_at, d.id)
          INTO decided_at, to_capacity
          FROM scaler.decision d
         WHERE d.policy = _svg_policy.name
           AND d.decided_at > _svg_policy.since AND d.decided_at < _svg_policy.until;
    END IF;
    SELECT array_agg(f.starts ORDER BY f.starts, f.id),
           array_agg(f.ends ORDER BY f.starts, f.id),
           array_agg(f.min_capacity ORDER BY f.starts, f.id),
           array_agg(f.origin NOT IN ('manual', 'schedule') ORDER BY f.starts, f.id)
      INTO floor_starts, floor_ends, floor_min, floor_prewarm
      FROM scaler.capacity_floor f
     WHERE f.policy = _svg_policy.name
       AND f.ends > _svg_policy.since AND f.starts < _svg_policy.until;
END
$$;
COMMENT ON FUNCTION scaler._svg_policy(oid, text, timestamptz, timestamptz, boolean) IS
    'internal: for traffic_svg, a policy''s capacity at since, its decisions in (since, until) and its floors overlapping them, for a caller who may manage it';

-- ---------------------------------------------------------------------------
-- scaler-listen: subscriptions and acknowledgements (see the comment on
-- scaler.subscription in src/sql/install/20_tables.sql).
-- ---------------------------------------------------------------------------

-- The start time of a live backend, NULL when no backend has that pid.  With
-- the pid it names a session: pids are reused, start times are not.  It runs
-- as its caller and shows what pg_stat_activity shows it, so it stays
-- executable by PUBLIC (scaler.subscriptions uses it).
CREATE OR REPLACE FUNCTION scaler._listen_backend_start(pid integer)
RETURNS timestamptz
LANGUAGE sql
STABLE STRICT PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT a.backend_start FROM pg_catalog.pg_stat_get_activity(_listen_backend_start.pid) a
$$;
COMMENT ON FUNCTION scaler._listen_backend_start(integer) IS
    'internal: backend_start of the live backend with this pid, or NULL';

-- The subscription a role asks for, checked: the role can read decisions
-- (every listen_* function reveals some) and may use this subscription.
-- Returns a row of NULLs when there is no such subscription; with lock, the
-- row is locked until the end of the transaction.
CREATE OR REPLACE FUNCTION scaler._listen_subscription(invoker oid, subscription text, lock boolean)
RETURNS scaler.subscription
LANGUAGE plpgsql
VOLATILE STRICT SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    sub scaler.subscription;
BEGIN
    IF NOT pg_catalog.has_table_privilege(invoker, 'scaler.decision', 'SELECT') THEN
        RAISE EXCEPTION 'permission denied for table decision'
            USING ERRCODE = '42501',
                  DETAIL = 'The listener functions reveal decisions: they need SELECT on scaler.decision.';
    END IF;
    IF lock THEN
        SELECT * INTO sub FROM scaler.subscription s
        WHERE s.name = _listen_subscription.subscription
        FOR UPDATE;
    ELSE
        SELECT * INTO sub FROM scaler.subscription s
        WHERE s.name = _listen_subscription.subscription;
    END IF;
    IF FOUND AND NOT scaler._may_manage(invoker, sub.owner) THEN
        RAISE EXCEPTION 'permission denied for subscription "%"',
                        _listen_subscription.subscription
            USING ERRCODE = '42501',
                  DETAIL = 'A subscription can be used only by the role that created it and by superusers.',
                  HINT = 'Choose a different --name.';
    END IF;
    RETURN sub;
END
$$;
COMMENT ON FUNCTION scaler._listen_subscription(oid, text, boolean) IS
    'internal: the named subscription if the role may read decisions and use it (NULLs when it does not exist), locked if asked';

-- Create the subscription on first use, or resume it, and make this session
-- its holder.  A new subscription starts with each policy's newest decision
-- on the channel (level-triggered: a freshly started actuator applies the
-- capacity scaler wants now), or, with from_now, after the newest decision.
CREATE OR REPLACE FUNCTION scaler._listen_subscribe(invoker oid, subscription text, channel text,
                                                    from_now boolean,
                                                    OUT after_id bigint, OUT latest_through bigint)
RETURNS record
LANGUAGE plpgsql
VOLATILE STRICT SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    sub      scaler.subscription;
    newest   bigint;
    me       timestamptz := scaler._listen_backend_start(pg_backend_pid());
BEGIN
    IF _listen_subscribe.subscription = '' THEN
        RAISE EXCEPTION 'subscription name must not be empty'
            USING ERRCODE = '22023';
    END IF;

    sub := scaler._listen_subscription(invoker, _listen_subscribe.subscription, true);
    IF sub.name IS NULL THEN
        -- decisions above the horizon may still be joined by smaller ids
        newest := scaler._decision_horizon();
        INSERT INTO scaler.subscription AS s (name, channel, low_id, owner, start_id)
        VALUES (_listen_subscribe.subscription, _listen_subscribe.channel,
                CASE WHEN from_now THEN newest
                     ELSE COALESCE((SELECT min(l.id) - 1
                                    FROM scaler.policy p
                                    CROSS JOIN LATERAL
                                        (SELECT max(d.id) AS id FROM scaler.decision d
                                         WHERE d.policy = p.name AND d.id <= newest) l
                                    WHERE p.channel = _listen_subscribe.channel),
                                   newest)
                END,
                invoker::regrole, newest)
        ON CONFLICT (name) DO NOTHING;
        -- created by us, or by a concurrent call: check it again either way
        sub := scaler._listen_subscription(invoker, _listen_subscribe.subscription, true);
    END IF;

    IF sub.holder_pid IS DISTINCT FROM pg_backend_pid()
       AND scaler._listen_backend_start(sub.holder_pid) = sub.holder_start THEN
        RAISE EXCEPTION 'subscription "%" is in use by another listener',
                        _listen_subscribe.subscription
            USING ERRCODE = '55006',
                  DETAIL = format('The session of backend %s holds it.', sub.holder_pid),
                  HINT = 'Stop the other scaler-listen, or choose a different --name.';
    END IF;

    UPDATE scaler.subscription s
    SET channel = _listen_subscribe.channel, seen_at = now(),
        holder_pid = pg_backend_pid(), holder_start = me
    WHERE s.name = sub.name;

    -- Acknowledgements of decisions that retention has removed can no longer
    -- matter: nothing at or below them is left to deliver.
    DELETE FROM scaler.subscription_ack a
    WHERE a.subscription = sub.name
      AND a.decision_id < COALESCE((SELECT min(d.id) FROM scaler.decision d),
                                   9223372036854775807);

    after_id := sub.low_id;
    latest_through := sub.start_id;
END
$$;
COMMENT ON FUNCTION scaler._listen_subscribe(oid, text, text, boolean) IS
    'internal: body of scaler.listen_subscribe, called with the calling role';

-- The watermark of each policy: the newest acknowledged decision.
CREATE OR REPLACE FUNCTION scaler._listen_acked(invoker oid, subscription text)
RETURNS TABLE (policy text, decision_id bigint)
LANGUAGE plpgsql
STABLE STRICT SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    sub scaler.subscription;
BEGIN
    sub := scaler._listen_subscription(invoker, _listen_acked.subscription, false);
    IF sub.name IS NULL THEN
        RAISE EXCEPTION 'subscription "%" does not exist', _listen_acked.subscription
            USING ERRCODE = '42704';
    END IF;
    RETURN QUERY
        SELECT a.policy, max(a.decision_id)
        FROM scaler.subscription_ack a
        WHERE a.subscription = sub.name
        GROUP BY a.policy;
END
$$;
COMMENT ON FUNCTION scaler._listen_acked(oid, text) IS
    'internal: body of scaler.listen_acked, called with the calling role';

-- Record one acknowledgement.  Idempotent, so a listener that lost its
-- connection while acknowledging simply sends it again.  Only the session
-- holding the subscription may acknowledge.
CREATE OR REPLACE FUNCTION scaler._listen_ack(invoker oid, subscription text, decision_id bigint,
                                              outcome text, acked_through bigint)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE STRICT SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    sub scaler.subscription;
    inserted integer;
BEGIN
    IF _listen_ack.outcome NOT IN ('done', 'superseded') THEN
        RAISE EXCEPTION 'invalid outcome "%"', _listen_ack.outcome
            USING ERRCODE = '22023',
                  HINT = 'The outcome is "done" or "superseded".';
    END IF;

    sub := scaler._listen_subscription(invoker, _listen_ack.subscription, true);
    IF sub.name IS NULL THEN
        RAISE EXCEPTION 'subscription "%" does not exist', _listen_ack.subscription
            USING ERRCODE = '42704';
    END IF;
    IF sub.holder_pid IS DISTINCT FROM pg_backend_pid()
       OR sub.holder_start IS DISTINCT FROM scaler._listen_backend_start(pg_backend_pid()) THEN
        RAISE EXCEPTION 'subscription "%" is not held by this session',
                        _listen_ack.subscription
            USING ERRCODE = '55000',
                  HINT = 'Call scaler.listen_subscribe first.';
    END IF;

    -- A decision removed meanwhile (retention) has nothing left to record.
    INSERT INTO scaler.subscription_ack AS a
        (subscription, decision_id, policy, outcome)
    SELECT sub.name, d.id, d.policy, _listen_ack.outcome
    FROM scaler.decision d
    WHERE d.id = _listen_ack.decision_id
    ON CONFLICT ON CONSTRAINT subscription_ack_pkey DO NOTHING;
    GET DIAGNOSTICS inserted = ROW_COUNT;

    UPDATE scaler.subscription s
    SET low_id = GREATEST(s.low_id, _listen_ack.acked_through), seen_at = now()
    WHERE s.name = sub.name;

    RETURN inserted > 0;
END
$$;
COMMENT ON FUNCTION scaler._listen_ack(oid, text, bigint, text, bigint) IS
    'internal: body of scaler.listen_ack, called with the calling role';

-- Each policy and the channel it notifies on.  A listener on one channel must
-- not act on another channel's decisions, and starts a new subscription with
-- the newest decision of each policy that exists.
CREATE OR REPLACE FUNCTION scaler._listen_policy_channels(invoker oid)
RETURNS TABLE (policy text, channel text)
LANGUAGE plpgsql
STABLE STRICT SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT pg_catalog.has_table_privilege(invoker, 'scaler.decision', 'SELECT') THEN
        RAISE EXCEPTION 'permission denied for table decision'
            USING ERRCODE = '42501',
                  DETAIL = 'The listener functions reveal decisions: they need SELECT on scaler.decision.';
    END IF;
    RETURN QUERY SELECT p.name, p.channel FROM scaler.policy p;
END
$$;
COMMENT ON FUNCTION scaler._listen_policy_channels(oid) IS
    'internal: body of scaler.listen_policy_channels, called with the calling role';

-- ---------------------------------------------------------------------------
-- Rollups (see the comment on scaler.rollup in src/sql/25_rollup_tables.sql).
-- ---------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION scaler._rollup_capture()
RETURNS trigger
AS 'MODULE_PATHNAME', 'scaler_rollup_capture'
LANGUAGE C;
COMMENT ON FUNCTION scaler._rollup_capture() IS
    'internal: statement trigger of a rollup''s source: records the slots of rows changed below the watermark';

CREATE OR REPLACE FUNCTION scaler._rollup_lock(source oid)
RETURNS void
AS 'MODULE_PATHNAME', 'scaler_rollup_lock'
LANGUAGE C STRICT;
COMMENT ON FUNCTION scaler._rollup_lock(oid) IS
    'internal: waits for the source''s writers that passed the capture trigger, and holds off new ones, until the transaction ends';

CREATE OR REPLACE FUNCTION scaler._rollup_share_source(source oid)
RETURNS void
AS 'MODULE_PATHNAME', 'scaler_rollup_share_source'
LANGUAGE C STRICT;
COMMENT ON FUNCTION scaler._rollup_share_source(oid) IS
    'internal: ACCESS SHARE on a rollup''s source until the transaction ends, taken before the rollup''s row (TRUNCATE and DROP lock them in that order)';

-- What a refresh or an adoption reads of a source, read as the table's
-- owner (src/rollup_read.c): planning a query on a table runs code its
-- owner wrote (index expressions, partition constraints), which must never
-- run as the extension's owner.
CREATE OR REPLACE FUNCTION scaler._rollup_first_ts(rel regclass, since timestamptz, until timestamptz)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'scaler_rollup_first_ts'
LANGUAGE C;
COMMENT ON FUNCTION scaler._rollup_first_ts(regclass, timestamptz, timestamptz) IS
    'internal: the earliest finite ts of a table''s rows in [since, until), read as the table''s owner';

CREATE OR REPLACE FUNCTION scaler._rollup_read(rel regclass, since timestamptz, until timestamptz,
                                               one_function boolean, function_name text, only_rel boolean)
RETURNS TABLE (function_name text, day date, traffic scaler.traffic, requests bigint)
AS 'MODULE_PATHNAME', 'scaler_rollup_read'
LANGUAGE C ROWS 100;
COMMENT ON FUNCTION scaler._rollup_read(regclass, timestamptz, timestamptz, boolean, text, boolean) IS
    'internal: traffic and row count per (function_name, UTC day) of a table''s rows in [since, until), read as the table''s owner';

CREATE OR REPLACE FUNCTION scaler._rollup_adopt(source oid, part regclass, returned boolean)
RETURNS void
AS 'MODULE_PATHNAME', 'scaler_rollup_adopt'
LANGUAGE C STRICT;
COMMENT ON FUNCTION scaler._rollup_adopt(oid, regclass, boolean) IS
    'internal: records the rows below the watermark of a table that just became a partition of a rollup''s source: as inserted, or, for a table detached from it before (returned), as rows to recount from the source';

CREATE OR REPLACE FUNCTION scaler._rollup_day_start(day date)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN pg_catalog.timezone('UTC', day::pg_catalog.timestamp);
COMMENT ON FUNCTION scaler._rollup_day_start(date) IS
    'internal: the first instant of a UTC day';

-- Whether the relation with OID rel is the table that the rollup with this
-- id was made for: scaler.request_log (a table of the extension, dropped
-- only with it, whose triggers pg_dump leaves out), or a table with a
-- capture trigger carrying the id, enabled or not (the id survives pg_dump,
-- in the rollup's row and in the trigger's definition).  A table that
-- merely got the OID of a dropped source has none: creating a trigger that
-- calls scaler._rollup_capture needs EXECUTE on it, which only scaler's
-- own functions have (scaler._rollup_ensure_triggers).
CREATE OR REPLACE FUNCTION scaler._rollup_current(rel oid, id uuid)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT rel OPERATOR(pg_catalog.=) 'scaler.request_log'::pg_catalog.regclass::pg_catalog.oid
        OR EXISTS (SELECT FROM pg_catalog.pg_trigger g
                    WHERE g.tgrelid OPERATOR(pg_catalog.=) rel
                      AND g.tgfoid OPERATOR(pg_catalog.=) 'scaler._rollup_capture()'::pg_catalog.regprocedure
                      AND g.tgnargs OPERATOR(pg_catalog.=) 1
                      AND g.tgargs OPERATOR(pg_catalog.=)
                          (pg_catalog.convert_to(id::pg_catalog.text, 'UTF8') OPERATOR(pg_catalog.||) pg_catalog.decode('00', 'hex')))
$$;
COMMENT ON FUNCTION scaler._rollup_current(oid, uuid) IS
    'internal: whether the relation of that OID is still the source the rollup with this id was made for (scaler.request_log, or a table whose capture triggers carry the id)';

-- Whether the calling role may read a source's ts and function_name (table
-- or column SELECT): what a count of its rows per function and day, or its
-- latest rows, needs.  For scaler.rollups; runs as the caller.
CREATE OR REPLACE FUNCTION scaler._rollup_readable(rel oid)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE(
        pg_catalog.has_schema_privilege((SELECT c.relnamespace FROM pg_catalog.pg_class c
                                          WHERE c.oid OPERATOR(pg_catalog.=) rel), 'USAGE')
        AND pg_catalog.has_column_privilege(rel, (SELECT a.attnum FROM pg_catalog.pg_attribute a
                                               WHERE a.attrelid OPERATOR(pg_catalog.=) rel
                                                 AND a.attname OPERATOR(pg_catalog.=) 'ts'
                                                 AND NOT a.attisdropped), 'SELECT')
        AND pg_catalog.has_column_privilege(rel, (SELECT a.attnum FROM pg_catalog.pg_attribute a
                                                   WHERE a.attrelid OPERATOR(pg_catalog.=) rel
                                                     AND a.attname OPERATOR(pg_catalog.=) 'function_name'
                                                     AND NOT a.attisdropped), 'SELECT'),
        false)
$$;
COMMENT ON FUNCTION scaler._rollup_readable(oid) IS
    'internal: whether the caller may read a rollup source''s ts and function_name (and use its schema)';

-- A rollup's rows, slots, day values, invalidated slots and detached tables,
-- deleted (its source's triggers are the caller's business).
CREATE OR REPLACE FUNCTION scaler._rollup_forget(rel oid)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM scaler.rollup_slot s WHERE s.source = rel;
    DELETE FROM scaler.rollup_day d WHERE d.source = rel;
    DELETE FROM scaler.rollup_invalid i WHERE i.source = rel;
    DELETE FROM scaler.rollup_partition m WHERE m.source = rel;
    DELETE FROM scaler.rollup x WHERE x.source = rel;
END
$$;
COMMENT ON FUNCTION scaler._rollup_forget(oid) IS
    'internal: delete a rollup and its slots, day values, invalidated slots and detached tables';

-- The event trigger scaler_rollup_drop (src/sql/60_event_triggers.sql): a
-- dropped source takes its rollup with it, in the same transaction.  A
-- dropped partition of a source is not a source: its rows stay in the
-- parent's slots (that is how retention keeps the history), and a dropped
-- partition or detached table is no longer the rollup's to know.
CREATE OR REPLACE FUNCTION scaler._rollup_on_drop()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rel oid;
BEGIN
    DELETE FROM scaler.rollup_partition m
     WHERE m.relid::pg_catalog.oid IN
           (SELECT o.objid FROM pg_catalog.pg_event_trigger_dropped_objects() o
             WHERE o.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND o.objsubid = 0);
    FOR rel IN
        SELECT x.source::pg_catalog.oid FROM scaler.rollup x
         WHERE x.source::pg_catalog.oid IN
               (SELECT o.objid FROM pg_catalog.pg_event_trigger_dropped_objects() o
                 WHERE o.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND o.objsubid = 0)
    LOOP
        PERFORM scaler._rollup_forget(rel);
    END LOOP;
END
$$;
COMMENT ON FUNCTION scaler._rollup_on_drop() IS
    'internal: event trigger on sql_drop: the rollups of dropped tables are deleted with them';

-- (Re)create the capture triggers of a table, each with the rollup's id as
-- its argument: insert, update and delete, with their transition tables,
-- and TRUNCATE if asked (a source's, not a partition's).
CREATE OR REPLACE FUNCTION scaler._rollup_make_triggers(rel regclass, id uuid, with_truncate boolean)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET client_min_messages = warning   -- (no NOTICE per trigger not there to drop)
AS $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['insert', 'update', 'delete', 'truncate'] LOOP
        EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS %I ON %s', 'scaler_rollup_' || t, rel);
    END LOOP;
    EXECUTE pg_catalog.format(
        'CREATE TRIGGER scaler_rollup_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows'
        ' FOR EACH STATEMENT EXECUTE FUNCTION scaler._rollup_capture(%L)', rel, id);
    EXECUTE pg_catalog.format(
        'CREATE TRIGGER scaler_rollup_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows'
        ' FOR EACH STATEMENT EXECUTE FUNCTION scaler._rollup_capture(%L)', rel, id);
    EXECUTE pg_catalog.format(
        'CREATE TRIGGER scaler_rollup_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS old_rows'
        ' FOR EACH STATEMENT EXECUTE FUNCTION scaler._rollup_capture(%L)', rel, id);
    IF with_truncate THEN
        EXECUTE pg_catalog.format(
            'CREATE TRIGGER scaler_rollup_truncate AFTER TRUNCATE ON %s'
            ' FOR EACH STATEMENT EXECUTE FUNCTION scaler._rollup_capture(%L)', rel, id);
    END IF;
END
$$;
COMMENT ON FUNCTION scaler._rollup_make_triggers(regclass, uuid, boolean) IS
    'internal: (re)create the capture triggers of a rollup source or of one of its partitions';

-- The capture triggers of a rollup's source, as _rollup_capture needs them
-- (and as src/rollup.c's readers check them), each with the rollup's id as
-- its argument: true when they were missing or disabled and are created
-- anew, false when they were all there.
CREATE OR REPLACE FUNCTION scaler._rollup_ensure_triggers(source regclass, id uuid)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- (a partition missing its triggers had its rows when it lost them:
    -- they are not recorded again)
    PERFORM scaler._rollup_ensure_partition_triggers(source, id, false);
    IF (SELECT pg_catalog.count(*) FROM pg_catalog.pg_trigger g
         WHERE g.tgrelid = source
           AND g.tgfoid = 'scaler._rollup_capture()'::pg_catalog.regprocedure
           AND g.tgenabled IN ('O', 'A')
           AND g.tgargs = pg_catalog.convert_to(id::text, 'UTF8') || pg_catalog.decode('00', 'hex')
           AND (g.tgname::text, g.tgtype::integer, g.tgoldtable IS NOT NULL, g.tgnewtable IS NOT NULL) IN
               (('scaler_rollup_insert', 4, false, true), ('scaler_rollup_update', 16, true, true),
                ('scaler_rollup_delete', 8, true, false), ('scaler_rollup_truncate', 32, false, false))) = 4 THEN
        RETURN false;
    END IF;
    PERFORM scaler._rollup_make_triggers(source, id, true);
    RETURN true;
END
$$;
COMMENT ON FUNCTION scaler._rollup_ensure_triggers(regclass, uuid) IS
    'internal: create a rollup source''s capture triggers (with the rollup''s id) unless all four are there and enabled; true when it created them';

-- The capture triggers of a partitioned source's partitions: a statement
-- that names a partition (or a partitioned partition) fires its triggers
-- and not those of the source.  Each partition of the source, at any depth,
-- gets insert, update and delete triggers carrying the rollup's id (no
-- TRUNCATE trigger: truncating a partition, like dropping it, keeps its
-- days in the slots), and is known to the rollup (scaler.rollup_partition).
-- Called for DDL (adopt), a partition new to the source has the rows it
-- brought below the watermark recorded (scaler._rollup_adopt): as inserted,
-- or, if it was detached from the source before and its rows are still in
-- the slots, as rows whose slots are recounted from the source.  Called by
-- the refresh, a partition it does not know was made while the event
-- trigger did not fire: its rows are taken as counted.  A known partition
-- that lost triggers gets them back from the refresh, not from DDL (which
-- may be a restore disabling triggers while it loads rows), and has its
-- days recounted, since what was written to it meanwhile went unseen (the
-- triggers come first: no writer comes between the count and them).  A
-- known table no longer in the source (DETACH PARTITION) loses its
-- triggers and is remembered as detached.  Runs as the extension's owner.
CREATE OR REPLACE FUNCTION scaler._rollup_ensure_partition_triggers(source regclass, id uuid, adopt boolean)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET client_min_messages = warning
AS $$
DECLARE
    part     regclass;
    complete boolean;
    known    boolean;
    t        text;
    idarg    bytea := pg_catalog.convert_to(id::text, 'UTF8') || pg_catalog.decode('00', 'hex');
BEGIN
    FOR part, complete, known IN
        SELECT p.relid,
               (SELECT pg_catalog.count(*) FROM pg_catalog.pg_trigger g
                 WHERE g.tgrelid = p.relid
                   AND g.tgfoid = 'scaler._rollup_capture()'::pg_catalog.regprocedure
                   AND g.tgenabled IN ('O', 'A') AND g.tgargs = idarg
                   AND (g.tgname::text, g.tgtype::integer, g.tgoldtable IS NOT NULL, g.tgnewtable IS NOT NULL) IN
                       (('scaler_rollup_insert', 4, false, true), ('scaler_rollup_update', 16, true, true),
                        ('scaler_rollup_delete', 8, true, false))) = 3,
               (SELECT m.attached FROM scaler.rollup_partition m
                 WHERE m.source = _rollup_ensure_partition_triggers.source AND m.relid = p.relid)
          FROM pg_catalog.pg_partition_tree(_rollup_ensure_partition_triggers.source) p
         WHERE p.relid OPERATOR(pg_catalog.<>) _rollup_ensure_partition_triggers.source
         ORDER BY p.level, p.relid
    LOOP
        CONTINUE WHEN known AND (complete OR adopt);
        IF NOT complete THEN
            PERFORM scaler._rollup_make_triggers(part, id, false);
        END IF;
        IF known IS NOT TRUE THEN
            -- new to the source (NULL), or back after a DETACH (false)
            IF adopt THEN
                PERFORM scaler._rollup_adopt(_rollup_ensure_partition_triggers.source, part, known IS NOT NULL);
            END IF;
            INSERT INTO scaler.rollup_partition AS m (source, relid, attached)
            VALUES (_rollup_ensure_partition_triggers.source, part, true)
            ON CONFLICT ON CONSTRAINT rollup_partition_pkey DO UPDATE SET attached = true;
        ELSE
            PERFORM scaler._rollup_adopt(_rollup_ensure_partition_triggers.source, part, true);
        END IF;
    END LOOP;
    -- Only DDL detaches a partition: the refresh need not look.
    IF NOT adopt THEN
        RETURN;
    END IF;
    -- (a table dropped while scaler_rollup_drop did not fire is gone)
    DELETE FROM scaler.rollup_partition m
     WHERE m.source = _rollup_ensure_partition_triggers.source
       AND NOT EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = m.relid);
    FOR part IN
        SELECT m.relid FROM scaler.rollup_partition m
         WHERE m.source = _rollup_ensure_partition_triggers.source AND m.attached
           -- (empty for a table that is not partitioned)
           AND m.relid NOT IN (SELECT p.relid FROM pg_catalog.pg_partition_tree(_rollup_ensure_partition_triggers.source) p)
    LOOP
        FOREACH t IN ARRAY ARRAY['insert', 'update', 'delete'] LOOP
            EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS %I ON %s', 'scaler_rollup_' || t, part);
        END LOOP;
        UPDATE scaler.rollup_partition m SET attached = false
         WHERE m.source = _rollup_ensure_partition_triggers.source AND m.relid = part;
    END LOOP;
END
$$;
COMMENT ON FUNCTION scaler._rollup_ensure_partition_triggers(regclass, uuid, boolean) IS
    'internal: put capture triggers on the partitions of a rollup''s source (recording the rows of new ones if adopt, recounting those of known ones that lost them), take them off tables detached from it';

-- The event trigger scaler_rollup_partitions (src/sql/60_event_triggers.sql):
-- after CREATE TABLE ... PARTITION OF or ALTER TABLE ... ATTACH / DETACH
-- PARTITION of a table under a rollup's source, its partitions' capture
-- triggers are brought up to date, and the rows of an attached table below
-- the watermark are recorded: without that, the rollup would not count
-- them, and a direct DML of them would go unseen.
CREATE OR REPLACE FUNCTION scaler._rollup_on_ddl()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
BEGIN
    -- a source that this command made a partition, or put in an
    -- inheritance tree, is refused (scaler._rollup_check_source says why)
    FOR r IN
        WITH touched AS (SELECT c.objid FROM pg_catalog.pg_event_trigger_ddl_commands() c
                          WHERE c.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND c.objsubid = 0)
        SELECT x.source FROM scaler.rollup x
         WHERE x.source::pg_catalog.oid IN (SELECT t.objid FROM touched t
                                            UNION SELECT i.inhrelid FROM pg_catalog.pg_inherits i, touched t WHERE i.inhparent = t.objid
                                            UNION SELECT i.inhparent FROM pg_catalog.pg_inherits i, touched t WHERE i.inhrelid = t.objid)
    LOOP
        PERFORM scaler._rollup_check_source(r.source);
    END LOOP;
    FOR r IN
        SELECT x.source, x.id FROM scaler.rollup x
         WHERE x.source::pg_catalog.oid IN
               (SELECT pg_catalog.pg_partition_root(c.objid) FROM pg_catalog.pg_event_trigger_ddl_commands() c
                 WHERE c.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND c.objsubid = 0)
           AND scaler._rollup_current(x.source, x.id)
           AND (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = x.source) = 'p'
         ORDER BY x.source
    LOOP
        PERFORM scaler._rollup_ensure_partition_triggers(r.source, r.id, true);
    END LOOP;
END
$$;
COMMENT ON FUNCTION scaler._rollup_on_ddl() IS
    'internal: event trigger on ddl_command_end: capture triggers for the new partitions of rollup sources, and their rows';

-- The event trigger scaler_rollup_rewrite (src/sql/60_event_triggers.sql):
-- an ALTER TABLE that rewrites a rollup's source or one of its partitions
-- (ALTER COLUMN ... TYPE ... USING, even to the same type, SET UNLOGGED, an
-- added column with a volatile default) may change every row without a
-- capture trigger seeing it, and the slots would go on counting the rows
-- as they were.  It is refused, after the checks of the source's columns
-- (a change to a type a rollup cannot read says so first).
CREATE OR REPLACE FUNCTION scaler._rollup_on_rewrite()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rel    oid := pg_catalog.pg_event_trigger_table_rewrite_oid();
    source pg_catalog.regclass;
BEGIN
    SELECT x.source INTO source FROM scaler.rollup x
     WHERE x.source::pg_catalog.oid = rel
        OR x.source::pg_catalog.oid = pg_catalog.pg_partition_root(rel);
    IF source IS NULL THEN
        RETURN;
    END IF;
    PERFORM scaler._rollup_check_source(source);
    RAISE EXCEPTION 'cannot rewrite table %, which a rollup counts the rows of', rel::pg_catalog.regclass
        USING ERRCODE = '0A000',
              DETAIL = pg_catalog.format('The rollup of %s would not see the rows change.', source),
              HINT = 'Change the rows with UPDATE, which the rollup sees, or drop_rollup first and create_rollup after.';
END
$$;
COMMENT ON FUNCTION scaler._rollup_on_rewrite() IS
    'internal: event trigger on table_rewrite: refuses to rewrite the rows of a rollup''s source';

-- What a rollup needs of its source, checked when it is made, by DDL on it
-- (the event trigger) and before every refresh: no partition of another
-- table and no part of an inheritance tree (statements on the parent would
-- change its rows unseen), no foreign table among its partitions (no
-- capture trigger can see their changes), no Citus table (its rows change in
-- the workers' shards), and the columns a rollup reads,
-- of the types it can read: the capture trigger reads transition tables as
-- the extension's owner, and a column altered to a type of the owner's,
-- with a cast of the owner's to float8, would run the owner's code with
-- those rights (the trigger checks the types in C too).
-- Whether a table is one Citus manages (src/citus.c), for the check below.
CREATE OR REPLACE FUNCTION scaler._citus_table(rel oid)
RETURNS boolean
AS 'MODULE_PATHNAME', 'scaler_citus_table'
LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION scaler._citus_table(oid) IS
    'internal: whether a table is one Citus manages (distributed, reference or Citus-local: in pg_dist_partition)';

CREATE OR REPLACE FUNCTION scaler._rollup_check_source(source regclass)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    col  text;
    typ  regtype;
    coll oid;
    part regclass;
BEGIN
    SELECT p.relid INTO part FROM pg_catalog.pg_partition_tree(source) p
      JOIN pg_catalog.pg_class c ON c.oid = p.relid
     WHERE c.relkind = 'f'
     LIMIT 1;
    -- Statements on the parent of a partition, or of an inheritance child,
    -- fire the parent's triggers, not the source's: changes would go unseen.
    IF (SELECT c.relispartition FROM pg_catalog.pg_class c WHERE c.oid = source) THEN
        RAISE EXCEPTION 'rollup source "%" is a partition', source
            USING ERRCODE = '42809',
                  DETAIL = 'Statements on its partitioned table would change its rows unseen.',
                  HINT = 'Create the rollup on the partitioned table, or detach the table.';
    END IF;
    IF EXISTS (SELECT FROM pg_catalog.pg_inherits i WHERE i.inhparent = source)
       AND (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = source) = 'r' THEN
        RAISE EXCEPTION 'rollup source "%" has inheritance children', source
            USING ERRCODE = '0A000',
                  DETAIL = 'Their rows are read with the source''s, but their changes fire their own triggers.',
                  HINT = 'Use declarative partitioning, or drop the rollup.';
    END IF;
    IF EXISTS (SELECT FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhparent
                WHERE i.inhrelid = source AND c.relkind = 'r') THEN
        RAISE EXCEPTION 'rollup source "%" is an inheritance child', source
            USING ERRCODE = '42809',
                  DETAIL = 'Statements on its parent would change its rows unseen.',
                  HINT = 'Drop the rollup, or the inheritance (ALTER TABLE ... NO INHERIT).';
    END IF;
    IF scaler._citus_table(source) THEN
        RAISE EXCEPTION 'rollup source "%" is a Citus table', source
            USING ERRCODE = '0A000',
                  DETAIL = 'Its rows change in shards on the workers, where no capture trigger of the rollup fires.',
                  HINT = 'Read the table raw.  drop_rollup drops a rollup made before the table was distributed, with SET citus.enable_unsafe_triggers = on (Citus requires it to drop triggers).';
    END IF;
    IF part IS NOT NULL THEN
        RAISE EXCEPTION 'partition "%" of rollup source "%" is a foreign table', part, source
            USING ERRCODE = '42809',
                  DETAIL = 'A rollup reads its source''s rows as the extension''s owner, whose user mappings a foreign table would connect with.',
                  HINT = 'Detach the foreign table, or drop the rollup.';
    END IF;
    FOREACH col IN ARRAY ARRAY['ts', 'function_name', 'duration_ms', 'status'] LOOP
        typ := NULL;
        SELECT a.atttypid, a.attcollation INTO typ, coll FROM pg_catalog.pg_attribute a
         WHERE a.attrelid = source AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
        IF typ IS NULL THEN
            RAISE EXCEPTION 'source "%" has no column "%"', source, col
                USING ERRCODE = '42703';
        END IF;
        IF (col = 'ts' AND typ <> 'timestamptz'::regtype)
           OR (col = 'function_name' AND typ NOT IN ('text'::regtype, 'varchar'::regtype))
           OR (col = 'duration_ms' AND typ NOT IN ('float8'::regtype, 'float4'::regtype, 'numeric'::regtype,
                                                   'int8'::regtype, 'int4'::regtype, 'int2'::regtype))
           OR (col = 'status' AND typ NOT IN ('int4'::regtype, 'int2'::regtype, 'int8'::regtype)) THEN
            RAISE EXCEPTION 'column "%" of source "%" has type %, which a rollup cannot use', col, source, typ
                USING ERRCODE = '42804',
                      HINT = 'A rollup needs ts timestamptz and function_name text or varchar.';
        END IF;
        IF col = 'function_name' AND coll <> 0 AND NOT (SELECT collisdeterministic FROM pg_catalog.pg_collation WHERE oid = coll) THEN
            RAISE EXCEPTION 'column "function_name" of source "%" has a nondeterministic collation', source
                USING ERRCODE = '0A000',
                      DETAIL = 'Slots are kept per exact function name.';
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION scaler._rollup_check_source(regclass) IS
    'internal: raise an error unless a rollup source has ts, function_name, duration_ms and status of types a rollup can read, is no partition, no part of an inheritance tree and no Citus table, and has no foreign table among its partitions';

CREATE OR REPLACE FUNCTION scaler._create_rollup(invoker oid, source regclass)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rel   pg_catalog.pg_class;
    old   scaler.rollup;
    made  scaler.rollup;
BEGIN
    IF source IS NULL THEN
        RAISE EXCEPTION 'source must not be null' USING ERRCODE = '22004';
    END IF;
    SELECT * INTO rel FROM pg_catalog.pg_class c WHERE c.oid = source;
    IF rel.relkind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION 'cannot create a rollup of "%"', source
            USING ERRCODE = '42809',
                  DETAIL = 'A rollup needs a table or a partitioned table, whose changes its triggers can see.';
    END IF;
    IF NOT pg_catalog.pg_has_role(invoker, rel.relowner, 'USAGE')
       AND NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE oid = invoker AND rolsuper) THEN
        RAISE EXCEPTION 'must be owner of table %', source USING ERRCODE = '42501';
    END IF;
    IF rel.relrowsecurity THEN
        RAISE EXCEPTION 'cannot create a rollup of "%": it has row-level security enabled', source
            USING ERRCODE = '0A000',
                  DETAIL = 'A rollup sums every row, so reading it would bypass the row policies.';
    END IF;
    PERFORM scaler._rollup_check_source(source);
    SELECT * INTO old FROM scaler.rollup r WHERE r.source = _create_rollup.source FOR UPDATE;
    IF FOUND THEN
        IF scaler._rollup_current(old.source, old.id) THEN
            RAISE EXCEPTION 'source "%" already has a rollup', source USING ERRCODE = '42710';
        END IF;
        -- the rollup of a dropped table whose OID this one got
        PERFORM scaler._rollup_forget(old.source);
    END IF;
    INSERT INTO scaler.rollup (source, owner) VALUES (source, invoker) RETURNING * INTO made;
    PERFORM scaler._rollup_ensure_triggers(source, made.id);
END
$$;
COMMENT ON FUNCTION scaler._create_rollup(oid, regclass) IS
    'internal: create_rollup for the role invoker';

CREATE OR REPLACE FUNCTION scaler._drop_rollup(invoker oid, source regclass)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET client_min_messages = warning
AS $$
DECLARE
    r    scaler.rollup;
    t    text;
    part regclass;
BEGIN
    SELECT * INTO r FROM scaler.rollup x WHERE x.source = _drop_rollup.source FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'source "%" has no rollup', source USING ERRCODE = '42704';
    END IF;
    IF NOT scaler._may_manage(invoker, r.owner)
       AND NOT COALESCE(pg_catalog.pg_has_role(invoker, (SELECT relowner FROM pg_catalog.pg_class WHERE oid = source), 'USAGE'),
                        false) THEN
        RAISE EXCEPTION 'must be owner of rollup of %', source USING ERRCODE = '42501';
    END IF;
    -- (a table that only got the OID of the rollup's dropped source has no
    -- triggers of it)
    IF scaler._rollup_current(r.source, r.id) THEN
        FOREACH t IN ARRAY ARRAY['insert', 'update', 'delete', 'truncate'] LOOP
            EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS %I ON %s', 'scaler_rollup_' || t, source);
        END LOOP;
        -- and those of its partitions, which would keep DROP EXTENSION off
        FOR part IN
            SELECT m.relid FROM scaler.rollup_partition m
             WHERE m.source = r.source AND m.attached
               AND EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = m.relid)
        LOOP
            FOREACH t IN ARRAY ARRAY['insert', 'update', 'delete'] LOOP
                EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS %I ON %s', 'scaler_rollup_' || t, part);
            END LOOP;
        END LOOP;
    END IF;
    PERFORM scaler._rollup_forget(r.source);
END
$$;
COMMENT ON FUNCTION scaler._drop_rollup(oid, regclass) IS
    'internal: drop_rollup for the role invoker';

-- A refresh of one rollup, one bounded step (scaler._refresh_rollup_step)
-- made of the steps below, each of one concern and called only from it,
-- in this order, inside its transaction (as the extension's owner, with
-- row_security off).

-- Refresh, the capture triggers: missing (a restored scaler.request_log)
-- or disabled, rows may have changed unseen, so the slots from the UTC day
-- of the first row on are brought back to the rows.  A table's rows are all
-- there is: its slots of those days are dropped, and appended again from
-- that day (the watermark returned is lowered to it).  A partitioned
-- source's slots may be all that is left of rows (a partition dropped by
-- retention), also after its first row (a late row of such a day in the
-- DEFAULT partition): each slot of those days, and each function and day
-- the rows have, is recomputed instead by the rule of late changes
-- (_rollup_recompute_invalid), which keeps a slot whose rows are fewer in
-- the source than it counts.  Runs before the refresh's lock: creating
-- triggers waits for the source's writers.
CREATE OR REPLACE FUNCTION scaler._rollup_repair_triggers(rel oid, id uuid, watermark timestamptz)
RETURNS timestamptz
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    first_ts  timestamptz;
    first_day date;
BEGIN
    IF NOT scaler._rollup_ensure_triggers(rel::pg_catalog.regclass, id) OR watermark IS NULL THEN
        RETURN watermark;
    END IF;
    first_ts := scaler._rollup_first_ts(rel::pg_catalog.regclass, NULL, NULL);
    IF first_ts IS NULL OR first_ts >= watermark THEN
        RETURN watermark;
    END IF;
    first_day := pg_catalog.timezone('UTC', first_ts)::date;
    IF (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = rel) = 'p' THEN
        INSERT INTO scaler.rollup_invalid AS i (source, function_name, day)
        SELECT rel, s.function_name, s.day FROM scaler.rollup_slot s
         WHERE s.source = rel AND s.day >= first_day
        UNION
        SELECT rel, r.function_name, r.day
          FROM scaler._rollup_read(rel::pg_catalog.regclass, first_ts, watermark, false, NULL, false) r
        ON CONFLICT (source, scaler._rollup_name_key(function_name), day) DO NOTHING;
        RETURN watermark;
    END IF;
    DELETE FROM scaler.rollup_slot s WHERE s.source = rel AND s.day >= first_day;
    DELETE FROM scaler.rollup_day d WHERE d.source = rel AND d.day >= first_day;
    DELETE FROM scaler.rollup_invalid i WHERE i.source = rel AND i.day >= first_day;
    RETURN scaler._rollup_day_start(first_day);
END
$$;
COMMENT ON FUNCTION scaler._rollup_repair_triggers(oid, uuid, timestamptz) IS
    'internal: refresh step: put a source''s missing or disabled capture triggers back and bring the slots its rows may have changed unseen back to them (a partitioned source''s kept where the rows are gone); the watermark to go on from';

-- Refresh, scaler.rollup_retention: the slots and day values of UTC days
-- older than it deleted (once per new cutoff), and the invalidated slots
-- of days no longer covered.  Returns the new covered_from.
CREATE OR REPLACE FUNCTION scaler._rollup_apply_retention(rel oid, covered_from timestamptz)
RETURNS timestamptz
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    retention interval := pg_catalog.current_setting('scaler.rollup_retention')::interval;
    cutoff    date;
BEGIN
    IF retention > interval '0' THEN
        cutoff := pg_catalog.timezone('UTC', pg_catalog.now() - retention)::date;
        IF covered_from IS NULL OR covered_from < scaler._rollup_day_start(cutoff) THEN
            DELETE FROM scaler.rollup_slot s WHERE s.source = rel AND s.day < cutoff;
            DELETE FROM scaler.rollup_day d WHERE d.source = rel AND d.day < cutoff;
            covered_from := scaler._rollup_day_start(cutoff);
        END IF;
    END IF;
    IF covered_from IS NOT NULL THEN
        DELETE FROM scaler.rollup_invalid i WHERE i.source = rel
           AND i.day < pg_catalog.timezone('UTC', covered_from)::date;
    END IF;
    RETURN covered_from;
END
$$;
COMMENT ON FUNCTION scaler._rollup_apply_retention(oid, timestamptz) IS
    'internal: refresh step: scaler.rollup_retention applied to a rollup''s slots; the new covered_from';

-- Refresh, late rows: at most 64 invalidated slots (the oldest days first)
-- brought up to date, and the value of every function of each of their
-- days merged again.  A slot is recomputed from the rows below the
-- watermark, unless those are fewer than the slot counted plus the rows
-- inserted minus those deleted since: then the source no longer holds all
-- of the slot's rows (a dropped partition, scaler.log_retention), the slot
-- is all that is left of them, and it keeps them, with the rows inserted
-- since added (what the trigger recorded); a WARNING says so when rows were
-- also deleted or updated there, which the slot then does not reflect.
-- Returns the number of slots written.
CREATE OR REPLACE FUNCTION scaler._rollup_recompute_invalid(rel oid, watermark timestamptz)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    src        text := pg_catalog.format('%s', rel::pg_catalog.regclass);
    inv        record;
    stored     scaler.traffic;
    raw        scaler.traffic;
    t          scaler.traffic;
    from_ts    timestamptz;
    to_ts      timestamptz;
    touched    date[] := '{}';
    recomputed date;
    n          integer := 0;
BEGIN
    FOR inv IN
        DELETE FROM scaler.rollup_invalid i
         WHERE i.ctid = ANY (ARRAY(SELECT j.ctid FROM scaler.rollup_invalid j
                                    WHERE j.source = rel ORDER BY j.day LIMIT 64))
        RETURNING i.function_name, i.day, i.added, i.inserted, i.deleted
    LOOP
        DELETE FROM scaler.rollup_slot s WHERE s.source = rel
           AND s.function_name IS NOT DISTINCT FROM inv.function_name AND s.day = inv.day
        RETURNING s.traffic INTO stored;
        -- the slot as the changes the trigger saw make it, inserts only
        t := (SELECT scaler.traffic_merge(v.t) FROM (VALUES (stored), (inv.added)) v(t));
        from_ts := scaler._rollup_day_start(inv.day);
        to_ts := LEAST(scaler._rollup_day_start(inv.day + 1), watermark);
        raw := (SELECT r.traffic
                  FROM scaler._rollup_read(rel::pg_catalog.regclass, from_ts, to_ts, true, inv.function_name, false) r);
        IF scaler._traffic_requests(raw) >= scaler._traffic_requests(t) - inv.deleted THEN
            t := raw;
        ELSIF inv.deleted > 0 THEN
            RAISE WARNING 'rows of function % on % are no longer all in "%": its rollup slot keeps them',
                COALESCE(pg_catalog.quote_literal(inv.function_name), 'NULL'), inv.day, src
                USING DETAIL = pg_catalog.format('The slot counts the rows inserted since, not the %s rows deleted or updated.', inv.deleted);
        END IF;
        IF t IS NOT NULL THEN
            INSERT INTO scaler.rollup_slot (source, function_name, day, traffic)
            VALUES (rel, inv.function_name, inv.day, t);
        END IF;
        touched := touched || inv.day;
        n := n + 1;
    END LOOP;

    -- the days whose slots were recomputed: their value of all functions again
    FOREACH recomputed IN ARRAY ARRAY(SELECT DISTINCT u FROM pg_catalog.unnest(touched) u) LOOP
        DELETE FROM scaler.rollup_day d WHERE d.source = rel AND d.day = recomputed;
        INSERT INTO scaler.rollup_day (source, day, traffic)
        SELECT rel, s.day, scaler.traffic_merge(s.traffic) FROM scaler.rollup_slot s
         WHERE s.source = rel AND s.day = recomputed
         GROUP BY s.day;
    END LOOP;
    RETURN n;
END
$$;
COMMENT ON FUNCTION scaler._rollup_recompute_invalid(oid, timestamptz) IS
    'internal: refresh step: bring up to date up to 64 invalidated slots of a rollup and their days'' values; the number of slots written';

-- The number of rows a traffic value counts (0 for NULL).
CREATE OR REPLACE FUNCTION scaler._traffic_requests(t scaler.traffic)
RETURNS bigint
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN COALESCE((SELECT pg_catalog.sum(h.requests)::bigint FROM scaler.hourly_requests(t) h), 0);
END
$$;
COMMENT ON FUNCTION scaler._traffic_requests(scaler.traffic) IS
    'internal: how many rows a traffic value counts';

-- Refresh, new rows: the rows from from_ts (the watermark; NULL on the
-- first refresh: from the UTC day of the first row) up to target appended
-- to the slots and day values, for at most one UTC day that has rows (days
-- without rows are skipped).  Returns the new watermark and the number of
-- slots written.
CREATE OR REPLACE FUNCTION scaler._rollup_append(rel oid, from_ts timestamptz, target timestamptz,
                                                 OUT watermark timestamptz, OUT slots integer)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    src      regclass := rel::pg_catalog.regclass;
    first_ts timestamptz;
    slot_day date;
    to_ts    timestamptz;
    k        integer;
BEGIN
    slots := 0;
    IF from_ts IS NULL THEN
        first_ts := scaler._rollup_first_ts(src, NULL, target);
        from_ts := COALESCE(scaler._rollup_day_start(pg_catalog.timezone('UTC', first_ts)::date), target);
    END IF;
    WHILE from_ts < target LOOP
        slot_day := pg_catalog.timezone('UTC', from_ts)::date;
        to_ts := LEAST(scaler._rollup_day_start(slot_day + 1), target);
        -- each function's slot of the day, and the day's value of all of
        -- them, take the new rows
        WITH g AS (SELECT r.function_name AS f, r.traffic AS t
                     FROM scaler._rollup_read(src, from_ts, to_ts, false, NULL, false) r),
             s AS (INSERT INTO scaler.rollup_slot AS s (source, function_name, day, traffic)
                   SELECT src, g.f, slot_day, g.t FROM g
                   ON CONFLICT (source, scaler._rollup_name_key(function_name), day) DO UPDATE SET traffic =
                     (SELECT scaler.traffic_merge(v.t) FROM (VALUES (s.traffic), (excluded.traffic)) v(t))
                   RETURNING 1),
             d AS (INSERT INTO scaler.rollup_day AS d (source, day, traffic)
                   SELECT src, slot_day, scaler.traffic_merge(g.t) FROM g HAVING pg_catalog.count(*) > 0
                   ON CONFLICT (source, day) DO UPDATE SET traffic =
                     (SELECT scaler.traffic_merge(v.t) FROM (VALUES (d.traffic), (excluded.traffic)) v(t)))
        SELECT pg_catalog.count(*) INTO k FROM s;
        slots := slots + k;
        from_ts := to_ts;
        EXIT WHEN k > 0 OR from_ts >= target;
        -- a day without rows: on to the next one that has some
        first_ts := scaler._rollup_first_ts(src, from_ts, target);
        from_ts := COALESCE(GREATEST(from_ts, scaler._rollup_day_start(pg_catalog.timezone('UTC', first_ts)::date)),
                            target);
    END LOOP;
    watermark := from_ts;
END
$$;
COMMENT ON FUNCTION scaler._rollup_append(oid, timestamptz, timestamptz) IS
    'internal: refresh step: append the rows past the watermark, for at most one UTC day with rows; the new watermark and the slots written';

-- One bounded step of one rollup: at most 64 invalidated slots recomputed,
-- and the rows past the watermark appended for at most one UTC day that
-- has rows, up to a minute ago.  Returns the number of slots written; 0
-- means the rollup is up to date.  A rollup whose source is gone is
-- deleted instead.  One whose table has no capture trigger carrying its id
-- is left alone, unused (readers read such a table raw): the table may be
-- another that got a dropped source's OID, or the source itself, whose
-- triggers were dropped or are still to come (pg_restore loads the
-- rollup's rows in its data section and creates the triggers in
-- post-data); its slots may be all that is left of days whose rows are
-- gone, so they are kept until create_rollup, drop_rollup or a DROP TABLE
-- of the table.  It reads every row
-- (row_security off: an error, not a partial rollup, should the definer
-- be subject to the source's policies), and without JIT: compiling costs
-- tens of milliseconds, more than a bounded step gains from it.
CREATE OR REPLACE FUNCTION scaler._refresh_rollup_step(source oid)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET row_security = off
SET jit = off
AS $$
DECLARE
    r          scaler.rollup;
    recomputed integer;
    appended   record;
    unused     CONSTANT text := 'no capture trigger of the table carries the rollup''s id';
BEGIN
    IF pg_catalog.current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'refresh_rollup must run at isolation level READ COMMITTED'
            USING ERRCODE = '25001',
                  DETAIL = 'It reads the rows committed after it waits for the source''s writers.';
    END IF;
    -- The source before the rollup's row, as TRUNCATE and DROP TABLE take
    -- them; then a refresh at a time per rollup: the other one skips it.
    PERFORM scaler._rollup_share_source(_refresh_rollup_step.source);
    SELECT * INTO r FROM scaler.rollup x WHERE x.source = _refresh_rollup_step.source
       FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    IF NOT scaler._rollup_current(r.source, r.id) THEN
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) r.source::pg_catalog.oid) THEN
            PERFORM scaler._rollup_forget(r.source);
            RAISE LOG 'scaler: the source of rollup % (relation %) is gone: rollup deleted', r.id, r.source::oid;
        ELSIF r.last_error IS DISTINCT FROM unused THEN
            UPDATE scaler.rollup x SET last_error = unused, last_error_at = pg_catalog.clock_timestamp()
             WHERE x.source = r.source;
            RAISE LOG 'scaler: rollup % of relation % is not used: %', r.id, r.source::oid, unused;
        END IF;
        RETURN 0;
    END IF;
    PERFORM scaler._rollup_check_source(r.source);
    r.watermark := scaler._rollup_repair_triggers(r.source, r.id, r.watermark);
    -- Every statement from here on sees the rows of the writers this waits
    -- for; a writer that comes later sees the new watermark (src/rollup.c).
    PERFORM scaler._rollup_lock(r.source);
    r.covered_from := scaler._rollup_apply_retention(r.source, r.covered_from);
    recomputed := scaler._rollup_recompute_invalid(r.source, r.watermark);
    appended := scaler._rollup_append(r.source, r.watermark, pg_catalog.now() - interval '1 minute');

    UPDATE scaler.rollup x SET watermark = appended.watermark, covered_from = r.covered_from,
           last_refresh = pg_catalog.clock_timestamp(), last_error = NULL, last_error_at = NULL
     WHERE x.source = r.source;
    RETURN recomputed + appended.slots;
END
$$;
COMMENT ON FUNCTION scaler._refresh_rollup_step(oid) IS
    'internal: one bounded refresh of one rollup; the number of slots written (0: up to date)';

CREATE OR REPLACE FUNCTION scaler._refresh_rollup(invoker oid, source regclass)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r scaler.rollup;
    n integer := 0;
BEGIN
    IF source IS NOT NULL AND NOT EXISTS (SELECT FROM scaler.rollup x WHERE x.source = _refresh_rollup.source) THEN
        RAISE EXCEPTION 'source "%" has no rollup', source USING ERRCODE = '42704';
    END IF;
    FOR r IN SELECT * FROM scaler.rollup x
              WHERE (_refresh_rollup.source IS NULL OR x.source = _refresh_rollup.source)
              ORDER BY x.source LOOP
        IF scaler._may_manage(invoker, r.owner) AND source IS NOT NULL THEN
            n := n + scaler._refresh_rollup_step(r.source);
        ELSIF scaler._may_manage(invoker, r.owner) THEN
            -- Every rollup: one that fails (its source made a Citus
            -- table, say) is recorded and warned of, and holds up no other,
            -- as in the worker's refresh.  (A cancel is no failure here.)
            BEGIN
                n := n + scaler._refresh_rollup_step(r.source);
            EXCEPTION WHEN OTHERS THEN
                -- (the transaction's state, such as its isolation level,
                -- is the call's error, not a rollup's)
                IF SQLSTATE LIKE '25%' THEN
                    RAISE;
                END IF;
                UPDATE scaler.rollup x SET last_error = SQLERRM, last_error_at = pg_catalog.now()
                 WHERE x.source = r.source;
                RAISE WARNING 'refreshing the rollup of % failed: %', r.source, SQLERRM;
            END;
        ELSIF source IS NOT NULL THEN
            RAISE EXCEPTION 'must be owner of rollup of %', source USING ERRCODE = '42501';
        END IF;
    END LOOP;
    RETURN n;
END
$$;
COMMENT ON FUNCTION scaler._refresh_rollup(oid, regclass) IS
    'internal: refresh_rollup for the role invoker';

-- ---------------------------------------------------------------------------
-- Partitions and retention of scaler.request_log (the worker's upkeep).
-- ---------------------------------------------------------------------------

-- Partitions and retention of scaler.request_log, one bounded step a tick
-- (the worker calls it in a transaction of its own): create the daily
-- partitions of today and the next two UTC days; move the rows of one day
-- out of the DEFAULT partition into a daily partition of their own; drop
-- the daily partitions wholly older than scaler.log_retention that the
-- rollup of scaler.request_log covers (below its watermark, no slot of
-- theirs invalidated or dropped by scaler.rollup_retention).  Without a
-- rollup nothing is dropped.  Returns what it did, for the log and tests.
CREATE OR REPLACE FUNCTION scaler._maintain_request_log()
RETURNS text[]
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
SET DateStyle = 'ISO, YMD'
AS $$
DECLARE
    done       text[] := '{}';
    today      date := pg_catalog.timezone('UTC', pg_catalog.now())::date;
    retention  interval := pg_catalog.current_setting('scaler.log_retention')::interval;
    d          date;
    first_ts   timestamptz;
    part       text;
    r          scaler.rollup;
    p          record;
BEGIN
    FOR d IN SELECT g::date FROM pg_catalog.generate_series(today, today + 2, interval '1 day') g LOOP
        part := scaler._request_log_partition(d);
        IF part IS NOT NULL THEN
            done := done || ('created ' || part);
        END IF;
    END LOOP;

    -- Only days a partition name (request_log_pYYYYMMDD) can tell apart:
    -- rows with an infinite ts, or outside years 1 to 9999, stay in DEFAULT.
    SELECT pg_catalog.min(l.ts) INTO first_ts FROM ONLY scaler.request_log_default l
     WHERE l.ts >= '0001-01-01 00:00+00' AND l.ts < '10000-01-01 00:00+00';
    IF first_ts IS NOT NULL THEN
        part := scaler._request_log_partition(pg_catalog.timezone('UTC', first_ts)::date);
        IF part IS NOT NULL THEN
            done := done || ('moved into ' || part);
        END IF;
    END IF;

    IF retention > interval '0' THEN
        SELECT * INTO r FROM scaler.rollup x WHERE x.source = 'scaler.request_log'::regclass;
        FOR p IN
            SELECT c.relname, pg_catalog.to_date(pg_catalog.substr(c.relname, 14), 'YYYYMMDD') AS day
              FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'scaler.request_log'::regclass
               AND c.relname ~ '^request_log_p[0-9]{8}$'
             ORDER BY c.relname
        LOOP
            EXIT WHEN scaler._rollup_day_start(p.day + 1) > pg_catalog.now() - retention;
            EXIT WHEN r.watermark IS NULL OR r.watermark < scaler._rollup_day_start(p.day + 1);
            CONTINUE WHEN r.covered_from IS NOT NULL AND r.covered_from > scaler._rollup_day_start(p.day);
            CONTINUE WHEN EXISTS (SELECT FROM scaler.rollup_invalid v
                                   WHERE v.source = r.source AND v.day = p.day);
            EXECUTE pg_catalog.format('DROP TABLE scaler.%I', p.relname);
            done := done || ('dropped ' || p.relname);
        END LOOP;
    END IF;
    RETURN done;
END
$$;
COMMENT ON FUNCTION scaler._maintain_request_log() IS
    'internal: the worker''s upkeep of scaler.request_log: daily partitions ahead, rows out of the DEFAULT partition, retention of covered partitions';

-- The daily partition of day, with the DEFAULT partition's rows of that day
-- moved into it (they could not stay there once it exists); returns its
-- name, or NULL if the day already has its partition.  The move
-- changes no row, but the DEFAULT partition's capture trigger records the
-- DELETE, and the attached partition's adoption its rows, as changes of the
-- day below the watermark: what the rollup had recorded of the day is put
-- back as it was (writers are locked out meanwhile), or a late row of a day
-- whose other rows retention dropped would count twice.  The bounds are
-- written out as text: in UTC and ISO style, whatever the session's (under
-- DateStyle Postgres, an Asia/Kolkata "IST" reads back as Israel's).
CREATE OR REPLACE FUNCTION scaler._request_log_partition(day date)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
SET DateStyle = 'ISO, YMD'
AS $$
DECLARE
    part    text := 'request_log_p' || pg_catalog.to_char(day, 'YYYYMMDD');
    lo      timestamptz := scaler._rollup_day_start(day);
    hi      timestamptz := scaler._rollup_day_start(day + 1);
    pending scaler.rollup_invalid[];
BEGIN
    IF pg_catalog.to_regclass('scaler.' || part) IS NOT NULL THEN
        RETURN NULL;
    END IF;
    -- Writers route rows with the partitions they saw when they opened the
    -- table: wait for them, and hold new ones off until this commits (an
    -- INSERT routed to the DEFAULT partition before the new partition was
    -- attached would fail its changed constraint).
    LOCK TABLE scaler.request_log, scaler.request_log_default IN SHARE ROW EXCLUSIVE MODE;
    -- (an upkeep that ran meanwhile may have made it)
    IF pg_catalog.to_regclass('scaler.' || part) IS NOT NULL THEN
        RETURN NULL;
    END IF;
    SELECT pg_catalog.array_agg(i) INTO pending FROM scaler.rollup_invalid i
     WHERE i.source = 'scaler.request_log'::pg_catalog.regclass AND i.day = _request_log_partition.day;
    EXECUTE pg_catalog.format('CREATE TABLE scaler.%I (LIKE scaler.request_log INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
    EXECUTE pg_catalog.format('INSERT INTO scaler.%I SELECT * FROM ONLY scaler.request_log_default WHERE ts >= $1 AND ts < $2', part)
       USING lo, hi;
    DELETE FROM ONLY scaler.request_log_default WHERE ts >= lo AND ts < hi;
    -- the indexes of every partition (src/sql/22_request_log.sql says why
    -- the parent has none)
    EXECUTE pg_catalog.format('CREATE INDEX %I ON scaler.%I (function_name, ts)', part || '_function_name_ts_idx', part);
    EXECUTE pg_catalog.format('CREATE INDEX %I ON scaler.%I USING brin (ts)', part || '_ts_idx', part);
    EXECUTE pg_catalog.format('ALTER TABLE scaler.request_log ATTACH PARTITION scaler.%I FOR VALUES FROM (%L) TO (%L)',
                              part, lo, hi);
    DELETE FROM scaler.rollup_invalid i
     WHERE i.source = 'scaler.request_log'::pg_catalog.regclass AND i.day = _request_log_partition.day;
    INSERT INTO scaler.rollup_invalid SELECT (u).* FROM pg_catalog.unnest(pending) u;
    RETURN part;
END
$$;
COMMENT ON FUNCTION scaler._request_log_partition(date) IS
    'internal: create the daily partition of scaler.request_log for a UTC day, with the rows the DEFAULT partition has of it; returns its name, or NULL if it exists';
