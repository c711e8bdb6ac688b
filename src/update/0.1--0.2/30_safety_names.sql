
-- Issue 8.11: policy names are restricted to a set that is safe in shells
-- and paths (checked by create_policy).  Policies of a 0.1 database keep
-- their names and keep working (alter, drop, evaluation and notifications
-- do not check the name, and there is no table CHECK, which would refuse
-- every later UPDATE of such a row); the update lists them, since an
-- actuator that passes the name to a shell may misread them.

CREATE OR REPLACE FUNCTION scaler._create_policy(
    invoker oid, name text, target float8, metric text, function_name text,
    source regclass, stable_window interval, min_capacity integer,
    max_capacity integer, tolerance float8, scale_in_stabilization interval,
    panic_threshold float8, channel text, enabled boolean)
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
