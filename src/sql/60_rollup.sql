
-- Rollups: one scaler.traffic value per (function_name, UTC day) of a
-- source, kept up to date by the worker (or pg_cron) and read by
-- hourly_requests and forecast in place of the raw rows they cover.
--
-- A value keeps UTC quarter hours and no time zone, its sums are exact
-- integers, and traffic_merge of the values of disjoint row sets is
-- traffic_agg of all the rows, bit for bit.  So a reader that merges the
-- slots covering part of a range with traffic_agg of the rest gets the very
-- value the raw rows give, and every zone's hours (unions of quarters, also
-- in :30 and :45 zones and on DST days) come out exactly the same.
--
-- Rows with ts below a rollup's watermark are in its slots, except for the
-- slots listed in scaler.rollup_invalid: statement-level triggers on the
-- source (src/rollup.c) record there the (function_name, day) of every row
-- inserted, updated or deleted below the watermark, and a refresh
-- recomputes just those slots.  See src/rollup.c for the locking that keeps
-- concurrent ingest and refresh from losing or double counting a row.

CREATE TABLE scaler.rollup (
    source       regclass PRIMARY KEY,
    owner        regrole NOT NULL,
    watermark    timestamptz,
    covered_from timestamptz,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    last_refresh timestamptz,
    last_error   text,
    last_error_at timestamptz
);
COMMENT ON TABLE scaler.rollup IS
    'one row per rollup: its source, the watermark below which rows are rolled up, and how its last refresh went; a refresh locks the row';
COMMENT ON COLUMN scaler.rollup.source IS 'the source table';
COMMENT ON COLUMN scaler.rollup.owner IS 'the role that created the rollup';
COMMENT ON COLUMN scaler.rollup.watermark IS 'rows with ts below it are in the slots (except invalidated ones); NULL before the first refresh';
COMMENT ON COLUMN scaler.rollup.covered_from IS 'slots before this UTC day were dropped by scaler.rollup_retention; NULL = none dropped';
COMMENT ON COLUMN scaler.rollup.created_at IS 'when the rollup was created';
COMMENT ON COLUMN scaler.rollup.last_refresh IS 'the end of the last successful refresh';
COMMENT ON COLUMN scaler.rollup.last_error IS 'the error of the last failed refresh by the worker; NULL after a success';
COMMENT ON COLUMN scaler.rollup.last_error_at IS 'when the last refresh failed';

CREATE TABLE scaler.rollup_slot (
    source        regclass NOT NULL,
    function_name text,
    day           date NOT NULL,
    traffic       scaler.traffic NOT NULL,
    UNIQUE NULLS NOT DISTINCT (source, function_name, day)
);
CREATE INDEX rollup_slot_day_idx ON scaler.rollup_slot (source, day);
COMMENT ON TABLE scaler.rollup_slot IS
    'rolled-up traffic: traffic_agg(ts, duration_ms, status) of a source''s rows of one function (NULL: rows without one) and UTC day, below the rollup''s watermark';
COMMENT ON COLUMN scaler.rollup_slot.source IS 'the source table';
COMMENT ON COLUMN scaler.rollup_slot.function_name IS 'the rows'' function_name';
COMMENT ON COLUMN scaler.rollup_slot.day IS 'the rows'' UTC day';
COMMENT ON COLUMN scaler.rollup_slot.traffic IS 'traffic_agg of the rows';

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

CREATE TABLE scaler.rollup_invalid (
    source        regclass NOT NULL,
    function_name text,
    day           date NOT NULL,
    UNIQUE NULLS NOT DISTINCT (source, function_name, day)
);
COMMENT ON TABLE scaler.rollup_invalid IS
    'slots whose rows changed below the watermark (late inserts, updates, deletes): readers read them raw until a refresh recomputes them';
COMMENT ON COLUMN scaler.rollup_invalid.source IS 'the source table';
COMMENT ON COLUMN scaler.rollup_invalid.function_name IS 'the changed rows'' function_name';
COMMENT ON COLUMN scaler.rollup_invalid.day IS 'the changed rows'' UTC day';

-- The rollup tables hold other roles' traffic: nobody reads them but
-- scaler's own functions (the readers check the caller's rights on the
-- source first, src/rollup.c).
REVOKE ALL ON scaler.rollup, scaler.rollup_slot, scaler.rollup_day, scaler.rollup_invalid FROM PUBLIC;

-- pg_dump keeps the rollups: the three tables are dumped from one snapshot
-- with the sources' rows, so slots, invalidated slots and watermark agree
-- with the rows restored beside them (sources and owners are kept by name,
-- regclass and regrole).  The triggers of a user's source are dumped with
-- it, after the rows are loaded; those of scaler.request_log, a table of
-- the extension, are not: until a refresh puts them back (and rebuilds the
-- slots that raw rows remain of, _rollup_ensure_triggers) readers leave
-- such a rollup alone and read raw (src/rollup.c).
SELECT pg_catalog.pg_extension_config_dump('scaler.rollup', '');
SELECT pg_catalog.pg_extension_config_dump('scaler.rollup_slot', '');
SELECT pg_catalog.pg_extension_config_dump('scaler.rollup_day', '');
SELECT pg_catalog.pg_extension_config_dump('scaler.rollup_invalid', '');

CREATE FUNCTION scaler._rollup_capture()
RETURNS trigger
AS 'MODULE_PATHNAME', 'scaler_rollup_capture'
LANGUAGE C;
COMMENT ON FUNCTION scaler._rollup_capture() IS
    'internal: statement trigger of a rollup''s source: records the slots of rows changed below the watermark';

CREATE FUNCTION scaler._rollup_lock(source oid)
RETURNS void
AS 'MODULE_PATHNAME', 'scaler_rollup_lock'
LANGUAGE C STRICT;
COMMENT ON FUNCTION scaler._rollup_lock(oid) IS
    'internal: waits for the source''s writers that passed the capture trigger, and holds off new ones, until the transaction ends';

CREATE FUNCTION scaler._rollup_day_start(day date)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN pg_catalog.timezone('UTC', day::pg_catalog.timestamp);
COMMENT ON FUNCTION scaler._rollup_day_start(date) IS
    'internal: the first instant of a UTC day';

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

CREATE FUNCTION scaler._create_rollup(invoker oid, source regclass)
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
COMMENT ON FUNCTION scaler._create_rollup(oid, regclass) IS
    'internal: create_rollup for the role invoker';

CREATE FUNCTION scaler.create_rollup(source regclass DEFAULT 'scaler.request_log')
RETURNS void
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.create_rollup(regclass) IS
    'roll a source up per function and UTC day (the caller must own it; it must have no row-level security); the worker or refresh_rollup fills it in';

CREATE FUNCTION scaler._drop_rollup(invoker oid, source regclass)
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
COMMENT ON FUNCTION scaler._drop_rollup(oid, regclass) IS
    'internal: drop_rollup for the role invoker';

CREATE FUNCTION scaler.drop_rollup(source regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.drop_rollup(regclass) IS
    'drop a source''s rollup: its triggers and slots (readers go back to the raw rows)';

-- One bounded step of one rollup: at most 64 invalidated slots recomputed,
-- and the rows past the watermark appended for at most one UTC day that
-- has rows (days without rows are skipped).  Returns the number
-- of slots written; 0 means the rollup is up to date.  It reads every row
-- (row_security off: an error, not a partial rollup, should the definer
-- be subject to the source's policies), and without JIT: compiling costs
-- tens of milliseconds, more than a bounded step gains from it.
CREATE FUNCTION scaler._refresh_rollup_step(source oid)
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
COMMENT ON FUNCTION scaler._refresh_rollup_step(oid) IS
    'internal: one bounded refresh of one rollup; the number of slots written (0: up to date)';

CREATE FUNCTION scaler._refresh_rollup(invoker oid, source regclass)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r scaler.rollup;
    n integer := 0;
BEGIN
    IF source IS NOT NULL AND NOT EXISTS (SELECT FROM scaler.rollup x WHERE x.source = _refresh_rollup.source) THEN
        RAISE EXCEPTION 'source "%" has no rollup', source USING ERRCODE = '42704';
    END IF;
    FOR r IN SELECT * FROM scaler.rollup x
              WHERE (_refresh_rollup.source IS NULL OR x.source = _refresh_rollup.source)
              ORDER BY x.source LOOP
        IF scaler._may_manage(invoker, r.owner) THEN
            n := n + scaler._refresh_rollup_step(r.source);
        ELSIF source IS NOT NULL THEN
            RAISE EXCEPTION 'must be owner of rollup of %', source USING ERRCODE = '42501';
        END IF;
    END LOOP;
    RETURN n;
END
$$;
COMMENT ON FUNCTION scaler._refresh_rollup(oid, regclass) IS
    'internal: refresh_rollup for the role invoker';

CREATE FUNCTION scaler.refresh_rollup(source regclass DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'scaler_as_caller'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scaler.refresh_rollup(regclass) IS
    'one bounded refresh step of a source''s rollup (NULL: of every rollup the caller manages); returns the slots written, 0 when up to date. For pg_cron, or instead of the worker';

-- A role sees the rollups it manages and those of the sources it may read.
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

REVOKE ALL ON FUNCTION scaler._create_rollup(oid, regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._drop_rollup(oid, regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._refresh_rollup(oid, regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._refresh_rollup_step(oid) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._rollup_lock(oid) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._rollup_capture() FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._rollup_ensure_triggers(regclass) FROM PUBLIC;
-- Creating a rollup needs ownership of the source; it stays a grantable
-- right, like creating a policy.
REVOKE ALL ON FUNCTION scaler.create_rollup(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.drop_rollup(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler.refresh_rollup(regclass) FROM PUBLIC;

-- Partitions and retention of scaler.request_log, one bounded step a tick
-- (the worker calls it in a transaction of its own): create the daily
-- partitions of today and the next two UTC days; move the rows of one day
-- out of the DEFAULT partition into a daily partition of their own; drop
-- the daily partitions wholly older than scaler.log_retention that the
-- rollup of scaler.request_log covers (below its watermark, no slot of
-- theirs invalidated or dropped by scaler.rollup_retention).  Without a
-- rollup nothing is dropped.  Returns what it did, for the log and tests.
CREATE FUNCTION scaler._maintain_request_log()
RETURNS text[]
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    done       text[] := '{}';
    today      date := pg_catalog.timezone('UTC', pg_catalog.now())::date;
    retention  interval := pg_catalog.current_setting('scaler.log_retention')::interval;
    d          date;
    first_ts   timestamptz;
    part       text;
    r          scaler.rollup;
    p          record;
BEGIN
    FOR d IN SELECT g::date FROM pg_catalog.generate_series(today, today + 2, interval '1 day') g LOOP
        part := 'request_log_p' || pg_catalog.to_char(d, 'YYYYMMDD');
        IF pg_catalog.to_regclass('scaler.' || part) IS NULL THEN
            PERFORM scaler._request_log_partition(d);
            done := done || ('created ' || part);
        END IF;
    END LOOP;

    SELECT pg_catalog.min(l.ts) INTO first_ts FROM ONLY scaler.request_log_default l WHERE l.ts IS NOT NULL;
    IF first_ts IS NOT NULL THEN
        d := pg_catalog.timezone('UTC', first_ts)::date;
        part := 'request_log_p' || pg_catalog.to_char(d, 'YYYYMMDD');
        IF pg_catalog.to_regclass('scaler.' || part) IS NULL THEN
            PERFORM scaler._request_log_partition(d);
            done := done || ('moved into ' || part);
        END IF;
    END IF;

    IF retention > interval '0' THEN
        SELECT * INTO r FROM scaler.rollup x WHERE x.source = 'scaler.request_log'::regclass;
        FOR p IN
            SELECT c.relname, pg_catalog.to_date(pg_catalog.substr(c.relname, 14), 'YYYYMMDD') AS day
              FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'scaler.request_log'::regclass
               AND c.relname ~ '^request_log_p[0-9]{8}$'
             ORDER BY c.relname
        LOOP
            EXIT WHEN scaler._rollup_day_start(p.day + 1) > pg_catalog.now() - retention;
            EXIT WHEN r.watermark IS NULL OR r.watermark < scaler._rollup_day_start(p.day + 1);
            CONTINUE WHEN r.covered_from IS NOT NULL AND r.covered_from > scaler._rollup_day_start(p.day);
            CONTINUE WHEN EXISTS (SELECT FROM scaler.rollup_invalid v
                                   WHERE v.source = r.source AND v.day = p.day);
            EXECUTE pg_catalog.format('DROP TABLE scaler.%I', p.relname);
            done := done || ('dropped ' || p.relname);
        END LOOP;
    END IF;
    RETURN done;
END
$$;
COMMENT ON FUNCTION scaler._maintain_request_log() IS
    'internal: the worker''s upkeep of scaler.request_log: daily partitions ahead, rows out of the DEFAULT partition, retention of covered partitions';

-- The daily partition of day, with the DEFAULT partition's rows of that day
-- moved into it (they could not stay there once it exists).  The rows move
-- within one transaction and the source's statement triggers do not fire
-- (the statements name partitions), so a rollup sees no change.
CREATE FUNCTION scaler._request_log_partition(day date)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    part text := 'request_log_p' || pg_catalog.to_char(day, 'YYYYMMDD');
    lo   timestamptz := scaler._rollup_day_start(day);
    hi   timestamptz := scaler._rollup_day_start(day + 1);
BEGIN
    -- Writers route rows with the partitions they saw when they opened the
    -- table: wait for them, and hold new ones off until this commits (an
    -- INSERT routed to the DEFAULT partition before the new partition was
    -- attached would fail its changed constraint).
    LOCK TABLE scaler.request_log, scaler.request_log_default IN SHARE ROW EXCLUSIVE MODE;
    EXECUTE pg_catalog.format('CREATE TABLE scaler.%I (LIKE scaler.request_log INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
    EXECUTE pg_catalog.format('INSERT INTO scaler.%I SELECT * FROM ONLY scaler.request_log_default WHERE ts >= $1 AND ts < $2', part)
       USING lo, hi;
    DELETE FROM ONLY scaler.request_log_default WHERE ts >= lo AND ts < hi;
    EXECUTE pg_catalog.format('ALTER TABLE scaler.request_log ATTACH PARTITION scaler.%I FOR VALUES FROM (%L) TO (%L)',
                              part, lo, hi);
END
$$;
COMMENT ON FUNCTION scaler._request_log_partition(date) IS
    'internal: create the daily partition of scaler.request_log for a UTC day, with the rows the DEFAULT partition has of it';

REVOKE ALL ON FUNCTION scaler._maintain_request_log() FROM PUBLIC;
REVOKE ALL ON FUNCTION scaler._request_log_partition(date) FROM PUBLIC;
