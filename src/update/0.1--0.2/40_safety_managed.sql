
-- Issue 8.12: a policy the caller may not manage is reported exactly like
-- one that does not exist (backtest, forecast, floors and schedules all
-- start with this check).

CREATE OR REPLACE FUNCTION scaler._managed_policy(invoker oid, policy text, action text)
RETURNS scaler.policy
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p scaler.policy;
BEGIN
    SELECT * INTO p FROM scaler.policy q WHERE q.name = _managed_policy.policy;
    IF NOT FOUND OR NOT scaler._may_manage(invoker, p.owner) THEN
        IF EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.oid = invoker AND r.rolsuper) THEN
            RAISE EXCEPTION 'policy "%" does not exist', _managed_policy.policy
                USING ERRCODE = '42704';
        END IF;
        RAISE EXCEPTION 'policy "%" does not exist', _managed_policy.policy
            USING ERRCODE = '42704',
                  HINT = format('Only a superuser or a role that can act as the policy''s owner may %s it.', action);
    END IF;
    RETURN p;
END
$$;
