
-- Subscriptions of scaler-listen: how far each named listener has acted on
-- the decision log, kept server-side so a restarted listener resumes exactly
-- where it stopped.
--
-- A listener acknowledges a decision only after acting on it (its command
-- exited 0) or after skipping it because a newer decision of the same policy
-- superseded it.  Decisions of one policy are acted on in id order, so the
-- newest acknowledged id per (subscription, policy) is a watermark: nothing at
-- or below it is ever run again.  Decisions of different policies finish out
-- of order, which is why one id per subscription would not be enough.
--
-- A subscription belongs to the role that created it: only that role (a role
-- with its privileges) or a superuser may use it, and only while it can read
-- scaler.decision, since every listen_* function reveals decisions.  The
-- public functions that need the calling role are C trampolines to the
-- SECURITY DEFINER internals scaler._listen_* (see src/policy.c).
--
-- One session at a time holds a subscription: two listeners acting on one
-- would run decisions twice.  The holder is recorded in the row as its
-- backend's pid and start time, and a holder counts only while that backend
-- is alive.  Only a role that may use the subscription can become its holder,
-- so no other role can keep a listener out (an advisory lock could be taken by
-- anyone).  LISTEN rules out the obvious row lock: a session inside an open
-- transaction is not sent notifications.
--
-- The listener calls these functions; nobody else needs to.  EXECUTE on the
-- functions that change state is not granted to PUBLIC: a role that should run
-- scaler-listen is granted it explicitly (see docs/scaler-listen.md).

CREATE TABLE scaler.subscription (
    id           integer GENERATED ALWAYS AS IDENTITY UNIQUE,
    name         text PRIMARY KEY CHECK (name <> ''),
    channel      text NOT NULL,
    low_id       bigint NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    seen_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    owner        regrole NOT NULL,
    holder_pid   integer,
    holder_start timestamptz,
    start_id     bigint NOT NULL
);
COMMENT ON TABLE scaler.subscription IS
    'one row per scaler-listen --name: its owner, the session holding it, where its catch-up starts; maintained by scaler.listen_subscribe and scaler.listen_ack';
COMMENT ON COLUMN scaler.subscription.id IS 'a short number for the subscription';
COMMENT ON COLUMN scaler.subscription.name IS 'the listener''s --name';
COMMENT ON COLUMN scaler.subscription.channel IS 'the channel the listener last LISTENed on';
COMMENT ON COLUMN scaler.subscription.low_id IS 'every decision with id <= low_id has been acted on or superseded; catch-up reads after it';
COMMENT ON COLUMN scaler.subscription.created_at IS 'when the subscription was first used';
COMMENT ON COLUMN scaler.subscription.seen_at IS 'the last time its listener subscribed or acknowledged';
COMMENT ON COLUMN scaler.subscription.owner IS 'the role that created the subscription: only it (a role with its privileges) or a superuser may use it';
COMMENT ON COLUMN scaler.subscription.holder_pid IS 'pid of the backend of the listener that holds the subscription; it holds it only while that backend (same pid and holder_start) is alive';
COMMENT ON COLUMN scaler.subscription.holder_start IS 'backend_start of the holding backend, so that a reused pid is no holder';
COMMENT ON COLUMN scaler.subscription.start_id IS 'the newest decision when the subscription was created: of the decisions at or below it only each policy''s newest is delivered (0: no such start)';

CREATE TABLE scaler.subscription_ack (
    subscription text NOT NULL
        REFERENCES scaler.subscription (name) ON UPDATE CASCADE ON DELETE CASCADE,
    decision_id  bigint NOT NULL,
    policy       text NOT NULL,
    outcome      text NOT NULL CHECK (outcome IN ('done', 'superseded')),
    acked_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (subscription, decision_id)
);
CREATE INDEX subscription_ack_policy_idx
    ON scaler.subscription_ack (subscription, policy, decision_id);
COMMENT ON TABLE scaler.subscription_ack IS
    'decisions a subscription has acknowledged: run by its command (done) or skipped for a newer one of the same policy (superseded); rows of decisions that retention removed are pruned when the listener subscribes';
COMMENT ON COLUMN scaler.subscription_ack.decision_id IS 'scaler.decision.id of the acknowledged decision';
COMMENT ON COLUMN scaler.subscription_ack.policy IS 'the decision''s policy; the newest decision_id per policy is the listener''s watermark';
COMMENT ON COLUMN scaler.subscription_ack.outcome IS 'done: the command exited 0; superseded: skipped because a newer decision of the policy was queued';

SELECT pg_catalog.pg_extension_config_dump('scaler.subscription', '');
SELECT pg_catalog.pg_extension_config_dump('scaler.subscription_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('scaler.subscription_ack', '');

-- The start time of a live backend, NULL when no backend has that pid.  With
-- the pid it names a session: pids are reused, start times are not.  It runs
-- as its caller and shows what pg_stat_activity shows it, so it stays
-- executable by PUBLIC (scaler.subscriptions uses it).
CREATE FUNCTION scaler._listen_backend_start(pid integer)
RETURNS timestamptz
LANGUAGE sql
STABLE STRICT PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT a.backend_start FROM pg_catalog.pg_stat_get_activity(_listen_backend_start.pid) a
$$;
COMMENT ON FUNCTION scaler._listen_backend_start(integer) IS
    'internal: backend_start of the live backend with this pid, or NULL';

-- The subscription a role asks for, checked: the role can read decisions
-- (every listen_* function reveals some) and may use this subscription.
-- Returns a row of NULLs when there is no such subscription; with lock, the
-- row is locked until the end of the transaction.
CREATE FUNCTION scaler._listen_subscription(invoker oid, subscription text, lock boolean)
RETURNS scaler.subscription
LANGUAGE plpgsql
VOLATILE STRICT SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    sub scaler.subscription;
BEGIN
    IF NOT pg_catalog.has_table_privilege(invoker, 'scaler.decision', 'SELECT') THEN
        RAISE EXCEPTION 'permission denied for table decision'
            USING ERRCODE = '42501',
                  DETAIL = 'The listener functions reveal decisions: they need SELECT on scaler.decision.';
    END IF;
    IF lock THEN
        SELECT * INTO sub FROM scaler.subscription s
        WHERE s.name = _listen_subscription.subscription
        FOR UPDATE;
    ELSE
        SELECT * INTO sub FROM scaler.subscription s
        WHERE s.name = _listen_subscription.subscription;
    END IF;
    IF FOUND AND NOT scaler._may_manage(invoker, sub.owner) THEN
        RAISE EXCEPTION 'permission denied for subscription "%"',
                        _listen_subscription.subscription
            USING ERRCODE = '42501',
                  DETAIL = 'A subscription can be used only by the role that created it and by superusers.',
                  HINT = 'Choose a different --name.';
    END IF;
    RETURN sub;
END
$$;
COMMENT ON FUNCTION scaler._listen_subscription(oid, text, boolean) IS
    'internal: the named subscription if the role may read decisions and use it (NULLs when it does not exist), locked if asked';
REVOKE ALL ON FUNCTION scaler._listen_subscription(oid, text, boolean) FROM PUBLIC;

-- Create the subscription on first use, or resume it, and make this session
-- its holder.  A new subscription starts with each policy's newest decision
-- on the channel (level-triggered: a freshly started actuator applies the
-- capacity scaler wants now), or, with from_now, after the newest decision.
CREATE FUNCTION scaler._listen_subscribe(invoker oid, subscription text, channel text,
                                         from_now boolean,
                                         OUT after_id bigint, OUT latest_through bigint)
RETURNS record
LANGUAGE plpgsql
VOLATILE STRICT SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    sub      scaler.subscription;
    newest   bigint;
    me       timestamptz := scaler._listen_backend_start(pg_backend_pid());
BEGIN
    IF _listen_subscribe.subscription = '' THEN
        RAISE EXCEPTION 'subscription name must not be empty'
            USING ERRCODE = '22023';
    END IF;

    sub := scaler._listen_subscription(invoker, _listen_subscribe.subscription, true);
    IF sub.name IS NULL THEN
        -- decisions above the horizon may still be joined by smaller ids
        newest := scaler._decision_horizon();
        INSERT INTO scaler.subscription AS s (name, channel, low_id, owner, start_id)
        VALUES (_listen_subscribe.subscription, _listen_subscribe.channel,
                CASE WHEN from_now THEN newest
                     ELSE COALESCE((SELECT min(l.id) - 1
                                    FROM scaler.policy p
                                    CROSS JOIN LATERAL
                                        (SELECT max(d.id) AS id FROM scaler.decision d
                                         WHERE d.policy = p.name AND d.id <= newest) l
                                    WHERE p.channel = _listen_subscribe.channel),
                                   newest)
                END,
                invoker::regrole, newest)
        ON CONFLICT (name) DO NOTHING;
        -- created by us, or by a concurrent call: check it again either way
        sub := scaler._listen_subscription(invoker, _listen_subscribe.subscription, true);
    END IF;

    IF sub.holder_pid IS DISTINCT FROM pg_backend_pid()
       AND scaler._listen_backend_start(sub.holder_pid) = sub.holder_start THEN
        RAISE EXCEPTION 'subscription "%" is in use by another listener',
                        _listen_subscribe.subscription
            USING ERRCODE = '55006',
                  DETAIL = format('The session of backend %s holds it.', sub.holder_pid),
                  HINT = 'Stop the other scaler-listen, or choose a different --name.';
    END IF;

    UPDATE scaler.subscription s
    SET channel = _listen_subscribe.channel, seen_at = now(),
        holder_pid = pg_backend_pid(), holder_start = me
    WHERE s.name = sub.name;

    -- Acknowledgements of decisions that retention has removed can no longer
    -- matter: nothing at or below them is left to deliver.
    DELETE FROM scaler.subscription_ack a
    WHERE a.subscription = sub.name
      AND a.decision_id < COALESCE((SELECT min(d.id) FROM scaler.decision d),
                                   9223372036854775807);

    after_id := sub.low_id;
    latest_through := sub.start_id;
END
$$;
COMMENT ON FUNCTION scaler._listen_subscribe(oid, text, text, boolean) IS
    'internal: body of scaler.listen_subscribe, called with the calling role';
REVOKE ALL ON FUNCTION scaler._listen_subscribe(oid, text, text, boolean) FROM PUBLIC;

CREATE FUNCTION scaler.listen_subscribe(subscription text, channel text,
                                        from_now boolean DEFAULT false,
                                        OUT after_id bigint, OUT latest_through bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION scaler.listen_subscribe(text, text, boolean) IS
    'used by scaler-listen: create (owned by the calling role) or resume a subscription and hold it in this session; catch-up reads after after_id, and of the decisions at or below latest_through only each policy''s newest';
REVOKE ALL ON FUNCTION scaler.listen_subscribe(text, text, boolean) FROM PUBLIC;

-- The watermark of each policy: the newest acknowledged decision.
CREATE FUNCTION scaler._listen_acked(invoker oid, subscription text)
RETURNS TABLE (policy text, decision_id bigint)
LANGUAGE plpgsql
STABLE STRICT SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    sub scaler.subscription;
BEGIN
    sub := scaler._listen_subscription(invoker, _listen_acked.subscription, false);
    IF sub.name IS NULL THEN
        RAISE EXCEPTION 'subscription "%" does not exist', _listen_acked.subscription
            USING ERRCODE = '42704';
    END IF;
    RETURN QUERY
        SELECT a.policy, max(a.decision_id)
        FROM scaler.subscription_ack a
        WHERE a.subscription = sub.name
        GROUP BY a.policy;
END
$$;
COMMENT ON FUNCTION scaler._listen_acked(oid, text) IS
    'internal: body of scaler.listen_acked, called with the calling role';
REVOKE ALL ON FUNCTION scaler._listen_acked(oid, text) FROM PUBLIC;

CREATE FUNCTION scaler.listen_acked(subscription text)
RETURNS TABLE (policy text, decision_id bigint)
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C STABLE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION scaler.listen_acked(text) IS
    'used by scaler-listen: per policy, the newest decision the subscription has acknowledged';
REVOKE ALL ON FUNCTION scaler.listen_acked(text) FROM PUBLIC;

-- Record one acknowledgement.  Idempotent, so a listener that lost its
-- connection while acknowledging simply sends it again.  Only the session
-- holding the subscription may acknowledge.
CREATE FUNCTION scaler._listen_ack(invoker oid, subscription text, decision_id bigint,
                                   outcome text, acked_through bigint)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE STRICT SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    sub scaler.subscription;
    inserted integer;
BEGIN
    IF _listen_ack.outcome NOT IN ('done', 'superseded') THEN
        RAISE EXCEPTION 'invalid outcome "%"', _listen_ack.outcome
            USING ERRCODE = '22023',
                  HINT = 'The outcome is "done" or "superseded".';
    END IF;

    sub := scaler._listen_subscription(invoker, _listen_ack.subscription, true);
    IF sub.name IS NULL THEN
        RAISE EXCEPTION 'subscription "%" does not exist', _listen_ack.subscription
            USING ERRCODE = '42704';
    END IF;
    IF sub.holder_pid IS DISTINCT FROM pg_backend_pid()
       OR sub.holder_start IS DISTINCT FROM scaler._listen_backend_start(pg_backend_pid()) THEN
        RAISE EXCEPTION 'subscription "%" is not held by this session',
                        _listen_ack.subscription
            USING ERRCODE = '55000',
                  HINT = 'Call scaler.listen_subscribe first.';
    END IF;

    -- A decision removed meanwhile (retention) has nothing left to record.
    INSERT INTO scaler.subscription_ack AS a
        (subscription, decision_id, policy, outcome)
    SELECT sub.name, d.id, d.policy, _listen_ack.outcome
    FROM scaler.decision d
    WHERE d.id = _listen_ack.decision_id
    ON CONFLICT ON CONSTRAINT subscription_ack_pkey DO NOTHING;
    GET DIAGNOSTICS inserted = ROW_COUNT;

    UPDATE scaler.subscription s
    SET low_id = GREATEST(s.low_id, _listen_ack.acked_through), seen_at = now()
    WHERE s.name = sub.name;

    RETURN inserted > 0;
END
$$;
COMMENT ON FUNCTION scaler._listen_ack(oid, text, bigint, text, bigint) IS
    'internal: body of scaler.listen_ack, called with the calling role';
REVOKE ALL ON FUNCTION scaler._listen_ack(oid, text, bigint, text, bigint) FROM PUBLIC;

CREATE FUNCTION scaler.listen_ack(subscription text, decision_id bigint,
                                  outcome text, acked_through bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION scaler.listen_ack(text, bigint, text, bigint) IS
    'used by scaler-listen: record that a decision was done or superseded, and that every decision up to acked_through is settled; returns false when it was already recorded';
REVOKE ALL ON FUNCTION scaler.listen_ack(text, bigint, text, bigint) FROM PUBLIC;

-- Each policy and the channel it notifies on.  A listener on one channel must
-- not act on another channel's decisions, and starts a new subscription with
-- the newest decision of each policy that exists.
CREATE FUNCTION scaler._listen_policy_channels(invoker oid)
RETURNS TABLE (policy text, channel text)
LANGUAGE plpgsql
STABLE STRICT SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT pg_catalog.has_table_privilege(invoker, 'scaler.decision', 'SELECT') THEN
        RAISE EXCEPTION 'permission denied for table decision'
            USING ERRCODE = '42501',
                  DETAIL = 'The listener functions reveal decisions: they need SELECT on scaler.decision.';
    END IF;
    RETURN QUERY SELECT p.name, p.channel FROM scaler.policy p;
END
$$;
COMMENT ON FUNCTION scaler._listen_policy_channels(oid) IS
    'internal: body of scaler.listen_policy_channels, called with the calling role';
REVOKE ALL ON FUNCTION scaler._listen_policy_channels(oid) FROM PUBLIC;

CREATE FUNCTION scaler.listen_policy_channels()
RETURNS TABLE (policy text, channel text)
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION scaler.listen_policy_channels() IS
    'used by scaler-listen: each policy and the channel it notifies on; needs SELECT on scaler.decision';
REVOKE ALL ON FUNCTION scaler.listen_policy_channels() FROM PUBLIC;

-- The decisions after an id, as the listener hands them to its command.  Runs
-- with the caller's privileges: reading decisions needs SELECT on
-- scaler.decision.  With a channel, for_channel says whether a decision is
-- meant for it: its policy's current channel is that one, or the policy no
-- longer exists (nothing says where its decisions belong, and skipping them
-- could lose one).  The others are returned too, so that the listener's
-- position moves past them instead of reading them again on every wake-up.
-- Of the decisions at or below latest_through only the newest of each policy
-- that exists is returned: what a new subscription starts with.  Nothing
-- above scaler._decision_horizon() is returned: a smaller id may still
-- commit, and reading after the last id returned would then skip it.
CREATE FUNCTION scaler.listen_decisions(after_id bigint, max_rows integer DEFAULT 1000,
                                        channel text DEFAULT NULL,
                                        latest_through bigint DEFAULT NULL)
RETURNS TABLE (id bigint, policy text, from_capacity integer,
               to_capacity integer, payload text, for_channel boolean)
LANGUAGE sql
STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH pc AS MATERIALIZED (
        SELECT c.policy, c.channel FROM scaler.listen_policy_channels() c
    )
    SELECT d.id, d.policy, d.from_capacity, d.to_capacity,
           json_build_object('id', d.id, 'policy', d.policy,
                             'decided_at', d.decided_at, 'metric', d.metric,
                             'value', d.value, 'target', d.target,
                             'from', d.from_capacity, 'to', d.to_capacity,
                             'reason', d.reason)::text,
           listen_decisions.channel IS NULL
           OR NOT EXISTS (SELECT FROM pc
                          WHERE pc.policy = d.policy
                            AND pc.channel <> listen_decisions.channel)
    FROM scaler.decision d
    WHERE d.id > listen_decisions.after_id
      AND d.id <= (SELECT scaler._decision_horizon())
      AND (listen_decisions.latest_through IS NULL
           OR d.id > listen_decisions.latest_through
           OR (EXISTS (SELECT FROM pc WHERE pc.policy = d.policy)
               AND d.id = (SELECT max(n.id) FROM scaler.decision n
                           WHERE n.policy = d.policy
                             AND n.id <= listen_decisions.latest_through)))
    ORDER BY d.id
    LIMIT listen_decisions.max_rows
$$;
COMMENT ON FUNCTION scaler.listen_decisions(bigint, integer, text, bigint) IS
    'the decisions after an id in id order (of those at or below latest_through only each existing policy''s newest), each with the JSON document scaler-listen hands to its command, and whether it is meant for the channel (its policy notifies there, or no longer exists)';

-- What an operator asks: how far is each listener, what did it do, whose is
-- it, and which session holds it now.
CREATE VIEW scaler.subscriptions AS
SELECT s.name, s.channel, s.low_id AS acked_through,
       (SELECT count(*) FROM scaler.subscription_ack a
        WHERE a.subscription = s.name AND a.outcome = 'done') AS done,
       (SELECT count(*) FROM scaler.subscription_ack a
        WHERE a.subscription = s.name AND a.outcome = 'superseded') AS superseded,
       s.created_at, s.seen_at, s.owner,
       CASE WHEN scaler._listen_backend_start(s.holder_pid) = s.holder_start
            THEN s.holder_pid END AS listener_pid
FROM scaler.subscription s;
COMMENT ON VIEW scaler.subscriptions IS
    'each scaler-listen subscription: the id through which every decision is settled, how many decisions it ran (done) or skipped for a newer one (superseded), its owner, and the backend pid of the listener holding it (NULL: none)';
