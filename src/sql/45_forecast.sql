
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
