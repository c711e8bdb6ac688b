
-- ---------------------------------------------------------------------------
-- Capacity floors, the forecast that writes them, and scheduled capacity
-- through pg_cron (optional: only these functions need it).
-- ---------------------------------------------------------------------------

-- A floor keeps a policy at or above min_capacity from starts to ends.
-- Live evaluation and backtests clamp to the highest active floor (and
-- then to max_capacity, which stays the hard ceiling).
CREATE TABLE scaler.capacity_floor (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    policy       text NOT NULL
                 REFERENCES scaler.policy (name) ON DELETE CASCADE ON UPDATE CASCADE,
    starts       timestamptz NOT NULL,
    ends         timestamptz NOT NULL,
    min_capacity integer NOT NULL CHECK (min_capacity >= 0),
    origin       text NOT NULL CHECK (origin <> ''),
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CHECK (ends > starts)
);
-- Active floors are found among the floors that have not ended (few: a
-- forecast writes one per hour ahead); with starts and min_capacity in the
-- index that is an index-only scan.
CREATE INDEX capacity_floor_policy_ends_idx ON scaler.capacity_floor (policy, ends)
    INCLUDE (starts, min_capacity);
COMMENT ON TABLE scaler.capacity_floor IS
    'capacity floors: policy runs at least min_capacity (never above max_capacity) in [starts, ends); origin is forecast, schedule or manual';
SELECT pg_catalog.pg_extension_config_dump('scaler.capacity_floor', '');
SELECT pg_catalog.pg_extension_config_dump('scaler.capacity_floor_id_seq', '');

-- The floor rule, stated once: a floor is active at t when starts <= t <
-- ends, and the highest active floor of a policy is its floor.  Evaluation
-- (src/evaluate.c) joins it into every tick's policy query; a replay
-- applies the same rule to its steps (src/backtest.c, step_floors).  No
-- SET search_path (every name is qualified), so that the planner inlines
-- it into the query that uses it.
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

-- Until now it answered 0.  No SET search_path, as above.
CREATE OR REPLACE FUNCTION scaler.active_floor(policy text, at timestamptz)
RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT COALESCE((SELECT a.floor FROM scaler._active_floors($2) a
                      WHERE a.policy OPERATOR(pg_catalog.=) $1), 0)
$$;
COMMENT ON FUNCTION scaler.active_floor(text, timestamptz) IS
    'the highest capacity floor active for a policy at a time (0 = none); evaluation clamps to it';

-- The floors of a policy overlapping [since, until], for the replay.
-- Called only from C (src/backtest.c) through fmgr, after the caller was
-- checked by scaler._policy_settings.
CREATE FUNCTION scaler._policy_floors(policy text, since timestamptz, until timestamptz,
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
REVOKE ALL ON FUNCTION scaler._policy_floors(text, timestamptz, timestamptz) FROM PUBLIC;

CREATE FUNCTION scaler.forecast(
    policy   text,
    horizon  interval DEFAULT '48 hours',
    lookback interval DEFAULT '14 days',
    OUT hour     timestamptz,
    OUT expected float8,
    OUT high     float8,
    OUT capacity integer)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'scaler_forecast'
LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 48;
COMMENT ON FUNCTION scaler.forecast(text, interval, interval) IS
    'per local hour from now to now + horizon: the expected value of the policy''s metric and its 95th percentile (high), from the same hour of the week over lookback (hour of the day with under a week of history), and the capacity high needs at the policy''s target (load metrics)';

-- The checks of the arguments that floors and schedules share, once.
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

-- Opening a floor: by hand, or from a scheduled pg_cron job.
CREATE FUNCTION scaler._open_floor(invoker oid, policy text, min_capacity integer,
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

CREATE FUNCTION scaler.open_floor(policy text, min_capacity integer, duration interval,
                                  origin text DEFAULT 'manual')
RETURNS bigint
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.open_floor(text, integer, interval, text) IS
    'keep a policy at min_capacity or more (never above max_capacity) from now for duration; returns the floor id';

CREATE FUNCTION scaler._apply_forecast(invoker oid, policy text, lead interval)
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

CREATE FUNCTION scaler.apply_forecast(policy text, lead interval DEFAULT '5 minutes')
RETURNS integer
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.apply_forecast(text, interval) IS
    'replace a policy''s forecast floors: for each hour of scaler.forecast() a floor of its capacity from lead before the hour to its end; returns the number of floors written';

-- ---------------------------------------------------------------------------
-- Scheduled capacity and forecast refresh, with pg_cron as the clock.
-- ---------------------------------------------------------------------------

-- The pg_cron jobs scaler made, so they go with their policy.
CREATE TABLE scaler.capacity_schedule (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    policy       text NOT NULL
                 REFERENCES scaler.policy (name) ON DELETE CASCADE ON UPDATE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('capacity', 'forecast')),
    schedule     text NOT NULL,
    min_capacity integer,
    duration     interval,
    lead         interval,
    jobid        bigint UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE scaler.capacity_schedule IS
    'pg_cron jobs made by schedule_capacity and schedule_forecast (job name scaler_<kind>_<id>); deleting a row, or its policy, unschedules the job';
-- dumped, like pg_cron dumps cron.job, so restored jobs stay tied to their policy
SELECT pg_catalog.pg_extension_config_dump('scaler.capacity_schedule', '');
SELECT pg_catalog.pg_extension_config_dump('scaler.capacity_schedule_id_seq', '');

CREATE FUNCTION scaler._require_cron()
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

CREATE FUNCTION scaler._capacity_schedule_deleted()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF OLD.jobid IS NOT NULL
       AND EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
        PERFORM cron.unschedule(j.jobid) FROM cron.job j WHERE j.jobid = OLD.jobid;
    END IF;
    RETURN OLD;
END
$$;
COMMENT ON FUNCTION scaler._capacity_schedule_deleted() IS
    'internal: unschedule the pg_cron job of a deleted scaler.capacity_schedule row';

CREATE TRIGGER capacity_schedule_unschedule
    AFTER DELETE ON scaler.capacity_schedule
    FOR EACH ROW EXECUTE FUNCTION scaler._capacity_schedule_deleted();
COMMENT ON TRIGGER capacity_schedule_unschedule ON scaler.capacity_schedule IS
    'a schedule row that goes (also with its policy) takes its pg_cron job with it';

-- Make or update the job of a schedule row.  The job runs as the policy's
-- owner (never as the extension owner), so it has no more rights than the
-- owner has when it runs: an owner that lost EXECUTE on the function, or
-- the right to log in, makes its job fail.  It only ever runs the fixed
-- command built by its caller.
CREATE FUNCTION scaler._schedule_job(row_id bigint, schedule text, command text)
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

CREATE FUNCTION scaler._schedule_capacity(invoker oid, policy text, schedule text,
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

CREATE FUNCTION scaler.schedule_capacity(policy text, schedule text, min_capacity integer,
                                         duration interval)
RETURNS bigint
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.schedule_capacity(text, text, integer, interval) IS
    'a pg_cron job that, whenever the cron schedule fires, keeps the policy at min_capacity or more for duration; returns the cron job id (needs pg_cron)';

CREATE FUNCTION scaler._unschedule_capacity(invoker oid, policy text, schedule text)
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

CREATE FUNCTION scaler.unschedule_capacity(policy text, schedule text DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.unschedule_capacity(text, text) IS
    'remove the scheduled-capacity jobs of a policy (only the one with this cron schedule when given); returns how many';

CREATE FUNCTION scaler._schedule_forecast(invoker oid, policy text, every text, lead interval)
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

CREATE FUNCTION scaler.schedule_forecast(policy text, every text DEFAULT '0 */6 * * *',
                                         lead interval DEFAULT '5 minutes')
RETURNS bigint
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.schedule_forecast(text, text, interval) IS
    'a pg_cron job that refreshes the policy''s forecast floors (scaler.apply_forecast) on the cron schedule every; returns the cron job id (needs pg_cron)';

CREATE FUNCTION scaler._unschedule_forecast(invoker oid, policy text)
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

CREATE FUNCTION scaler.unschedule_forecast(policy text)
RETURNS integer
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.unschedule_forecast(text) IS
    'remove the forecast-refresh job of a policy; returns how many (0 or 1)';

-- Privileges: writing floors and schedules is a right to grant per role,
-- like managing policies; the internals are reached only through the
-- trampoline.  Reading (backtest, forecast) checks inside that the caller
-- may manage the policy.
REVOKE ALL ON FUNCTION scaler.open_floor(text, integer, interval, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.apply_forecast(text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.schedule_capacity(text, text, integer, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.unschedule_capacity(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.schedule_forecast(text, text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.unschedule_forecast(text) FROM PUBLIC;
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
