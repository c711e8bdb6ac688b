
-- ===========================================================================
-- Types.  (A fresh install only: the update keeps the 0.1 types, which are
-- the same.)
-- ===========================================================================

-- scaler.traffic: the hourly traffic analytics' value (src/traffic.c).  Its
-- I/O functions are part of the type, so they are here, between the shell
-- type and its definition.
CREATE TYPE scaler.traffic;

CREATE FUNCTION scaler.traffic_in(pg_catalog.cstring) RETURNS scaler.traffic
    AS 'MODULE_PATHNAME', 'traffic_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION scaler.traffic_out(scaler.traffic) RETURNS pg_catalog.cstring
    AS 'MODULE_PATHNAME', 'traffic_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION scaler.traffic_recv(pg_catalog.internal) RETURNS scaler.traffic
    AS 'MODULE_PATHNAME', 'traffic_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION scaler.traffic_send(scaler.traffic) RETURNS pg_catalog.bytea
    AS 'MODULE_PATHNAME', 'traffic_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION scaler.traffic_in(pg_catalog.cstring) IS
    'text input of scaler.traffic: "traffic:" and the base64 of its binary form, checked field by field';
COMMENT ON FUNCTION scaler.traffic_out(scaler.traffic) IS
    'text output of scaler.traffic; round-trips exactly through traffic_in';
COMMENT ON FUNCTION scaler.traffic_recv(pg_catalog.internal) IS
    'binary input of scaler.traffic, checked field by field';
COMMENT ON FUNCTION scaler.traffic_send(scaler.traffic) IS
    'binary output of scaler.traffic';

CREATE TYPE scaler.traffic (
    INPUT = scaler.traffic_in,
    OUTPUT = scaler.traffic_out,
    RECEIVE = scaler.traffic_recv,
    SEND = scaler.traffic_send,
    INTERNALLENGTH = VARIABLE,
    STORAGE = extended
);
COMMENT ON TYPE scaler.traffic IS
    'traffic statistics of a group of request rows, per UTC quarter hour that has rows (sparse quarters as rows, busy ones as per-minute counts, errors and a latency sketch); read in the session TimeZone';

-- What the decision rules remember between evaluations.
CREATE TYPE scaler.decide_state AS (
    panic_at        timestamptz,    -- last time the panic condition held; NULL = not panicking
    panic_capacity  integer,        -- highest capacity chosen while panicking
    history_at      timestamptz[],  -- scale-in stabilization history (monotonic queue)
    history_desired integer[]
);
COMMENT ON TYPE scaler.decide_state IS
    'state the decision rules carry from one evaluation to the next: panic mode and the scale-in stabilization history';
