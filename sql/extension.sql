-- The extension as a whole: every member object explains itself (so \dx+
-- and \df+ are useful), user data is kept by pg_dump, and nothing is
-- executable by PUBLIC through SECURITY DEFINER without a search_path.
SELECT pg_describe_object(d.classid, d.objid, 0) AS undocumented
FROM pg_depend d
WHERE d.refclassid = 'pg_extension'::regclass
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'scaler')
  AND d.deptype = 'e'
  AND d.classid IN ('pg_proc'::regclass, 'pg_class'::regclass, 'pg_type'::regclass)
  AND NOT (d.classid = 'pg_class'::regclass
           AND (SELECT relkind FROM pg_class WHERE oid = d.objid) IN ('i', 'S'))
  AND NOT (d.classid = 'pg_type'::regclass
           AND (SELECT typtype <> 'b' OR typarray = 0 FROM pg_type WHERE oid = d.objid))
  AND obj_description(d.objid, d.classid::regclass::name) IS NULL
ORDER BY 1;

-- tables whose rows belong to the user are dumped with them
SELECT c::regclass AS dumped_with_data
FROM pg_extension e, unnest(e.extconfig) c
WHERE e.extname = 'scaler' AND c::regclass::text IN ('scaler.request_log_default', 'scaler.decision')
ORDER BY c::regclass::text;

-- SECURITY DEFINER functions pin their search_path
SELECT p.oid::regprocedure AS definer_without_search_path
FROM pg_proc p
WHERE p.pronamespace = 'scaler'::regnamespace AND p.prosecdef
  AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%');
