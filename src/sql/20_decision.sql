
-- The decision log: the durable record of every scaling decision.  NOTIFY is
-- only the wake-up; listeners trust and catch up from this table.
CREATE TABLE scaler.decision (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    policy        text NOT NULL,
    decided_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    metric        text NOT NULL,
    value         float8,
    target        float8 NOT NULL,
    from_capacity integer NOT NULL,
    to_capacity   integer NOT NULL,
    reason        text NOT NULL
);
CREATE INDEX decision_policy_id_idx ON scaler.decision (policy, id);
COMMENT ON TABLE scaler.decision IS
    'every scaling decision, in commit order of id; listeners catch up from here after the last id they saw';
SELECT pg_catalog.pg_extension_config_dump('scaler.decision', '');
-- and the id sequence, so restored logs go on with fresh ids
SELECT pg_catalog.pg_extension_config_dump('scaler.decision_id_seq', '');
