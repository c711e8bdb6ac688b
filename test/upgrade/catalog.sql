-- Every object of the scaler extension, one line each with what defines it,
-- sorted: a fresh install and an updated one must print the same.
\pset format unaligned
\pset tuples_only on
WITH members AS (
    SELECT d.classid, d.objid
    FROM pg_catalog.pg_depend d
    JOIN pg_catalog.pg_extension e ON d.refclassid = 'pg_catalog.pg_extension'::regclass
         AND d.refobjid = e.oid AND e.extname = 'scaler' AND d.deptype = 'e')
SELECT line FROM (
    -- functions and aggregates: the whole definition, owner-independent
    SELECT 'function ' || p.oid::regprocedure::text || ' ' ||
           CASE WHEN p.prokind = 'a' THEN
               (SELECT format('agg(%s,%s,%s,%s,%s,%s,%s)', a.aggtransfn, a.aggfinalfn, a.aggcombinefn,
                              a.aggtranstype::regtype, a.aggtransspace, a.aggfinalmodify, p.proparallel)
                FROM pg_catalog.pg_aggregate a WHERE a.aggfnoid = p.oid)
           ELSE pg_catalog.pg_get_functiondef(p.oid) END ||
           ' acl=' || coalesce(p.proacl::text, '-') ||
           ' comment=' || coalesce(pg_catalog.obj_description(p.oid, 'pg_proc'), '-') AS line
    FROM members m JOIN pg_catalog.pg_proc p ON m.classid = 'pg_catalog.pg_proc'::regclass AND p.oid = m.objid
    UNION ALL
    -- relations: kind, columns, constraints, indexes, view bodies, grants
    SELECT 'relation ' || c.oid::regclass::text || ' kind=' || c.relkind::text ||
           ' acl=' || coalesce(c.relacl::text, '-') ||
           ' comment=' || coalesce(pg_catalog.obj_description(c.oid, 'pg_class'), '-') ||
           ' columns=' || coalesce((SELECT string_agg(format('%s %s%s%s default %s comment %s', a.attname,
                                            pg_catalog.format_type(a.atttypid, a.atttypmod),
                                            CASE WHEN a.attnotnull THEN ' not null' ELSE '' END,
                                            CASE WHEN a.attidentity <> '' THEN ' identity ' || a.attidentity::text ELSE '' END,
                                            coalesce(pg_catalog.pg_get_expr(ad.adbin, ad.adrelid), '-'),
                                            coalesce(pg_catalog.col_description(c.oid, a.attnum), '-')), ', ' ORDER BY a.attnum)
                                    FROM pg_catalog.pg_attribute a
                                    LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                                    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '-') ||
           ' constraints=' || coalesce((SELECT string_agg(con.conname || ' ' || pg_catalog.pg_get_constraintdef(con.oid), ', ' ORDER BY con.conname)
                                        FROM pg_catalog.pg_constraint con WHERE con.conrelid = c.oid), '-') ||
           ' indexes=' || coalesce((SELECT string_agg(pg_catalog.pg_get_indexdef(i.indexrelid), ', ' ORDER BY 1)
                                    FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid), '-') ||
           ' triggers=' || coalesce((SELECT string_agg(pg_catalog.pg_get_triggerdef(t.oid), ', ' ORDER BY t.tgname)
                                     FROM pg_catalog.pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal), '-') ||
           ' policies=' || coalesce((SELECT string_agg(pol.polname || ' ' || coalesce(pg_catalog.pg_get_expr(pol.polqual, pol.polrelid), '-'), ', ' ORDER BY pol.polname)
                                     FROM pg_catalog.pg_policy pol WHERE pol.polrelid = c.oid), '-') ||
           ' rls=' || c.relrowsecurity::text ||
           ' view=' || coalesce(CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid) END, '-') ||
           ' options=' || coalesce(c.reloptions::text, '-')
    FROM members m JOIN pg_catalog.pg_class c ON m.classid = 'pg_catalog.pg_class'::regclass AND c.oid = m.objid
    UNION ALL
    SELECT 'type ' || t.oid::regtype::text || ' ' || t.typtype::text || ' ' || t.typstorage::text ||
           ' comment=' || coalesce(pg_catalog.obj_description(t.oid, 'pg_type'), '-')
    FROM members m JOIN pg_catalog.pg_type t ON m.classid = 'pg_catalog.pg_type'::regclass AND t.oid = m.objid
    UNION ALL
    -- event triggers: event, function, tags, whether they fire
    SELECT 'event trigger ' || et.evtname || ' on ' || et.evtevent || ' ' || et.evtfoid::regprocedure::text ||
           ' tags=' || coalesce(et.evttags::text, '-') || ' enabled=' || et.evtenabled::text ||
           ' comment=' || coalesce(pg_catalog.obj_description(et.oid, 'pg_event_trigger'), '-')
    FROM members m JOIN pg_catalog.pg_event_trigger et ON m.classid = 'pg_catalog.pg_event_trigger'::regclass AND et.oid = m.objid
    UNION ALL
    SELECT 'other ' || pg_catalog.pg_describe_object(m.classid, m.objid, 0)
    FROM members m
    WHERE m.classid NOT IN ('pg_catalog.pg_proc'::regclass, 'pg_catalog.pg_class'::regclass, 'pg_catalog.pg_type'::regclass,
                            'pg_catalog.pg_event_trigger'::regclass)
    UNION ALL
    SELECT 'schema ' || n.nspname || ' acl=' || coalesce(n.nspacl::text, '-') ||
           ' comment=' || coalesce(pg_catalog.obj_description(n.oid, 'pg_namespace'), '-')
    FROM pg_catalog.pg_namespace n WHERE n.nspname = 'scaler'
) lines
ORDER BY line;
