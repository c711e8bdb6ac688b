
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
CREATE INDEX capacity_floor_policy_ends_idx ON scaler.capacity_floor (policy, ends);
COMMENT ON TABLE scaler.capacity_floor IS
    'capacity floors: policy runs at least min_capacity (never above max_capacity) in [starts, ends); origin is forecast, schedule or manual';

-- Evaluation (src/evaluate.c) asks this function for the floor; until now
-- it answered 0.
CREATE OR REPLACE FUNCTION scaler.active_floor(policy text, at timestamptz)
RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE(max(f.min_capacity), 0)
      FROM scaler.capacity_floor f
     WHERE f.policy = $1
       AND f.ends OPERATOR(pg_catalog.>) $2
       AND f.starts OPERATOR(pg_catalog.<=) $2
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
