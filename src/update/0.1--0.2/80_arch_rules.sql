
-- Issue 12, items 2 and 3 (one metric path, one rule in one place).
--
-- The rules of a policy's settings are stated once, in C
-- (scaler._check_settings): the policy table's CHECK constraint and
-- scaler._check_policy both call it, and scaler.desired_capacity() applies
-- the same code, so all three refuse an infinite panic_threshold (22023).
-- The column CHECKs of 0.1 give way to that one constraint.
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
REVOKE ALL ON FUNCTION scaler._check_settings(text, text, float8, interval, integer, integer, float8, interval, float8, text, boolean) FROM PUBLIC;

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

-- Source column types: the list of src/source.c, which hourly_requests
-- applies, is now also the one scaler._check_policy applies (0.1 refused
-- function_name of type char(n) or name for policies).
CREATE FUNCTION scaler._column_type_ok(col text, typ regtype)
RETURNS boolean
AS 'MODULE_PATHNAME', 'scaler_column_type_ok'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION scaler._column_type_ok(text, regtype) IS
    'internal: whether a source column may have this type (the list every reader of a source applies)';
REVOKE ALL ON FUNCTION scaler._column_type_ok(text, regtype) FROM PUBLIC;

CREATE FUNCTION scaler._metric_column(metric text)
RETURNS text
AS 'MODULE_PATHNAME', 'scaler_metric_column_sql'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION scaler._metric_column(text) IS
    'internal: the source column a metric reads besides ts (NULL: none)';
REVOKE ALL ON FUNCTION scaler._metric_column(text) FROM PUBLIC;

CREATE FUNCTION scaler._metric_is_load(metric text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'scaler_metric_is_load_sql'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION scaler._metric_is_load(text) IS
    'internal: whether a metric is a load (capacity = value / target), which a forecast can turn into capacity';
REVOKE ALL ON FUNCTION scaler._metric_is_load(text) FROM PUBLIC;

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

-- "May this role manage this policy" is scaler._managed_policy alone: alter,
-- drop and set_capacity report a policy the caller may not manage like one
-- that does not exist (42704), as backtest, forecast, floors and charts do.
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

-- The decision JSON, once: the NOTIFY payload now carries target too.
CREATE FUNCTION scaler._decision_payload(d scaler.decision)
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

-- The floor rule, once: scaler._active_floors, which active_floor and
-- evaluation use.
CREATE FUNCTION scaler._active_floors(at timestamptz)
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

CREATE OR REPLACE FUNCTION scaler.active_floor(policy text, at timestamptz)
RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT COALESCE((SELECT a.floor FROM scaler._active_floors($2) a
                      WHERE a.policy OPERATOR(pg_catalog.=) $1), 0)
$$;
COMMENT ON FUNCTION scaler.active_floor(text, timestamptz) IS
    'the highest capacity floor active for a policy at a time (0 = none); evaluation clamps to it';

-- The checks floors and schedules share, once (item 8: they were written
-- out in each function).
CREATE FUNCTION scaler._check_floor_args(min_capacity integer, duration interval)
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
END
$$;
COMMENT ON FUNCTION scaler._check_floor_args(integer, interval) IS
    'internal: check the min_capacity and duration of a floor (open_floor, schedule_capacity)';
REVOKE ALL ON FUNCTION scaler._check_floor_args(integer, interval) FROM PUBLIC;

CREATE FUNCTION scaler._check_lead(lead interval)
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
REVOKE ALL ON FUNCTION scaler._check_lead(interval) FROM PUBLIC;

CREATE FUNCTION scaler._check_cron(field text, schedule text, example text)
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
REVOKE ALL ON FUNCTION scaler._check_cron(text, text, text) FROM PUBLIC;

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
