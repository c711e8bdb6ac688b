-- Rollup tables, new in 0.2: one text for the install and the update from
-- 0.1 (which had none).
--
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
--
-- A rollup belongs to the table it was made for, not to an OID: its
-- capture triggers carry its id (scaler._rollup_current).  DROP TABLE of a
-- source forgets its rollup at once (the event trigger scaler_rollup_drop,
-- src/sql/60_event_triggers.sql, enabled ALWAYS).  Should it not have fired
-- (single-user mode, a superuser who disabled it), a refresh deletes a
-- rollup whose table is gone; the view leaves out, and the refresh leaves
-- unused, one whose table has no trigger carrying the id (another table
-- with that OID, or the source in the middle of a restore), and
-- create_rollup replaces it; readers never use it meanwhile, since such
-- a table has no capture triggers (creating one needs EXECUTE on
-- scaler._rollup_capture, which only scaler's own functions have).  So the
-- slots of a dropped table are never read for another that got its OID.
CREATE TABLE scaler.rollup (
    source       regclass PRIMARY KEY,
    owner        regrole NOT NULL,
    id           uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid() UNIQUE,
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
COMMENT ON COLUMN scaler.rollup.id IS 'the rollup''s identity, also the argument of its capture triggers: a table that merely got the OID of a dropped source has no trigger with it';
COMMENT ON COLUMN scaler.rollup.watermark IS 'rows with ts below it are in the slots (except invalidated ones); NULL before the first refresh';
COMMENT ON COLUMN scaler.rollup.covered_from IS 'slots before this UTC day were dropped by scaler.rollup_retention; NULL = none dropped';
COMMENT ON COLUMN scaler.rollup.created_at IS 'when the rollup was created';
COMMENT ON COLUMN scaler.rollup.last_refresh IS 'the end of the last successful refresh';
COMMENT ON COLUMN scaler.rollup.last_error IS 'the error of the last failed refresh by the worker; NULL after a success';
COMMENT ON COLUMN scaler.rollup.last_error_at IS 'when the last refresh failed';

-- Slots are keyed by a hash of the function name, not the name itself: a
-- B-tree entry holds at most about 2,700 bytes, and one row with a longer
-- name would stop the refresh (src/rollup.c, scaler_rollup_name_key).
CREATE FUNCTION scaler._rollup_name_key(function_name text) RETURNS bytea
    AS 'MODULE_PATHNAME', 'scaler_rollup_name_key'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION scaler._rollup_name_key(text) IS
    'internal: the key of a function name in the rollup tables'' unique indexes (SHA-256 of its bytes)';

CREATE TABLE scaler.rollup_slot (
    source        regclass NOT NULL,
    function_name text,
    day           date NOT NULL,
    traffic       scaler.traffic NOT NULL
);
CREATE UNIQUE INDEX rollup_slot_key ON scaler.rollup_slot
    (source, scaler._rollup_name_key(function_name), day) NULLS NOT DISTINCT;
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

-- Slots are read on every report of a range they cover and are written
-- once a day: stored uncompressed, so that a reader need not decompress
-- each one (pglz took a sixth of a 90-day read).
ALTER TABLE scaler.rollup_slot ALTER COLUMN traffic SET STORAGE EXTERNAL;
ALTER TABLE scaler.rollup_day ALTER COLUMN traffic SET STORAGE EXTERNAL;

CREATE TABLE scaler.rollup_invalid (
    source        regclass NOT NULL,
    function_name text,
    day           date NOT NULL,
    added         scaler.traffic,
    inserted      bigint NOT NULL DEFAULT 0,
    deleted       bigint NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX rollup_invalid_key ON scaler.rollup_invalid
    (source, scaler._rollup_name_key(function_name), day) NULLS NOT DISTINCT;
COMMENT ON TABLE scaler.rollup_invalid IS
    'slots whose rows changed below the watermark (late inserts, updates, deletes): readers read them raw until a refresh recomputes them';
COMMENT ON COLUMN scaler.rollup_invalid.source IS 'the source table';
COMMENT ON COLUMN scaler.rollup_invalid.function_name IS 'the changed rows'' function_name';
COMMENT ON COLUMN scaler.rollup_invalid.day IS 'the changed rows'' UTC day';
COMMENT ON COLUMN scaler.rollup_invalid.added IS 'traffic_agg of the rows inserted (by INSERT or UPDATE) since the slot was last refreshed; NULL if none';
COMMENT ON COLUMN scaler.rollup_invalid.inserted IS 'how many rows were inserted (by INSERT or UPDATE) since then';
COMMENT ON COLUMN scaler.rollup_invalid.deleted IS 'how many rows were deleted (by DELETE or UPDATE) since then';

-- The partitions of a partitioned source, at any depth, that the rollup
-- knows, and the tables detached from it (attached = false).  A partition
-- new to the source (CREATE TABLE ... PARTITION OF, ATTACH PARTITION) has
-- its rows below the watermark recorded once, when it comes; one known
-- already only gets back triggers it lost.  A detached table's rows stay in
-- the source's slots (detaching, like dropping, is how retention keeps
-- history), so when it is attached again it brings back rows the slots
-- already count: its slots are then recounted from the raw rows instead of
-- having its rows added a second time (_rollup_ensure_partition_triggers).
-- An entry goes when the table is dropped, or with its rollup.
CREATE TABLE scaler.rollup_partition (
    source   regclass NOT NULL,
    relid    regclass NOT NULL,
    attached boolean NOT NULL,
    PRIMARY KEY (source, relid)
);
COMMENT ON TABLE scaler.rollup_partition IS
    'the partitions of a rollup''s partitioned source the rollup knows, and the tables detached from it, whose rows its slots still count';
COMMENT ON COLUMN scaler.rollup_partition.source IS 'the source table';
COMMENT ON COLUMN scaler.rollup_partition.relid IS 'a partition of source, at any depth, or a table detached from it';
COMMENT ON COLUMN scaler.rollup_partition.attached IS 'false once DETACH PARTITION took the table out of source';

-- pg_dump keeps the rollups: the five tables are dumped from one snapshot
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
SELECT pg_catalog.pg_extension_config_dump('scaler.rollup_partition', '');
