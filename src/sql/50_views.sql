
-- ===========================================================================
-- Views, after the functions they call.  Shared by the install and the
-- update script: CREATE OR REPLACE VIEW keeps a view's columns and may only
-- add new ones at the end (a view whose columns change otherwise is dropped
-- by the update's migration first).
-- ===========================================================================

-- Policies with their state.
CREATE OR REPLACE VIEW scaler.policies AS
SELECT p.name, p.owner, p.metric, p.target, p.function_name, p.source,
       p.stable_window, p.min_capacity, p.max_capacity, p.tolerance,
       p.scale_in_stabilization, p.panic_threshold, p.channel, p.enabled,
       s.capacity, s.capacity_set_at, s.last_value, s.last_evaluated_at,
       s.last_decision_id, s.panic_at IS NOT NULL AS panicking,
       s.last_error, s.last_error_at,
       (s.last_error_at IS NOT NULL
        AND (s.last_evaluated_at IS NULL OR s.last_error_at > s.last_evaluated_at)) AS failing,
       p.created_at,
       CASE WHEN p.keep_alive_auto THEN 'auto' ELSE p.keep_alive::text END AS keep_alive
  FROM scaler.policy p
  LEFT JOIN scaler.policy_state s ON s.policy = p.name;
COMMENT ON VIEW scaler.policies IS
    'each policy with its capacity now, last value and last error: SELECT capacity FROM scaler.policies WHERE name = ''api'' is the one number an autoscaler (KEDA) needs';
COMMENT ON COLUMN scaler.policies.capacity IS 'capacity running now: the last decision, or what scaler.set_capacity recorded';
COMMENT ON COLUMN scaler.policies.capacity_set_at IS 'when scaler.set_capacity last recorded the capacity';
COMMENT ON COLUMN scaler.policies.last_value IS 'the metric over the stable window at the last successful evaluation (NULL: no data)';
COMMENT ON COLUMN scaler.policies.last_evaluated_at IS 'the last successful evaluation';
COMMENT ON COLUMN scaler.policies.last_decision_id IS 'scaler.decision.id of the policy''s last decision';
COMMENT ON COLUMN scaler.policies.panicking IS 'whether the policy is in panic mode (no scale in)';
COMMENT ON COLUMN scaler.policies.last_error IS 'the error of the last failed evaluation';
COMMENT ON COLUMN scaler.policies.failing IS 'whether the last evaluation failed';
COMMENT ON COLUMN scaler.policies.keep_alive IS 'how long one instance stays warm after the load stops: an interval, auto (learned from idle times), or NULL (no keep-alive)';

-- What an operator asks: how far is each listener, what did it do, whose is
-- it, and which session holds it now.
CREATE OR REPLACE VIEW scaler.subscriptions AS
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

-- A role sees the rollups it manages and those of the sources whose ts and
-- function_name it may read,
-- and only of sources that still are the tables they were made for
-- (scaler._rollup_current).  The figures that tell how much traffic a
-- source has and how recent it is (watermark, covered_from, slots,
-- invalid_slots, lag) are shown only to a role that may read the source's
-- ts and function_name (scaler._rollup_readable) and is not subject to
-- row-level security on it (the rollup sums every row, also those its
-- policies would hide); to others they are NULL.
CREATE OR REPLACE VIEW scaler.rollups WITH (security_barrier) AS
    SELECT r.source::pg_catalog.regclass AS source, r.owner::pg_catalog.regrole AS owner,
           CASE WHEN v.shown THEN r.watermark END AS watermark,
           CASE WHEN v.shown THEN r.covered_from END AS covered_from,
           CASE WHEN v.shown THEN
               (SELECT pg_catalog.count(*) FROM scaler.rollup_slot s WHERE s.source = r.source) END AS slots,
           CASE WHEN v.shown THEN
               (SELECT pg_catalog.count(*) FROM scaler.rollup_invalid i WHERE i.source = r.source) END AS invalid_slots,
           r.last_refresh,
           CASE WHEN v.shown THEN pg_catalog.now() OPERATOR(pg_catalog.-) r.watermark END AS lag,
           r.last_error, r.last_error_at
      FROM scaler.rollup r,
           LATERAL (SELECT q.readable, q.readable AND NOT pg_catalog.row_security_active(r.source) AS shown
                      FROM (SELECT scaler._rollup_readable(r.source) AS readable) q) v
     WHERE scaler._rollup_current(r.source, r.id)
       AND (pg_catalog.pg_has_role(CURRENT_USER, r.owner, 'USAGE')
            OR v.readable);
COMMENT ON VIEW scaler.rollups IS
    'rollups the caller manages or whose source it may read: watermark, slots, invalidated slots, last refresh, lag (now - watermark) and last error; the figures of traffic are NULL unless the caller may read the source''s ts and function_name and is not subject to its row-level security';
