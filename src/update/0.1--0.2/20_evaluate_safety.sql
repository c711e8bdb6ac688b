
-- Evaluation safety (issue 8, items 4, 5, 6, 10).  Decision ids no longer
-- take a lock held to commit: each decision records xid_bound, and readers
-- stop at scaler._decision_horizon().  The rest (stale evaluations skipped,
-- damaged states reset, sources followed by OID, scaler.policy_timeout,
-- statistics reported by the worker) is in the C code.
ALTER TABLE scaler.decision ADD COLUMN xid_bound xid8;
COMMENT ON TABLE scaler.decision IS
    'every scaling decision; read in id order up to scaler._decision_horizon(), below which no id can still appear; listeners catch up from here after the last id they saw';
COMMENT ON COLUMN scaler.decision.xid_bound IS
    'the next transaction id when this decision took its id: every transaction that took a smaller id has an xid below it (see scaler._decision_horizon)';

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

-- Readers of decisions in id order stop at the horizon.
CREATE OR REPLACE FUNCTION scaler.listen_subscribe(subscription text, channel text)
RETURNS bigint
LANGUAGE plpgsql
VOLATILE STRICT SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    sub scaler.subscription;
BEGIN
    IF listen_subscribe.subscription = '' THEN
        RAISE EXCEPTION 'subscription name must not be empty'
            USING ERRCODE = '22023';
    END IF;

    INSERT INTO scaler.subscription AS s (name, channel, low_id)
    VALUES (listen_subscribe.subscription, listen_subscribe.channel,
            scaler._decision_horizon())
    ON CONFLICT (name) DO UPDATE
        SET channel = excluded.channel, seen_at = now()
    RETURNING s.* INTO sub;

    IF NOT pg_try_advisory_lock(380446, sub.id) THEN
        RAISE EXCEPTION 'subscription "%" is in use by another listener',
                        listen_subscribe.subscription
            USING ERRCODE = '55006',
                  DETAIL = 'Another session holds its lock.',
                  HINT = 'Stop the other scaler-listen, or choose a different --name.';
    END IF;

    -- Acknowledgements of decisions that retention has removed can no longer
    -- matter: nothing at or below them is left to deliver.
    DELETE FROM scaler.subscription_ack a
    WHERE a.subscription = sub.name
      AND a.decision_id < COALESCE((SELECT min(d.id) FROM scaler.decision d),
                                   9223372036854775807);

    RETURN sub.low_id;
END
$$;

CREATE OR REPLACE FUNCTION scaler.listen_decisions(after_id bigint, max_rows integer DEFAULT 1000,
                                        channel text DEFAULT NULL)
RETURNS TABLE (id bigint, policy text, from_capacity integer,
               to_capacity integer, payload text, for_channel boolean)
LANGUAGE sql
STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT d.id, d.policy, d.from_capacity, d.to_capacity,
           json_build_object('id', d.id, 'policy', d.policy,
                             'decided_at', d.decided_at, 'metric', d.metric,
                             'value', d.value, 'target', d.target,
                             'from', d.from_capacity, 'to', d.to_capacity,
                             'reason', d.reason)::text,
           listen_decisions.channel IS NULL
           OR d.policy NOT IN (SELECT f.f
                               FROM scaler.listen_foreign_policies(listen_decisions.channel) f)
    FROM scaler.decision d
    WHERE d.id OPERATOR(pg_catalog.>) listen_decisions.after_id
      AND d.id OPERATOR(pg_catalog.<=) (SELECT scaler._decision_horizon())
    ORDER BY d.id
    LIMIT listen_decisions.max_rows
$$;
