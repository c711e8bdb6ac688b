
-- A psql-friendly chart of hourly traffic: one row per hour, a bar drawn in
-- Unicode block characters (eighth-block resolution) scaled to the busiest
-- hour, the count and p95.  40 columns of bar keep a row within 80.
-- SQL-standard bodies are parsed once, here, so the caller's search_path
-- cannot change what they call.

CREATE FUNCTION scaler.chart_bar(value pg_catalog.float8, maximum pg_catalog.float8,
                                 width pg_catalog.int4 DEFAULT 40)
RETURNS pg_catalog.text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
BEGIN ATOMIC
    SELECT CASE WHEN maximum <= 0 OR value <= 0 OR width <= 0 THEN ''
           ELSE pg_catalog.repeat(U&'\2588', (eighths / 8)::pg_catalog.int4) ||
                (ARRAY['', U&'\258F', U&'\258E', U&'\258D', U&'\258C', U&'\258B', U&'\258A', U&'\2589'])
                    [(eighths % 8)::pg_catalog.int4 + 1]
           END
    FROM (SELECT pg_catalog.round(LEAST(value / maximum, 1.0::pg_catalog.float8) * width * 8)::pg_catalog.int8
                 AS eighths) e;
END;
COMMENT ON FUNCTION scaler.chart_bar(pg_catalog.float8, pg_catalog.float8, pg_catalog.int4) IS
    'a bar of Unicode block characters, width characters long at maximum, in eighths of a character';

CREATE FUNCTION scaler.hourly_chart(t scaler.traffic, width pg_catalog.int4 DEFAULT 40,
    OUT hour pg_catalog.text, OUT requests pg_catalog.int8, OUT p95_ms pg_catalog.numeric,
    OUT bar pg_catalog.text)
RETURNS SETOF record
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT pg_catalog.to_char(h.hour, 'Dy MM-DD HH24:MI'), h.requests,
           pg_catalog.round(h.p95_ms::pg_catalog.numeric, 1),
           scaler.chart_bar(h.requests, pg_catalog.max(h.requests) OVER (), width)
    FROM scaler.hourly_requests(t) h
    ORDER BY h.hour;
END;
COMMENT ON FUNCTION scaler.hourly_chart(scaler.traffic, pg_catalog.int4) IS
    'hourly_requests of a traffic value as a bar chart for psql: local hour, requests, p95, a bar scaled to the busiest hour';

CREATE FUNCTION scaler.hourly_chart(
    since pg_catalog.timestamptz DEFAULT pg_catalog.now() - '24 hours'::pg_catalog.interval,
    until pg_catalog.timestamptz DEFAULT pg_catalog.now(),
    function_name pg_catalog.text DEFAULT NULL,
    source pg_catalog.regclass DEFAULT 'scaler.request_log',
    width pg_catalog.int4 DEFAULT 40,
    OUT hour pg_catalog.text, OUT requests pg_catalog.int8, OUT p95_ms pg_catalog.numeric,
    OUT bar pg_catalog.text)
RETURNS SETOF record
LANGUAGE sql STABLE PARALLEL RESTRICTED
BEGIN ATOMIC
    SELECT pg_catalog.to_char(h.hour, 'Dy MM-DD HH24:MI'), h.requests,
           pg_catalog.round(h.p95_ms::pg_catalog.numeric, 1),
           scaler.chart_bar(h.requests, pg_catalog.max(h.requests) OVER (), width)
    FROM scaler.hourly_requests(since, until, function_name, source) h
    ORDER BY h.hour;
END;
COMMENT ON FUNCTION scaler.hourly_chart(pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.text, pg_catalog.regclass, pg_catalog.int4) IS
    'hourly_requests read from a source as a bar chart for psql (default: the last 24 hours of scaler.request_log)';
