
-- Issue 8.7 (forecast part) and 8.1 (jobs): limits on floor durations,
-- forecast leads and cron schedules; pg_cron jobs run as the policy owner
-- (cron.schedule_in_database with its username), never as the extension
-- owner.  scaler.forecast() itself (C) bounds horizon and lookback.

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
    IF lead IS NULL OR lead < '0' THEN
        RAISE EXCEPTION 'lead must not be null or negative' USING ERRCODE = '22023';
    END IF;
    IF lead > interval '24 hours' THEN
        RAISE EXCEPTION 'lead must not exceed 24 hours' USING ERRCODE = '22023';
    END IF;
    IF p.metric NOT IN ('concurrency', 'rps') THEN
        RAISE EXCEPTION 'policy "%" scales on %, which a forecast cannot turn into capacity', p.name, p.metric
            USING ERRCODE = '22023',
                  DETAIL = 'For quality metrics the capacity needed depends on the capacity running.',
                  HINT = 'Forecast floors need a load metric (concurrency or rps); scaler.forecast() still shows the expected values.';
    END IF;

    -- the new forecast replaces what is left of the previous one
    DELETE FROM scaler.capacity_floor f
     WHERE f.policy = p.name AND f.origin = 'forecast' AND f.ends > now();

    INSERT INTO scaler.capacity_floor (policy, starts, ends, min_capacity, origin)
    SELECT p.name, fc.hour - lead, fc.hour + interval '1 hour',
           least(fc.capacity, p.max_capacity), 'forecast'
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
    IF schedule IS NULL OR btrim(schedule) = '' THEN
        RAISE EXCEPTION 'schedule must not be empty' USING ERRCODE = '22023',
            HINT = 'Give a cron expression, e.g. ''55 8 * * 1-5'' for 08:55 on weekdays.';
    END IF;
    IF length(schedule) > 100 THEN
        RAISE EXCEPTION 'schedule must not exceed 100 characters' USING ERRCODE = '22023';
    END IF;
    IF min_capacity IS NULL OR min_capacity < 0 THEN
        RAISE EXCEPTION 'min_capacity must not be null or negative' USING ERRCODE = '22023';
    END IF;
    IF min_capacity > p.max_capacity THEN
        RAISE EXCEPTION 'min_capacity must not exceed max_capacity of policy "%"', p.name
            USING ERRCODE = '22023',
                  DETAIL = format('min_capacity is %s, max_capacity is %s.', min_capacity, p.max_capacity);
    END IF;
    IF duration IS NULL OR duration <= '0' THEN
        RAISE EXCEPTION 'duration must be greater than zero' USING ERRCODE = '22023';
    END IF;
    IF duration > interval '366 days' THEN
        RAISE EXCEPTION 'duration must not exceed 366 days' USING ERRCODE = '22023',
            HINT = 'For a lasting minimum, raise the policy''s min_capacity instead.';
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
    IF every IS NULL OR btrim(every) = '' THEN
        RAISE EXCEPTION 'every must not be empty' USING ERRCODE = '22023',
            HINT = 'Give a cron expression, e.g. ''0 */6 * * *''.';
    END IF;
    IF length(every) > 100 THEN
        RAISE EXCEPTION 'every must not exceed 100 characters' USING ERRCODE = '22023';
    END IF;
    IF lead IS NULL OR lead < '0' THEN
        RAISE EXCEPTION 'lead must not be null or negative' USING ERRCODE = '22023';
    END IF;
    IF lead > interval '24 hours' THEN
        RAISE EXCEPTION 'lead must not exceed 24 hours' USING ERRCODE = '22023';
    END IF;
    IF p.metric NOT IN ('concurrency', 'rps') THEN
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

-- Jobs 0.1 made run as the extension owner: move each to its policy's
-- owner.  A job whose policy owner no longer exists is deactivated (it
-- must not go on running with more rights); jobs whose owner cannot run
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
