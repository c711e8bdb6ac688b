
-- ===========================================================================
-- Tables, their indexes and triggers, and what pg_dump keeps of them, but
-- for scaler.request_log (src/sql/22_request_log.sql) and the rollup tables
-- (src/sql/25_rollup_tables.sql), new in 0.2 and shared with the update.  (A
-- fresh install only: src/update/0.1--0.2/20_migrate_tables.sql turns the
-- tables of a 0.1 database into these.)  Their CHECK constraints and
-- triggers call the functions of src/sql/15_table_functions.sql; the views
-- over them are in src/sql/50_views.sql, the privileges on them in
-- src/sql/90_privileges.sql.
-- ===========================================================================

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
-- Retention deletes by age every evaluation; keep that an index range scan.
CREATE INDEX decision_decided_at_idx ON scaler.decision (decided_at);
COMMENT ON TABLE scaler.decision IS
    'every scaling decision; read in id order up to scaler._decision_horizon(), below which no id can still appear; listeners catch up from here after the last id they saw';
COMMENT ON COLUMN scaler.decision.xid_bound IS
    'the next transaction id when this decision took its id: every transaction that took a smaller id has an xid below it (see scaler._decision_horizon)';
SELECT pg_catalog.pg_extension_config_dump('scaler.decision', '');

-- and the id sequence, so restored logs go on with fresh ids
SELECT pg_catalog.pg_extension_config_dump('scaler.decision_id_seq', '');

-- Policies: configuration only.  Runtime state is in scaler.policy_state.
CREATE TABLE scaler.policy (
    name                   text PRIMARY KEY,
    owner                  regrole NOT NULL,
    metric                 text NOT NULL,
    target                 float8 NOT NULL,
    function_name          text,
    source                 regclass NOT NULL,
    stable_window          interval NOT NULL,
    min_capacity           integer NOT NULL,
    max_capacity           integer NOT NULL,
    tolerance              float8 NOT NULL,
    scale_in_stabilization interval NOT NULL,
    panic_threshold        float8 NOT NULL,
    channel                text NOT NULL,
    enabled                boolean NOT NULL DEFAULT true,
    created_at             timestamptz NOT NULL DEFAULT pg_catalog.now(),
    keep_alive             interval,
    keep_alive_auto        boolean NOT NULL DEFAULT false,
    CONSTRAINT policy_settings_check
        CHECK (scaler._check_settings(name, metric, target, stable_window, min_capacity,
                                      max_capacity, tolerance, scale_in_stabilization,
                                      panic_threshold, channel, false)),
    CONSTRAINT policy_keep_alive_check
        CHECK (keep_alive IS NULL OR (keep_alive > '0' AND NOT keep_alive_auto))
);
COMMENT ON TABLE scaler.policy IS
    'scaling policies (change them with scaler.create_policy, alter_policy, drop_policy; read scaler.policies)';
COMMENT ON COLUMN scaler.policy.keep_alive IS
    'after the load stops, keep one instance at least this long before scaling to zero (NULL: no keep-alive)';
COMMENT ON COLUMN scaler.policy.keep_alive_auto IS
    'keep-alive learned from the function''s idle times (keep_alive => ''auto''): pre-warm before the next request is due';
SELECT pg_catalog.pg_extension_config_dump('scaler.policy', '');

CREATE TABLE scaler.policy_state (
    policy            text PRIMARY KEY
                      REFERENCES scaler.policy (name) ON DELETE CASCADE ON UPDATE CASCADE,
    capacity          integer NOT NULL CHECK (capacity >= 0),
    capacity_set_at   timestamptz,
    last_value        float8,
    last_evaluated_at timestamptz,
    last_decision_id  bigint,
    last_error        text,
    last_error_at     timestamptz,
    panic_at          timestamptz,
    panic_capacity    integer,
    history_at        timestamptz[] NOT NULL DEFAULT '{}',
    history_desired   integer[] NOT NULL DEFAULT '{}',
    last_active_at    timestamptz,
    idle_histogram    integer[],
    last_step_at      timestamptz
);
COMMENT ON TABLE scaler.policy_state IS
    'per-policy runtime state: capacity, last value and error, panic mode and the scale-in stabilization history; evaluation locks a policy''s row';
COMMENT ON COLUMN scaler.policy_state.history_at IS 'scale-in stabilization history: times, a monotonic queue with history_desired';
COMMENT ON COLUMN scaler.policy_state.history_desired IS 'scale-in stabilization history: desired capacities, strictly decreasing';
COMMENT ON COLUMN scaler.policy_state.panic_at IS 'last time the panic condition held; NULL when not panicking';
COMMENT ON COLUMN scaler.policy_state.panic_capacity IS 'highest capacity chosen during the current panic';
COMMENT ON COLUMN scaler.policy_state.last_active_at IS 'keep-alive: end of the last evaluated window that had requests';
COMMENT ON COLUMN scaler.policy_state.idle_histogram IS 'keep_alive => ''auto'': idle times between requests, one-minute bins over 4 hours, then the count beyond; NULL until learned';
COMMENT ON COLUMN scaler.policy_state.last_step_at IS 'keep-alive: end of the last step with requests that recorded an idle time (steps are a stable_window apart; evaluations between them are none)';

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

-- Scheduled capacity and forecast refresh, with pg_cron as the clock: the
-- pg_cron jobs scaler made, so they go with their policy.
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

CREATE TRIGGER capacity_schedule_unschedule
    AFTER DELETE ON scaler.capacity_schedule
    FOR EACH ROW EXECUTE FUNCTION scaler._capacity_schedule_deleted();
COMMENT ON TRIGGER capacity_schedule_unschedule ON scaler.capacity_schedule IS
    'a schedule row that goes (also with its policy) takes its pg_cron job with it';

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
