-- Rollups kept by pg_dump, readers kept off a rollup whose capture
-- triggers are missing, and one value a day for readers of all functions
-- (issue 9).  Sources and owners are stored by name (regclass, regrole) so
-- that a restore maps them to the new objects, and the rollup tables are
-- the extension's configuration (pg_dump dumps their rows); a refresh puts
-- missing or disabled capture triggers back (_rollup_ensure_triggers) and
-- rebuilds what they may have missed, and reads its source with
-- row_security off, so that it fails rather than rolls up a subset of the
-- rows.  scaler.rollup_day keeps the merge of each day's slots.  Same
-- objects as src/sql/60_rollup.sql.

-- the view reads the columns whose types change
DROP VIEW scaler.rollups;
ALTER TABLE scaler.rollup ALTER COLUMN source TYPE regclass, ALTER COLUMN owner TYPE regrole;
ALTER TABLE scaler.rollup_slot ALTER COLUMN source TYPE regclass;
ALTER TABLE scaler.rollup_invalid ALTER COLUMN source TYPE regclass;
COMMENT ON COLUMN scaler.rollup.source IS 'the source table';
COMMENT ON COLUMN scaler.rollup_slot.source IS 'the source table';
COMMENT ON COLUMN scaler.rollup_invalid.source IS 'the source table';

-- The merge of a day's slots, every function's: what a reader of all
-- functions reads, one value a day instead of one per function.
CREATE TABLE scaler.rollup_day (
    source  regclass NOT NULL,
    day     date NOT NULL,
    traffic scaler.traffic NOT NULL,
    PRIMARY KEY (source, day)
);
COMMENT ON TABLE scaler.rollup_day IS
    'rolled-up traffic of every function: traffic_merge of a source''s slots of one UTC day (rollup_slot), kept with them';
COMMENT ON COLUMN scaler.rollup_day.source IS 'the source table';
COMMENT ON COLUMN scaler.rollup_day.day IS 'the rows'' UTC day';
COMMENT ON COLUMN scaler.rollup_day.traffic IS 'traffic_agg of the day''s rows below the watermark, of every function';
REVOKE ALL ON scaler.rollup_day FROM PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('scaler.rollup', '');
SELECT pg_catalog.pg_extension_config_dump('scaler.rollup_slot', '');
SELECT pg_catalog.pg_extension_config_dump('scaler.rollup_day', '');
SELECT pg_catalog.pg_extension_config_dump('scaler.rollup_invalid', '');

-- The capture triggers of a rollup's source, as _rollup_capture needs them
-- (and as src/rollup.c's readers check them): true when they were missing
-- or disabled and are created anew, false when they were all there.
CREATE FUNCTION scaler._rollup_ensure_triggers(source regclass)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t text;
BEGIN
    IF (SELECT pg_catalog.count(*) FROM pg_catalog.pg_trigger g
         WHERE g.tgrelid = source
           AND g.tgfoid = 'scaler._rollup_capture()'::pg_catalog.regprocedure
           AND g.tgenabled IN ('O', 'A')
           AND (g.tgname::text, g.tgtype::integer, g.tgoldtable IS NOT NULL, g.tgnewtable IS NOT NULL) IN
               (('scaler_rollup_insert', 4, false, true), ('scaler_rollup_update', 16, true, true),
                ('scaler_rollup_delete', 8, true, false), ('scaler_rollup_truncate', 32, false, false))) = 4 THEN
        RETURN false;
    END IF;
    FOREACH t IN ARRAY ARRAY['insert', 'update', 'delete', 'truncate'] LOOP
        EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS %I ON %s', 'scaler_rollup_' || t, source);
    END LOOP;
    EXECUTE pg_catalog.format(
        'CREATE TRIGGER scaler_rollup_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows'
        ' FOR EACH STATEMENT EXECUTE FUNCTION scaler._rollup_capture()', source);
    EXECUTE pg_catalog.format(
        'CREATE TRIGGER scaler_rollup_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows'
        ' FOR EACH STATEMENT EXECUTE FUNCTION scaler._rollup_capture()', source);
    EXECUTE pg_catalog.format(
        'CREATE TRIGGER scaler_rollup_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS old_rows'
        ' FOR EACH STATEMENT EXECUTE FUNCTION scaler._rollup_capture()', source);
    EXECUTE pg_catalog.format(
        'CREATE TRIGGER scaler_rollup_truncate AFTER TRUNCATE ON %s'
        ' FOR EACH STATEMENT EXECUTE FUNCTION scaler._rollup_capture()', source);
    RETURN true;
END
$$;
COMMENT ON FUNCTION scaler._rollup_ensure_triggers(regclass) IS
    'internal: create a rollup source''s capture triggers unless all four are there and enabled; true when it created them';

CREATE OR REPLACE FUNCTION scaler._create_rollup(invoker oid, source regclass)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rel   pg_catalog.pg_class;
    col   text;
    typ   regtype;
    coll  oid;
BEGIN
    IF source IS NULL THEN
        RAISE EXCEPTION 'source must not be null' USING ERRCODE = '22004';
    END IF;
    SELECT * INTO rel FROM pg_catalog.pg_class c WHERE c.oid = source;
    IF rel.relkind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION 'cannot create a rollup of "%"', source
            USING ERRCODE = '42809',
                  DETAIL = 'A rollup needs a table or a partitioned table, whose changes its triggers can see.';
    END IF;
    IF NOT pg_catalog.pg_has_role(invoker, rel.relowner, 'USAGE')
       AND NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE oid = invoker AND rolsuper) THEN
        RAISE EXCEPTION 'must be owner of table %', source USING ERRCODE = '42501';
    END IF;
    IF rel.relrowsecurity THEN
        RAISE EXCEPTION 'cannot create a rollup of "%": it has row-level security enabled', source
            USING ERRCODE = '0A000',
                  DETAIL = 'A rollup sums every row, so reading it would bypass the row policies.';
    END IF;
    IF EXISTS (SELECT FROM pg_catalog.pg_inherits i WHERE i.inhparent = source)
       AND rel.relkind = 'r' THEN
        RAISE EXCEPTION 'cannot create a rollup of "%": it has inheritance children', source
            USING ERRCODE = '0A000',
                  DETAIL = 'The triggers of a parent do not see changes made to its children.';
    END IF;
    FOREACH col IN ARRAY ARRAY['ts', 'function_name', 'duration_ms', 'status'] LOOP
        SELECT a.atttypid, a.attcollation INTO typ, coll FROM pg_catalog.pg_attribute a
         WHERE a.attrelid = source AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
        IF typ IS NULL THEN
            RAISE EXCEPTION 'source "%" has no column "%"', source, col
                USING ERRCODE = '42703';
        END IF;
        IF (col = 'ts' AND typ <> 'timestamptz'::regtype)
           OR (col = 'function_name' AND typ NOT IN ('text'::regtype, 'varchar'::regtype))
           OR (col = 'duration_ms' AND typ NOT IN ('float8'::regtype, 'float4'::regtype, 'numeric'::regtype,
                                                   'int8'::regtype, 'int4'::regtype, 'int2'::regtype))
           OR (col = 'status' AND typ NOT IN ('int4'::regtype, 'int2'::regtype, 'int8'::regtype)) THEN
            RAISE EXCEPTION 'column "%" of source "%" has type %, which a rollup cannot use', col, source, typ
                USING ERRCODE = '42804',
                      HINT = 'A rollup needs ts timestamptz and function_name text or varchar.';
        END IF;
        IF col = 'function_name' AND coll <> 0 AND NOT (SELECT collisdeterministic FROM pg_catalog.pg_collation WHERE oid = coll) THEN
            RAISE EXCEPTION 'column "function_name" of source "%" has a nondeterministic collation', source
                USING ERRCODE = '0A000',
                      DETAIL = 'Slots are kept per exact function name.';
        END IF;
    END LOOP;
    IF EXISTS (SELECT FROM scaler.rollup r WHERE r.source = _create_rollup.source) THEN
        RAISE EXCEPTION 'source "%" already has a rollup', source USING ERRCODE = '42710';
    END IF;
    INSERT INTO scaler.rollup (source, owner) VALUES (source, invoker);
    PERFORM scaler._rollup_ensure_triggers(source);
END
$$;

CREATE OR REPLACE FUNCTION scaler._drop_rollup(invoker oid, source regclass)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r scaler.rollup;
    t text;
BEGIN
    SELECT * INTO r FROM scaler.rollup x WHERE x.source = _drop_rollup.source FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'source "%" has no rollup', source USING ERRCODE = '42704';
    END IF;
    IF NOT scaler._may_manage(invoker, r.owner)
       AND NOT pg_catalog.pg_has_role(invoker, (SELECT relowner FROM pg_catalog.pg_class WHERE oid = source), 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of rollup of %', source USING ERRCODE = '42501';
    END IF;
    FOREACH t IN ARRAY ARRAY['insert', 'update', 'delete', 'truncate'] LOOP
        EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS %I ON %s', 'scaler_rollup_' || t, source);
    END LOOP;
    DELETE FROM scaler.rollup_slot s WHERE s.source = r.source;
    DELETE FROM scaler.rollup_day d WHERE d.source = r.source;
    DELETE FROM scaler.rollup_invalid i WHERE i.source = r.source;
    DELETE FROM scaler.rollup x WHERE x.source = r.source;
END
$$;

CREATE OR REPLACE FUNCTION scaler._refresh_rollup_step(source oid)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET row_security = off
SET jit = off
AS $$
DECLARE
    r          scaler.rollup;
    src        text;
    target     timestamptz := pg_catalog.now() - interval '1 minute';
    retention  interval := pg_catalog.current_setting('scaler.rollup_retention')::interval;
    cutoff     date;
    inv        record;
    t          scaler.traffic;
    from_ts    timestamptz;
    to_ts      timestamptz;
    first_ts   timestamptz;
    day        date;
    touched    date[] := '{}';
    recomputed date;
    n          integer := 0;
    k          integer;
BEGIN
    IF pg_catalog.current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'refresh_rollup must run at isolation level READ COMMITTED'
            USING ERRCODE = '25001',
                  DETAIL = 'It reads the rows committed after it waits for the source''s writers.';
    END IF;
    -- A refresh at a time per rollup: the other one skips it.
    SELECT * INTO r FROM scaler.rollup x WHERE x.source = _refresh_rollup_step.source
       FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    src := pg_catalog.format('%s', r.source::regclass);
    IF src IS NULL OR src ~ '^[0-9]+$' THEN
        RAISE EXCEPTION 'source of rollup % no longer exists', r.source USING ERRCODE = '42P01';
    END IF;
    -- Triggers missing (a restored scaler.request_log) or disabled: rows
    -- may have changed unseen, so the slots that raw rows remain of are
    -- built again; older ones (their rows dropped by retention) are kept.
    -- Before the lock: creating triggers waits for the source's writers.
    IF scaler._rollup_ensure_triggers(r.source) AND r.watermark IS NOT NULL THEN
        EXECUTE pg_catalog.format('SELECT min(ts) FROM %s', src) INTO first_ts;
        IF first_ts IS NOT NULL AND first_ts < r.watermark THEN
            r.watermark := scaler._rollup_day_start(pg_catalog.timezone('UTC', first_ts)::date);
            DELETE FROM scaler.rollup_slot s WHERE s.source = r.source
               AND s.day >= pg_catalog.timezone('UTC', r.watermark)::date;
            DELETE FROM scaler.rollup_day d WHERE d.source = r.source
               AND d.day >= pg_catalog.timezone('UTC', r.watermark)::date;
            DELETE FROM scaler.rollup_invalid i WHERE i.source = r.source
               AND i.day >= pg_catalog.timezone('UTC', r.watermark)::date;
        END IF;
    END IF;
    -- Every statement from here on sees the rows of the writers this waits
    -- for; a writer that comes later sees the new watermark (src/rollup.c).
    PERFORM scaler._rollup_lock(r.source);

    IF retention > interval '0' THEN
        cutoff := pg_catalog.timezone('UTC', pg_catalog.now() - retention)::date;
        IF r.covered_from IS NULL OR r.covered_from < scaler._rollup_day_start(cutoff) THEN
            DELETE FROM scaler.rollup_slot s WHERE s.source = r.source AND s.day < cutoff;
            DELETE FROM scaler.rollup_day d WHERE d.source = r.source AND d.day < cutoff;
            r.covered_from := scaler._rollup_day_start(cutoff);
        END IF;
    END IF;
    IF r.covered_from IS NOT NULL THEN
        DELETE FROM scaler.rollup_invalid i WHERE i.source = r.source
           AND i.day < pg_catalog.timezone('UTC', r.covered_from)::date;
    END IF;

    FOR inv IN
        DELETE FROM scaler.rollup_invalid i
         WHERE i.ctid = ANY (ARRAY(SELECT j.ctid FROM scaler.rollup_invalid j
                                    WHERE j.source = r.source ORDER BY j.day LIMIT 64))
        RETURNING i.function_name, i.day
    LOOP
        DELETE FROM scaler.rollup_slot s WHERE s.source = r.source
           AND s.function_name IS NOT DISTINCT FROM inv.function_name AND s.day = inv.day;
        from_ts := scaler._rollup_day_start(inv.day);
        to_ts := LEAST(scaler._rollup_day_start(inv.day + 1), r.watermark);
        IF inv.function_name IS NULL THEN
            EXECUTE pg_catalog.format(
                'SELECT scaler.traffic_agg(ts, duration_ms::pg_catalog.float8, status::pg_catalog.int4) FROM %s'
                ' WHERE function_name IS NULL AND ts >= $1 AND ts < $2', src)
               INTO t USING from_ts, to_ts;
        ELSE
            EXECUTE pg_catalog.format(
                'SELECT scaler.traffic_agg(ts, duration_ms::pg_catalog.float8, status::pg_catalog.int4) FROM %s'
                ' WHERE function_name::pg_catalog.text = $3 AND ts >= $1 AND ts < $2', src)
               INTO t USING from_ts, to_ts, inv.function_name;
        END IF;
        IF t IS NOT NULL THEN
            INSERT INTO scaler.rollup_slot (source, function_name, day, traffic)
            VALUES (r.source, inv.function_name, inv.day, t);
        END IF;
        touched := touched || inv.day;
        n := n + 1;
    END LOOP;

    from_ts := r.watermark;
    IF from_ts IS NULL THEN
        EXECUTE pg_catalog.format('SELECT min(ts) FROM %s WHERE ts < $1', src) INTO first_ts USING target;
        from_ts := COALESCE(scaler._rollup_day_start(pg_catalog.timezone('UTC', first_ts)::date), target);
        r.watermark := from_ts;
    END IF;
    WHILE from_ts < target LOOP
        day := pg_catalog.timezone('UTC', from_ts)::date;
        to_ts := LEAST(scaler._rollup_day_start(day + 1), target);
        -- each function's slot of the day, and the day's value of all of
        -- them, take the new rows
        EXECUTE pg_catalog.format(
            'WITH g AS (SELECT function_name::pg_catalog.text AS f,'
            '                  scaler.traffic_agg(ts, duration_ms::pg_catalog.float8, status::pg_catalog.int4) AS t'
            '             FROM %s WHERE ts >= $1 AND ts < $2 GROUP BY function_name::pg_catalog.text),'
            ' s AS (INSERT INTO scaler.rollup_slot AS s (source, function_name, day, traffic)'
            '       SELECT $3, g.f, $4, g.t FROM g'
            '       ON CONFLICT (source, function_name, day) DO UPDATE SET traffic ='
            '         (SELECT scaler.traffic_merge(v.t) FROM (VALUES (s.traffic), (excluded.traffic)) v(t))'
            '       RETURNING 1),'
            ' d AS (INSERT INTO scaler.rollup_day AS d (source, day, traffic)'
            '       SELECT $3, $4, scaler.traffic_merge(g.t) FROM g HAVING pg_catalog.count(*) > 0'
            '       ON CONFLICT (source, day) DO UPDATE SET traffic ='
            '         (SELECT scaler.traffic_merge(v.t) FROM (VALUES (d.traffic), (excluded.traffic)) v(t)))'
            ' SELECT pg_catalog.count(*) FROM s', src)
           INTO k USING from_ts, to_ts, r.source, day;
        n := n + k;
        from_ts := to_ts;
        EXIT WHEN k > 0 OR from_ts >= target;
        -- a day without rows: on to the next one that has some
        EXECUTE pg_catalog.format('SELECT min(ts) FROM %s WHERE ts >= $1 AND ts < $2', src)
           INTO first_ts USING from_ts, target;
        from_ts := COALESCE(GREATEST(from_ts, scaler._rollup_day_start(pg_catalog.timezone('UTC', first_ts)::date)),
                            target);
    END LOOP;

    -- the days whose slots were recomputed: their value of all functions again
    FOREACH recomputed IN ARRAY ARRAY(SELECT DISTINCT u FROM pg_catalog.unnest(touched) u) LOOP
        DELETE FROM scaler.rollup_day d WHERE d.source = r.source AND d.day = recomputed;
        INSERT INTO scaler.rollup_day (source, day, traffic)
        SELECT r.source, s.day, scaler.traffic_merge(s.traffic) FROM scaler.rollup_slot s
         WHERE s.source = r.source AND s.day = recomputed
         GROUP BY s.day;
    END LOOP;

    UPDATE scaler.rollup x SET watermark = from_ts, covered_from = r.covered_from,
           last_refresh = pg_catalog.clock_timestamp(), last_error = NULL, last_error_at = NULL
     WHERE x.source = r.source;
    RETURN n;
END
$$;

CREATE VIEW scaler.rollups WITH (security_barrier) AS
    SELECT r.source::pg_catalog.regclass AS source, r.owner::pg_catalog.regrole AS owner,
           r.watermark, r.covered_from,
           (SELECT pg_catalog.count(*) FROM scaler.rollup_slot s WHERE s.source = r.source) AS slots,
           (SELECT pg_catalog.count(*) FROM scaler.rollup_invalid i WHERE i.source = r.source) AS invalid_slots,
           r.last_refresh, pg_catalog.now() OPERATOR(pg_catalog.-) r.watermark AS lag,
           r.last_error, r.last_error_at
      FROM scaler.rollup r
     WHERE pg_catalog.pg_has_role(CURRENT_USER, r.owner, 'USAGE')
        OR pg_catalog.has_table_privilege(r.source, 'SELECT');
COMMENT ON VIEW scaler.rollups IS
    'rollups the caller manages or whose source it may read: watermark, slots, invalidated slots, last refresh, lag (now - watermark) and last error';
GRANT SELECT ON scaler.rollups TO PUBLIC;

REVOKE ALL ON FUNCTION scaler._rollup_ensure_triggers(regclass) FROM PUBLIC;
