
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
    reason        text NOT NULL,
    xid_bound     xid8
);
CREATE INDEX decision_policy_id_idx ON scaler.decision (policy, id);
COMMENT ON TABLE scaler.decision IS
    'every scaling decision; read in id order up to scaler._decision_horizon(), below which no id can still appear; listeners catch up from here after the last id they saw';
COMMENT ON COLUMN scaler.decision.xid_bound IS
    'the next transaction id when this decision took its id: every transaction that took a smaller id has an xid below it (see scaler._decision_horizon)';
SELECT pg_catalog.pg_extension_config_dump('scaler.decision', '');
-- and the id sequence, so restored logs go on with fresh ids
SELECT pg_catalog.pg_extension_config_dump('scaler.decision_id_seq', '');

-- A decision as JSON: the NOTIFY payload evaluation sends, and what a
-- listener catching up from the table hands on; one definition, so both
-- carry the same keys.  No SET search_path (every name is qualified), so
-- that the planner may inline it.
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
CREATE FUNCTION scaler._decision_horizon()
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
