
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
-- The listener calls these functions; nobody else needs to.  EXECUTE on the
-- functions that change state is not granted to PUBLIC: a role that should run
-- scaler-listen is granted it explicitly (see docs/scaler-listen.md).

CREATE TABLE scaler.subscription (
    id           integer GENERATED ALWAYS AS IDENTITY UNIQUE,
    name         text PRIMARY KEY CHECK (name <> ''),
    channel      text NOT NULL,
    low_id       bigint NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    seen_at      timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE scaler.subscription IS
    'one row per scaler-listen --name: where its catch-up starts; maintained by scaler.listen_subscribe and scaler.listen_ack';
COMMENT ON COLUMN scaler.subscription.id IS 'second key of the advisory lock a running listener holds on its subscription';
COMMENT ON COLUMN scaler.subscription.name IS 'the listener''s --name';
COMMENT ON COLUMN scaler.subscription.channel IS 'the channel the listener last LISTENed on';
COMMENT ON COLUMN scaler.subscription.low_id IS 'every decision with id <= low_id has been acted on or superseded; catch-up reads after it';
COMMENT ON COLUMN scaler.subscription.created_at IS 'when the subscription was first used; decisions made before it are not delivered';
COMMENT ON COLUMN scaler.subscription.seen_at IS 'the last time its listener subscribed or acknowledged';

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

-- Create the subscription on first use, or take it over, and lock it for this
-- session: two listeners acting on one subscription would run decisions twice.
-- A new subscription starts after the newest decision that exists now.
CREATE FUNCTION scaler.listen_subscribe(subscription text, channel text)
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
COMMENT ON FUNCTION scaler.listen_subscribe(text, text) IS
    'used by scaler-listen: create or resume a subscription, lock it for this session, and return the id after which catch-up reads';
REVOKE ALL ON FUNCTION scaler.listen_subscribe(text, text) FROM PUBLIC;

-- The watermark of each policy: the newest acknowledged decision.
CREATE FUNCTION scaler.listen_acked(subscription text)
RETURNS TABLE (policy text, decision_id bigint)
LANGUAGE sql
STABLE STRICT SECURITY DEFINER PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT a.policy, max(a.decision_id)
    FROM scaler.subscription_ack a
    WHERE a.subscription = listen_acked.subscription
    GROUP BY a.policy
$$;
COMMENT ON FUNCTION scaler.listen_acked(text) IS
    'used by scaler-listen: per policy, the newest decision the subscription has acknowledged';
REVOKE ALL ON FUNCTION scaler.listen_acked(text) FROM PUBLIC;

-- Record one acknowledgement.  Idempotent, so a listener that lost its
-- connection while acknowledging simply sends it again.  Only the session
-- holding the subscription's lock may acknowledge.
CREATE FUNCTION scaler.listen_ack(subscription text, decision_id bigint,
                                  outcome text, acked_through bigint)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE STRICT SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    sub_id integer;
    inserted integer;
BEGIN
    IF listen_ack.outcome NOT IN ('done', 'superseded') THEN
        RAISE EXCEPTION 'invalid outcome "%"', listen_ack.outcome
            USING ERRCODE = '22023',
                  HINT = 'The outcome is "done" or "superseded".';
    END IF;

    SELECT s.id INTO sub_id
    FROM scaler.subscription s
    WHERE s.name = listen_ack.subscription
    FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'subscription "%" does not exist', listen_ack.subscription
            USING ERRCODE = '42704';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_locks l
                   WHERE l.locktype = 'advisory' AND l.pid = pg_backend_pid()
                     AND l.classid = 380446 AND l.objid = sub_id::oid
                     AND l.objsubid = 2 AND l.granted) THEN
        RAISE EXCEPTION 'subscription "%" is not held by this session',
                        listen_ack.subscription
            USING ERRCODE = '55000',
                  HINT = 'Call scaler.listen_subscribe first.';
    END IF;

    -- A decision removed meanwhile (retention) has nothing left to record.
    INSERT INTO scaler.subscription_ack AS a
        (subscription, decision_id, policy, outcome)
    SELECT listen_ack.subscription, d.id, d.policy, listen_ack.outcome
    FROM scaler.decision d
    WHERE d.id = listen_ack.decision_id
    ON CONFLICT ON CONSTRAINT subscription_ack_pkey DO NOTHING;
    GET DIAGNOSTICS inserted = ROW_COUNT;

    UPDATE scaler.subscription s
    SET low_id = GREATEST(s.low_id, listen_ack.acked_through), seen_at = now()
    WHERE s.id = sub_id;

    RETURN inserted > 0;
END
$$;
COMMENT ON FUNCTION scaler.listen_ack(text, bigint, text, bigint) IS
    'used by scaler-listen: record that a decision was done or superseded, and that every decision up to acked_through is settled; returns false when it was already recorded';
REVOKE ALL ON FUNCTION scaler.listen_ack(text, bigint, text, bigint) FROM PUBLIC;

-- The policies announced on channels other than the given one: a listener on
-- one channel must not act on another channel's decisions.  Decision rows do
-- not record their channel, so the policy's current channel decides; the
-- decisions of a policy that no longer exists go to every listener (nothing
-- says where they belong, and skipping them could lose one).  The policy
-- table is read dynamically so that this file does not depend on the order
-- in which the policy fragment defines it.
CREATE FUNCTION scaler.listen_foreign_policies(channel text)
RETURNS SETOF text
LANGUAGE plpgsql
STABLE STRICT SECURITY DEFINER PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF to_regclass('scaler.policy') IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE
        'SELECT p.name FROM scaler.policy p WHERE p.channel OPERATOR(pg_catalog.<>) $1'
        USING listen_foreign_policies.channel;
END
$$;
COMMENT ON FUNCTION scaler.listen_foreign_policies(text) IS
    'used by scaler-listen: the policies that notify on a channel other than the given one, whose decisions its listeners skip';
REVOKE ALL ON FUNCTION scaler.listen_foreign_policies(text) FROM PUBLIC;

-- The decisions after an id, as the listener hands them to its command.  Runs
-- with the caller's privileges: reading decisions needs SELECT on
-- scaler.decision.  With a channel, for_channel says whether a decision is
-- meant for it; the others are returned too, so that the listener's position
-- moves past them instead of reading them again on every wake-up.
CREATE FUNCTION scaler.listen_decisions(after_id bigint, max_rows integer DEFAULT 1000,
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
COMMENT ON FUNCTION scaler.listen_decisions(bigint, integer, text) IS
    'the decisions after an id in id order, each with the JSON document scaler-listen hands to its command, and whether it is meant for the channel (its policy notifies there, or no longer exists)';

-- What an operator asks: how far is each listener, and what did it do.
CREATE VIEW scaler.subscriptions AS
SELECT s.name, s.channel, s.low_id AS acked_through,
       (SELECT count(*) FROM scaler.subscription_ack a
        WHERE a.subscription = s.name AND a.outcome = 'done') AS done,
       (SELECT count(*) FROM scaler.subscription_ack a
        WHERE a.subscription = s.name AND a.outcome = 'superseded') AS superseded,
       s.created_at, s.seen_at
FROM scaler.subscription s;
COMMENT ON VIEW scaler.subscriptions IS
    'each scaler-listen subscription: the id through which every decision is settled, and how many decisions it ran (done) or skipped for a newer one (superseded)';
