
-- traffic_svg (issue 13): the same objects as src/sql/17_svg.sql.

-- ---------------------------------------------------------------------------
-- traffic_svg: hourly traffic, and the capacity a policy decided over it,
-- as a self-contained SVG picture (src/svg.c).
-- ---------------------------------------------------------------------------

-- The rows of the policy overlay, for a caller who may manage the policy
-- (the rule of every policy function: scaler._managed_policy).  Called only
-- from C (src/svg.c) through fmgr with the real caller as invoker; nobody
-- may EXECUTE it.  Its body reads objects of later files (policies, floors),
-- which PL/pgSQL resolves when it runs.  Floors other than manual and
-- scheduled ones are written by scaler itself ahead of expected load: the
-- picture shades them as pre-warm.
CREATE FUNCTION scaler._svg_policy(invoker oid, policy text, since timestamptz,
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
REVOKE ALL ON FUNCTION scaler._svg_policy(oid, text, timestamptz, timestamptz, boolean) FROM PUBLIC;

CREATE FUNCTION scaler.traffic_svg(
    since         pg_catalog.timestamptz DEFAULT pg_catalog.now() - '24 hours'::pg_catalog.interval,
    until         pg_catalog.timestamptz DEFAULT pg_catalog.now(),
    function_name pg_catalog.text DEFAULT NULL,
    source        pg_catalog.regclass DEFAULT 'scaler.request_log',
    policy        pg_catalog.text DEFAULT NULL,
    width         pg_catalog.int4 DEFAULT 960,
    height        pg_catalog.int4 DEFAULT 360,
    replay        pg_catalog.bool DEFAULT false)
RETURNS pg_catalog.text
AS 'MODULE_PATHNAME', 'scaler_traffic_svg'
LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION scaler.traffic_svg(pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.text, pg_catalog.regclass, pg_catalog.text, pg_catalog.int4, pg_catalog.int4, pg_catalog.bool) IS
    'hourly_requests of [since, until) read from a source, as the calling user, drawn as a self-contained SVG document: requests per local hour, busiest minute, p95, error hours; with policy, the capacity it decided (replay => true: scaler.backtest) and its floors';

CREATE FUNCTION scaler.traffic_svg(
    t       scaler.traffic,
    policy  pg_catalog.text DEFAULT NULL,
    width   pg_catalog.int4 DEFAULT 960,
    height  pg_catalog.int4 DEFAULT 360,
    replay  pg_catalog.bool DEFAULT false)
RETURNS pg_catalog.text
AS 'MODULE_PATHNAME', 'scaler_traffic_svg_value'
LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION scaler.traffic_svg(scaler.traffic, pg_catalog.text, pg_catalog.int4, pg_catalog.int4, pg_catalog.bool) IS
    'hourly_requests of a traffic value drawn as a self-contained SVG document; with policy, the capacity it decided over the value''s hours (replay => true: scaler.backtest) and its floors';
